package linkcheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

func isManifestHead(r *http.Request) bool {
	return r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/")
}

// A registry that sends the anonymous manifest request to another host,
// which answers 200: that answer does not prove the package is public on
// the registry. The redirect is not followed, and require-public fails
// saying why.
func TestRequirePublicRefusesAnOffHostRedirect(t *testing.T) {
	t.Parallel()
	// No auth: go-containerregistry takes no token realm on a loopback
	// host other than the registry's, and the front is another.
	reg, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	private := push(t, reg, "acme/private-widget", "1")

	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Docker-Content-Digest", private.DigestStr())
		w.Header().Set("Content-Length", "2")
	}))
	t.Cleanup(other.Close)
	back := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: reg.Host()})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isManifestHead(r) {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		back.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	frontHost := strings.TrimPrefix(front.URL, "http://")
	ref := mustDigest(t, frontHost+"/acme/private-widget@"+private.DigestStr())

	got, err := PullAnonymously(context.Background(), ref, PullOptions{})
	var off *OffHostError
	if !errors.As(err, &off) || got.Pullable {
		t.Fatalf("PullAnonymously redirected off the registry = %+v, %v; want an *OffHostError", got, err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host was asked %d times, want never", n)
	}
	var c Checker
	_, err = c.Visibility(context.Background(), ref.Context(), Result{}, Policy{RequirePublic: true, Digest: private.DigestStr()})
	if err == nil || !strings.Contains(err.Error(), "require-public: cannot tell") || !strings.Contains(err.Error(), "would not prove the package is public") {
		t.Errorf("Visibility(redirected off the registry) = %v, want require-public to say the redirect proves nothing", err)
	}
}

// The anonymous pull obeys the stall rule and the one retry policy of
// every registry request: a manifest request that stalls is given up
// after the stall clock and retried by the Retrier alone, within its
// budget — not again by go-containerregistry's own retries.
func TestPullAnonymouslyStalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		hangs     int
		budget    time.Duration
		wantHeads int
		pullable  bool
	}{
		{"one stall, retried", 1, time.Minute, 2, true},
		// A budget spent at the first stall: one request, and the stall.
		{"stalls past the budget", 1 << 20, time.Millisecond, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, err := registrytest.Start(registrytest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { reg.Close() })
			published := push(t, reg, "acme/widget", "1")
			proxy := registrytest.NewFaultProxy(reg.Host(), registrytest.First(tt.hangs, registrytest.Hang, isManifestHead))
			t.Cleanup(proxy.Close)
			ref := mustDigest(t, proxy.Host()+"/acme/widget@"+published.DigestStr())
			var mu sync.Mutex
			var log []string
			retry := registryhttp.New(registryhttp.Policy{Base: time.Millisecond, Budget: tt.budget, Seed: 1, Logf: func(f string, a ...any) {
				mu.Lock()
				defer mu.Unlock()
				log = append(log, fmt.Sprintf(f, a...))
			}})
			opts := PullOptions{Transport: registryhttp.Stalls(http.DefaultTransport, 100*time.Millisecond), Retry: retry}
			got, err := PullAnonymously(context.Background(), ref, opts)
			heads := 0
			for _, e := range proxy.Events() {
				if e.Method == http.MethodHead && strings.Contains(e.Path, "/manifests/") {
					heads++
				}
			}
			if diff := cmp.Diff([]any{tt.wantHeads, tt.pullable}, []any{heads, got.Pullable}); diff != "" {
				t.Errorf("manifest requests, pullable (-want +got):\n%s\nerr %v; log:\n%s", diff, err, strings.Join(log, "\n"))
			}
			if !tt.pullable && !errors.Is(err, registryhttp.ErrStalled) {
				t.Errorf("PullAnonymously = %v, want the stall", err)
			}
		})
	}
}

// The Packages API's visibility is its data: a value it did not document
// (newlines, workflow commands, markdown) is not repeated in the notes or
// errors, which reach the log and the summary; Result.Visibility keeps it
// for report to escape.
func TestVisibilityValueIsNotRepeated(t *testing.T) {
	t.Parallel()
	const hostile = "private\n::set-output name=digest::sha256:evil\n![t](https://evil.test/t.png) **bold**"
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{password}, Public: []string{"acme/open"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	open := push(t, reg, "acme/open", "1")
	closed := push(t, reg, "acme/closed", "1")
	var c Checker
	res, err := c.Visibility(context.Background(), open.Context(), Result{Visibility: hostile}, Policy{RequirePublic: true, Digest: open.DigestStr()})
	if err != nil || len(res.Notes) != 1 || res.Visibility != hostile {
		t.Fatalf("Visibility(open, API says %q) = %+v, %v; want one note and the value kept", hostile, res, err)
	}
	_, err = c.Visibility(context.Background(), closed.Context(), Result{Visibility: hostile}, Policy{RequirePublic: true, Digest: closed.DigestStr()})
	if err == nil {
		t.Fatal("Visibility(closed) = nil error, want require-public's")
	}
	for _, text := range []string{res.Notes[0], err.Error()} {
		for _, raw := range []string{"\n", "::set-output", "![t]", "**"} {
			if strings.Contains(text, raw) {
				t.Errorf("%q repeats the API's value (%q)", text, raw)
			}
		}
		if !strings.Contains(text, "of a visibility the action does not know") {
			t.Errorf("%q does not say the visibility is unknown", text)
		}
	}
	for _, v := range []string{Public, Private, Internal} {
		if got := known(v); got != v {
			t.Errorf("known(%q) = %q, want it as is", v, got)
		}
	}
}

func mustDigest(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
