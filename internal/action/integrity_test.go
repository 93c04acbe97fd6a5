package action

import (
	"archive/tar"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// flipByte alters one byte of a file, keeping its size.
func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func blobPath(dir string, h v1.Hash) string {
	return filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
}

func TestCorruptSourcesAreRefused(t *testing.T) {
	t.Parallel()
	img, err := sample.Image(sample.Options{Seed: "corrupt", LayerSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	digest, _ := img.Digest()
	tests := []struct {
		name    string
		blob    v1.Hash                        // the blob altered
		corrupt func(t *testing.T, dir string) // alters the layout at dir
	}{
		// Sent from its file (sendfile): the registry's digest check
		// catches it.
		{"layer", m.Layers[1].Digest, func(t *testing.T, dir string) { flipByte(t, blobPath(dir, m.Layers[1].Digest), m.Layers[1].Size/2) }},
		{"config", m.Config.Digest, func(t *testing.T, dir string) { flipByte(t, blobPath(dir, m.Config.Digest), 5) }},
		{"manifest", digest, func(t *testing.T, dir string) { flipByte(t, blobPath(dir, digest), 3) }},
		{"layer grown", m.Layers[0].Digest, func(t *testing.T, dir string) {
			f, err := os.OpenFile(blobPath(dir, m.Layers[0].Digest), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("trailing"))
			f.Close()
		}},
	}
	for _, tt := range tests {
		for _, archive := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: " in a layout", true: " in an archive"}[archive], func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, registrytest.Options{})
				dir := filepath.Join(f.ws, "bad")
				if err := sample.WriteLayout(dir, img, ""); err != nil {
					t.Fatal(err)
				}
				tt.corrupt(t, dir)
				src := "oci:bad"
				if archive {
					tarLayout(t, dir, filepath.Join(f.ws, "bad.tar"))
					src = "oci-archive:bad.tar"
				}
				r := f.run(t, map[string]string{"INPUT_SOURCE": src, "INPUT_TAGS": "bad"})
				if r.err == nil || !strings.Contains(r.err.Error(), "corrupt or was altered") || !strings.Contains(r.err.Error(), tt.blob.String()) {
					t.Fatalf("Run() = %v, want a digest mismatch naming %s", r.err, tt.blob)
				}
				t.Logf("refused: %v", r.err)
				assertNoTags(t, f.reg.Host()+"/acme/widget")
				for _, w := range f.writes() {
					if strings.Contains(w.Path, "/manifests/") {
						t.Errorf("a manifest was written: %s %s", w.Method, w.Path)
					}
				}
			})
		}
	}
}

func TestCorruptDockerArchiveIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	img, err := sample.Image(sample.Options{Seed: "docker-corrupt", Docker: true})
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(f.ws, "good.tar")
	tag, _ := name.NewTag("widget:1")
	if err := tarball.WriteToFile(good, tag, img); err != nil {
		t.Fatal(err)
	}
	// Rewrite the archive with one layer's content altered, keeping the
	// config's diff IDs: what a truncated or tampered download looks like.
	bad := filepath.Join(f.ws, "bad.tar")
	rewriteTar(t, good, bad, func(name string, data []byte) []byte {
		if strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tar") {
			data = append([]byte(nil), data...)
			data[len(data)/2] ^= 0xff
		}
		return data
	})
	r := f.run(t, map[string]string{"INPUT_SOURCE": "docker-archive:bad.tar", "INPUT_TAGS": "bad"})
	if r.err == nil || !strings.HasPrefix(r.err.Error(), "source: ") {
		t.Fatalf("Run() = %v, want a source error", r.err)
	}
	// The push-access probe runs while an archive unpacks: it starts and
	// cancels one upload. Nothing else may reach the registry.
	for _, w := range f.writes() {
		if w.Method != http.MethodPost && w.Method != http.MethodDelete {
			t.Errorf("a corrupt archive led to a registry write: %+v", w)
		}
	}
	if r := f.run(t, map[string]string{"INPUT_SOURCE": "docker-archive:good.tar", "INPUT_TAGS": "good"}); r.err != nil {
		t.Errorf("the intact archive: %v", r.err)
	}
}

// tarLayout packs a layout directory as an OCI archive.
func tarLayout(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// rewriteTar copies a tar archive, passing every file through edit.
func rewriteTar(t *testing.T, in, out string, edit func(name string, data []byte) []byte) {
	t.Helper()
	src, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	tr, tw := tar.NewReader(src), tar.NewWriter(dst)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		data = edit(hdr.Name, data)
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
