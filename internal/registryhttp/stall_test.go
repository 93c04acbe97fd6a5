package registryhttp_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// TestStalls: a registry that sends headers, or part of a body, and then
// stops, and one that is slow but never still for long. The outcome is
// asserted, not the time it takes: the clock here is short only so the
// test ends soon, and the moving response's gaps are a tenth of it.
func TestStalls(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/no-headers":
		case "/headers-then-nothing":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		case "/some-body-then-nothing":
			w.Write([]byte(strings.Repeat("x", 1024)))
			w.(http.Flusher).Flush()
		case "/slow-but-moving":
			// Longer in all than the stall clock, each gap a tenth of it.
			for range 15 {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond)
			}
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: registryhttp.Stalls(http.DefaultTransport, time.Second)}
	for _, path := range []string{"/no-headers", "/headers-then-nothing", "/some-body-then-nothing"} {
		resp, err := client.Get(srv.URL + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		var stall *registryhttp.StallError
		var ne net.Error
		if !errors.As(err, &stall) || !errors.Is(err, registryhttp.ErrStalled) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("GET %s = %v; want a *registryhttp.StallError, ErrStalled and a timeout", path, err)
		}
	}
	resp, err := client.Get(srv.URL + "/slow-but-moving")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != strings.Repeat("x", 15) {
		t.Errorf("slow but moving: %q, %v; want the whole body", body, err)
	}
}

// A blob sent from its file reaches the transport below as the file's
// body, not wrapped in a reader: net/http can only hand a body to the
// kernel (sendfile) when it sees the file's descriptor.
func TestStallsPassFileBodiesThrough(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, []byte("layer bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	body := fileBody{f}
	var got io.Reader
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		got = req.Body
		return &http.Response{StatusCode: http.StatusCreated, Body: http.NoBody, Request: req}, nil
	})
	req, err := http.NewRequest(http.MethodPut, "http://registry.test/v2/x/blobs/uploads/1", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := registryhttp.Stalls(base, 0).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := got.(syscall.Conn); !ok {
		t.Errorf("the transport below got a %T, which hides the file's descriptor", got)
	}
}

// fileBody is a file as the push sends one.
type fileBody struct{ f *os.File }

func (b fileBody) Read(p []byte) (int, error)                   { return b.f.Read(p) }
func (b fileBody) Close() error                                 { return b.f.Close() }
func (b fileBody) Seek(offset int64, whence int) (int64, error) { return b.f.Seek(offset, whence) }
func (b fileBody) SyscallConn() (syscall.RawConn, error)        { return b.f.SyscallConn() }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
