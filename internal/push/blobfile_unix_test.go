//go:build unix

package push

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// TestAllRefusesHostileBlobFile: a layout's layer blob swapped, after the
// source loaded, for something that is not a regular file inside the
// layout is refused by the sendfile push, the error naming the file; a
// named pipe does not block it, and nothing outside the layout is sent.
func TestAllRefusesHostileBlobFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		make func(t *testing.T, path, outside string)
		want string
		// wholeDir: the blob's directory is the stand-in, so the first
		// blob read from it (the config) is the one refused.
		wholeDir bool
	}{
		{"named pipe", func(t *testing.T, p, _ string) { mustDo(t, os.Remove(p)); mustDo(t, syscall.Mkfifo(p, 0o644)) }, "is not a regular file but a named pipe", false},
		{"link out of the layout", func(t *testing.T, p, outside string) {
			mustDo(t, os.Rename(p, filepath.Join(outside, "blob")))
			mustDo(t, os.Symlink(filepath.Join(outside, "blob"), p))
		}, "is not a regular file but a symbolic link", false},
		{"directory", func(t *testing.T, p, _ string) { mustDo(t, os.Remove(p)); mustDo(t, os.Mkdir(p, 0o755)) }, "is not a regular file but a directory", false},
		{"device", func(t *testing.T, p, _ string) {
			mustDo(t, os.Remove(p))
			if err := syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
				t.Skipf("mknod: %v (making a device needs CAP_MKNOD)", err)
			}
		}, "is not a regular file but a device", false},
		{"blobs/ a link out of the layout", func(t *testing.T, p, outside string) {
			moved := filepath.Join(outside, "sha256")
			mustDo(t, os.Rename(filepath.Dir(p), moved))
			mustDo(t, os.Symlink(moved, filepath.Dir(p)))
		}, "cannot be opened within the layout", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, opts := startRegistry(t)
			l, blob := loadLayout(t, context.Background())
			tc.make(t, blob, t.TempDir())
			repo, _ := name.NewRepository(reg.Host() + "/acme/hostile")
			_, err := All(t.Context(), l.Image, repo, []name.Tag{repo.Tag("1")}, opts)
			named := blob
			if tc.wholeDir {
				named = filepath.Dir(blob)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), named) {
				t.Errorf("All() = %v, want an error naming %s and saying %q", err, named, tc.want)
			}
			if c := tally(reg.Requests()); c.manifestPuts != 0 {
				t.Errorf("%d manifests were written, want none", c.manifestPuts)
			}
		})
	}
}

// TestAllCancelled: a push whose context is done sends nothing and says
// why.
func TestAllCancelled(t *testing.T) {
	t.Parallel()
	reg, opts := startRegistry(t)
	l, _ := loadLayout(t, context.Background())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	repo, _ := name.NewRepository(reg.Host() + "/acme/cancelled")
	_, err := All(ctx, l.Image, repo, []name.Tag{repo.Tag("1")}, opts)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("All() with its context done = %v, want context.Canceled", err)
	}
	if c := tally(reg.Requests()); c.blobBytes != 0 || c.manifestPuts != 0 {
		t.Errorf("a cancelled push sent %d blob bodies and %d manifests, want none", c.blobBytes, c.manifestPuts)
	}
}

// loadLayout writes a layout of one sample image, loads it as the source
// step does, and returns it with the file of its largest layer.
func loadLayout(t *testing.T, ctx context.Context) (*source.Loaded, string) {
	t.Helper()
	img, err := sample.Image(sample.Options{Seed: "hostile", Layers: 1, LayerSize: 64 << 10})
	mustDo(t, err)
	dir := filepath.Join(t.TempDir(), "out")
	p, err := layout.Write(dir, empty.Index)
	mustDo(t, err)
	mustDo(t, p.AppendImage(img))
	l, err := source.Load(ctx, &inputs.Source{Transport: inputs.OCILayout, Path: dir}, source.Options{})
	mustDo(t, err)
	t.Cleanup(func() { l.Close() })
	ls, err := img.Layers()
	mustDo(t, err)
	d, err := ls[0].Digest()
	mustDo(t, err)
	return l, filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
}
