//go:build unix

package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// Hostile stand-ins for a layer blob of a layout: each must be refused
// with an error that names the file, without blocking (a named pipe with
// no writer blocks open(2) for good unless opened O_NONBLOCK) and without
// reading anything outside the layout.
var hostileBlobs = []struct {
	name string
	// make puts the stand-in at path, the blob's file; outside is a
	// directory outside the layout holding a copy of the blob (blob).
	make func(t *testing.T, path, outside string, blob []byte)
	want string
	// wholeDir: the stand-in is the blob's directory, so the first blob
	// read from it (the manifest) is the one refused.
	wholeDir bool
}{
	{"named pipe", func(t *testing.T, p, _ string, _ []byte) { mustDo(t, mkfifo(p)) }, "is not a regular file but a named pipe", false},
	{"link out of the layout", func(t *testing.T, p, outside string, blob []byte) {
		target := filepath.Join(outside, "blob")
		mustDo(t, os.WriteFile(target, blob, 0o644))
		mustDo(t, os.Symlink(target, p))
	}, "is not a regular file but a symbolic link", false},
	{"directory", func(t *testing.T, p, _ string, _ []byte) { mustDo(t, os.Mkdir(p, 0o755)) }, "is not a regular file but a directory", false},
	{"device", func(t *testing.T, p, _ string, _ []byte) {
		// /dev/null's numbers (1, 3); making a device needs CAP_MKNOD.
		if err := syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
			t.Skipf("mknod: %v (making a device needs CAP_MKNOD)", err)
		}
	}, "is not a regular file but a device", false},
	{"blobs/ a link out of the layout", func(t *testing.T, p, outside string, blob []byte) {
		// blobs/sha256 moved out whole, the layout's own blobs with it,
		// and a link left in its place.
		dir := filepath.Dir(p)
		moved := filepath.Join(outside, "sha256")
		mustDo(t, os.Rename(dir, moved))
		mustDo(t, os.Symlink(moved, dir))
	}, "cannot be opened within the layout", true},
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoadLayoutHostileLayerBlob: a layer blob that is not a regular file
// inside the layout is refused while the source loads, the error naming
// the blob's file.
func TestLoadLayoutHostileLayerBlob(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileBlobs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "out")
			path, blob := layoutWithLayer(t, dir)
			tc.make(t, path, t.TempDir(), blob)
			_, err := load(t, &inputs.Source{Transport: inputs.OCILayout, Path: dir}, source.Options{})
			named := path
			if tc.wholeDir {
				named = filepath.Dir(path)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), named) {
				t.Errorf("Load() = %v, want an error naming %s and saying %q", err, named, tc.want)
			}
		})
	}
}

// layoutWithLayer writes a layout of one image into dir, and returns the
// file of its first layer and the layer's blob, with the manifest and
// config read already.
func layoutWithLayer(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	writeLayout(t, dir, []entry{{}})
	img := onlyImage(t, dir)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
	blob, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	return path, blob
}

func onlyImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := ii.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestLoadLayoutHostileLayerBlobAfterLoad: a layer blob swapped for a
// stand-in after the source loaded is refused when it is read, as a stream
// and as the file an upload sends (OpenBlobFile), never blocking.
func TestLoadLayoutHostileLayerBlobAfterLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileBlobs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "out")
			path, blob := layoutWithLayer(t, dir)
			mustDo(t, os.WriteFile(path, blob, 0o644))
			l, err := load(t, &inputs.Source{Transport: inputs.OCILayout, Path: dir}, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			mustDo(t, os.Remove(path))
			tc.make(t, path, t.TempDir(), blob)
			ls, err := l.Image.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ls[0].Compressed(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compressed() = %v, want an error saying %q", err, tc.want)
			}
			bf, ok := ls[0].(interface{ OpenBlobFile() (*os.File, error) })
			if !ok {
				t.Fatal("a layout's layer offers no file to send")
			}
			if f, err := bf.OpenBlobFile(); err == nil || !strings.Contains(err.Error(), tc.want) {
				f.Close()
				t.Errorf("OpenBlobFile() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestLoadArchiveNotRegular: an archive that is a named pipe or a link is
// refused at once, naming it.
func TestLoadArchiveNotRegular(t *testing.T) {
	t.Parallel()
	for _, transport := range []inputs.Transport{inputs.OCIArchive, inputs.DockerArchive} {
		for _, tc := range hostileBlobs[:2] {
			t.Run(string(transport)+" "+tc.name, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "image.tar")
				tc.make(t, path, t.TempDir(), []byte("not a tar"))
				_, err := load(t, &inputs.Source{Transport: transport, Path: path}, source.Options{TempDir: t.TempDir()})
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
					t.Errorf("Load() = %v, want an error naming %s and saying %q", err, path, tc.want)
				}
			})
		}
	}
}

// TestLoadCancelled: a load whose context is done stops reading layers
// (the reads of a docker archive's layers, which hash or compress them,
// and the copies out of an OCI archive), and says why.
func TestLoadCancelled(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	writeLayout(t, dir, []entry{{}})
	ociArchive := filepath.Join(t.TempDir(), "oci.tar")
	tarDir(t, dir, ociArchive, "")
	dockerArchive := filepath.Join(t.TempDir(), "docker.tar")
	tag, err := name.NewTag("acme/widget:1")
	mustDo(t, err)
	mustDo(t, tarball.WriteToFile(dockerArchive, tag, randomImage(t)))
	for _, src := range []*inputs.Source{
		{Transport: inputs.OCIArchive, Path: ociArchive},
		{Transport: inputs.DockerArchive, Path: dockerArchive},
	} {
		t.Run(string(src.Transport), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			l, err := source.Load(ctx, src, source.Options{TempDir: t.TempDir()})
			if err == nil {
				l.Close()
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Load() with its context done = %v, want context.Canceled", err)
			}
		})
	}
}
