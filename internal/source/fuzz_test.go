package source_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// FuzzDockerArchive feeds mutated docker save archives (seeded with the
// recorded exports) to the reader: it must fail with an error or read an
// image whose every blob checks out, never panic, and leave nothing behind.
func FuzzDockerArchive(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "exports", "*.tar"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, archive []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "image.tar")
		if err := os.WriteFile(path, archive, 0o644); err != nil {
			t.Fatal(err)
		}
		tmp := t.TempDir()
		l, err := source.Load(context.Background(), &inputs.Source{Transport: inputs.DockerArchive, Path: path}, source.Options{TempDir: tmp})
		if err != nil {
			checkEmpty(t, tmp)
			return
		}
		// What loads must read back whole: blobs match their digests.
		if l.Image != nil {
			if _, err := l.Image.RawConfigFile(); err != nil {
				t.Errorf("loaded image without its config: %v", err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		checkEmpty(t, tmp)
	})
}
