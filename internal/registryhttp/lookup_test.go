package registryhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

func TestLookupGivesUp(t *testing.T) {
	t.Parallel()
	var unavailable atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		unavailable.Add(1)
		http.Error(w, `{"errors":[{"code":"UNAVAILABLE"}]}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	hole, accepted := registrytest.Silent(t)

	tests := []struct {
		name string
		url  string
		// bound is the lookup's time: long where the attempts must end
		// it, short where only time can.
		bound     time.Duration
		status    int
		abandoned bool
	}{
		{"503 forever", down.URL + "/v2/", time.Hour, http.StatusServiceUnavailable, false},
		{"no answer", "http://" + hole + "/v2/", 50 * time.Millisecond, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := registryhttp.New(registryhttp.Policy{Base: time.Millisecond, Max: time.Millisecond, Lookup: tt.bound, Seed: 1})
			ctx, cancel := r.Lookup(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := r.Transport(http.DefaultTransport).RoundTrip(req)
			status := 0
			if err == nil {
				status = resp.StatusCode
				resp.Body.Close()
			}
			if status != tt.status {
				t.Errorf("RoundTrip() = %d, %v; want status %d", status, err, tt.status)
			}
			bound, abandoned := registryhttp.Abandoned(ctx)
			if abandoned != tt.abandoned || (abandoned && bound != tt.bound) {
				t.Errorf("Abandoned() = %v, %v; want %v, %v", bound, abandoned, tt.bound, tt.abandoned)
			}
			var lerr *registryhttp.LookupError
			if tt.abandoned && !errors.As(err, &lerr) {
				t.Errorf("RoundTrip() error = %v, want the lookup's bound", err)
			}
		})
	}
	t.Cleanup(func() {
		// Each request is sent registryhttp.LookupAttempts times, not for the budget.
		if n := unavailable.Load(); n != registryhttp.LookupAttempts {
			t.Errorf("the 503 registry got %d requests, want %d", n, registryhttp.LookupAttempts)
		}
		// Given up on while the registry still held the connection: one
		// try, the bound spent waiting on it.
		if n := accepted(); n != 1 {
			t.Errorf("the silent registry accepted %d connections, want 1", n)
		}
	})
}

// TestWithoutLookupRetriesOn is the control: the same 503 outside a
// lookup is retried past registryhttp.LookupAttempts (the caller stops it here).
func TestWithoutLookupRetriesOn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) > registryhttp.LookupAttempts {
			cancel()
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	r := registryhttp.New(registryhttp.Policy{Base: time.Millisecond, Max: time.Millisecond, Seed: 1})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, down.URL+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := r.Transport(http.DefaultTransport).RoundTrip(req); err == nil {
		resp.Body.Close()
	}
	if got := n.Load(); got <= registryhttp.LookupAttempts {
		t.Errorf("outside a lookup the registry got %d requests, want more than %d", got, registryhttp.LookupAttempts)
	}
}
