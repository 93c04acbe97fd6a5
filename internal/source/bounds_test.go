package source_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
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

// TestLoadRegistryManifestBound: a registry whose manifest answer is larger
// than any registry accepts is cut off at MaxDocument, whether it says its
// length or not: the client stops reading there (go-containerregistry alone
// reads up to 100 MiB), so the server gets rid of far less than it tried to
// send. The bound on what it sent leaves room for the sockets' buffers.
func TestLoadRegistryManifestBound(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte(" "), 32<<20)
	for _, chunked := range []bool{false, true} {
		var manifestBytes atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				return
			}
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			if !chunked {
				w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			}
			if r.Method == http.MethodHead {
				return
			}
			for i := 0; i < len(big); i += 64 << 10 {
				n, err := w.Write(big[i:min(i+64<<10, len(big))])
				manifestBytes.Add(int64(n))
				if err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}))
		t.Cleanup(srv.Close)
		ref := mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/acme/widget:1")
		sessions := registrytest.NewSessions(registrytest.SessionOptions{Transport: source.BoundManifests(nil)})
		_, err := load(t, &inputs.Source{Transport: inputs.Registry, Reference: ref, Line: ref.String()}, source.Options{Sessions: sessions})
		if err == nil || !strings.Contains(err.Error(), "more than the 4194304") {
			t.Errorf("chunked %v: Load() = %v, want the manifest refused as too large", chunked, err)
		}
		srv.CloseClientConnections()
		srv.Close()
		t.Logf("chunked %v: the registry got %d of %d manifest bytes out before the client stopped", chunked, manifestBytes.Load(), len(big))
		if n := manifestBytes.Load(); n >= 24<<20 {
			t.Errorf("chunked %v: the registry sent %d bytes of a manifest; want the client to stop near %d", chunked, n, source.MaxDocument)
		}
	}
}
