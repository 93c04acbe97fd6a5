package source_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// TestLoadLayoutBounds: documents read into memory are checked for size
// before they are read; a hostile layout cannot make the action read
// /dev/zero or a file of many MiB.
func TestLoadLayoutBounds(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte(" "), source.MaxDocument+1)
	tests := []struct {
		name   string
		mangle func(t *testing.T, dir string, d v1.Hash)
		want   string
	}{
		{"index.json is /dev/zero", func(t *testing.T, dir string, _ v1.Hash) {
			replace(t, filepath.Join(dir, "index.json"), func(p string) error { return os.Symlink("/dev/zero", p) })
		}, "index.json is not a regular file"},
		{"index.json is huge", func(t *testing.T, dir string, _ v1.Hash) {
			replace(t, filepath.Join(dir, "index.json"), func(p string) error { return os.WriteFile(p, big, 0o644) })
		}, "index.json is 4194305 bytes, more than the 4194304"},
		{"manifest is huge", func(t *testing.T, dir string, d v1.Hash) {
			replace(t, filepath.Join(dir, "blobs", d.Algorithm, d.Hex), func(p string) error { return os.WriteFile(p, big, 0o644) })
		}, "manifest " + "sha256:"},
		{"manifest is a FIFO", func(t *testing.T, dir string, d v1.Hash) {
			replace(t, filepath.Join(dir, "blobs", d.Algorithm, d.Hex), func(p string) error { return mkfifo(p) })
		}, "is not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "out")
			digests := writeLayout(t, dir, []entry{{}})
			tc.mangle(t, dir, digests[0])
			_, err := load(t, &inputs.Source{Transport: inputs.OCILayout, Path: dir}, source.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("Load() = %v, want an error naming %s and saying %q", err, dir, tc.want)
			}
		})
	}
}

func replace(t *testing.T, path string, make func(string) error) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := make(path); err != nil {
		t.Fatal(err)
	}
}
