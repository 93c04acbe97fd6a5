package credentials_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ghcr-publish/publish-action/internal/credentials"
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
	client := &http.Client{Transport: credentials.Stalls(http.DefaultTransport, time.Second)}
	for _, path := range []string{"/no-headers", "/headers-then-nothing", "/some-body-then-nothing"} {
		resp, err := client.Get(srv.URL + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		var stall *credentials.StallError
		var ne net.Error
		if !errors.As(err, &stall) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("GET %s = %v; want a *credentials.StallError that is a timeout", path, err)
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
