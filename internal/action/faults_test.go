package action

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// fastRetries keeps retried tests short; the policy is the same.
var fastRetries = remote.Backoff{Duration: 20 * time.Millisecond, Factor: 2, Steps: 5}

// faultyPublish publishes the fixture's image through a fault proxy in front
// of an anonymous registry (so: not GitHub's, no credentials involved).
func faultyPublish(t *testing.T, schedule registrytest.Schedule, tag string) (result, *registrytest.FaultProxy, *fixture) {
	t.Helper()
	f := newFixture(t, registrytest.Options{})
	reg, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	proxy := registrytest.NewFaultProxy(reg.Host(), schedule)
	t.Cleanup(proxy.Close)
	img, err := sample.Image(sample.Options{Seed: "faults", Layers: 4, LayerSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.WriteLayout(f.ws+"/big", img, ""); err != nil {
		t.Fatal(err)
	}
	opts := f.options()
	opts.RegistryBackoff = fastRetries
	r := runAction(t, f.env(map[string]string{"INPUT_SOURCE": "oci:big", "INPUT_IMAGE": proxy.Host() + "/acme/widget", "INPUT_TAGS": tag}), opts)
	assertNoSecret(t, r)
	return r, proxy, f
}

func TestFaultsAreSurvived(t *testing.T) {
	t.Parallel()
	clean, _, _ := faultyPublish(t, nil, "v1")
	if clean.err != nil {
		t.Fatalf("clean Run() = %v", clean.err)
	}
	kinds := []registrytest.Fault{registrytest.Unavailable, registrytest.RateLimited, registrytest.Reset, registrytest.Slow}
	tests := map[string]registrytest.Schedule{
		// Every third request fails in turn, up to 12 faults.
		"mixed": func(n int, r *http.Request) registrytest.Fault {
			if n%3 != 0 || n/3 > 12 {
				return ""
			}
			return kinds[(n/3)%len(kinds)]
		},
		// The first and third blob uploads drop mid-body.
		"resets mid-upload": func() registrytest.Schedule {
			uploads := 0
			return func(n int, r *http.Request) registrytest.Fault {
				if r.Method != http.MethodPatch {
					return ""
				}
				uploads++
				if uploads == 1 || uploads == 3 {
					return registrytest.Reset
				}
				return ""
			}
		}(),
		// The first manifest write is rate limited.
		"rate limited": func() registrytest.Schedule {
			done := false
			return func(n int, r *http.Request) registrytest.Fault {
				if done || r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
					return ""
				}
				done = true
				return registrytest.RateLimited
			}
		}(),
	}
	for name, schedule := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, proxy, _ := faultyPublish(t, schedule, "v1")
			injected := proxy.Injected()
			total := 0
			for _, n := range injected {
				total += n
			}
			if r.err != nil {
				t.Fatalf("Run() after %d faults %v = %v", total, injected, r.err)
			}
			if total == 0 {
				t.Fatal("no fault was injected: the schedule matched nothing")
			}
			if r.outputs["digest"] != clean.outputs["digest"] {
				t.Errorf("digest after faults = %s, clean run = %s", r.outputs["digest"], clean.outputs["digest"])
			}
			t.Logf("faults injected and survived: %d %v; digest %s equals the clean run's", total, injected, r.outputs["digest"])
			readBack(t, proxy.Host()+"/acme/widget:v1")

			if injected[registrytest.RateLimited] > 0 {
				// Retry-After: 1 holds the retry back about a second.
				ev := proxy.Events()
				for i, e := range ev {
					// Upload starts share one path across layers, so the next
					// request there need not be the retry.
					if e.Fault != registrytest.RateLimited || strings.HasSuffix(e.Path, "/blobs/uploads/") {
						continue
					}
					for _, next := range ev[i+1:] {
						if next.Path == e.Path && next.Method == e.Method {
							if gap := next.At.Sub(e.At); gap < 900*time.Millisecond {
								t.Errorf("retried %s %s %s after a 429 with Retry-After: 1", e.Method, e.Path, gap)
							}
							break
						}
					}
				}
			}
		})
	}
}

func TestPersistentFaultFailsCleanly(t *testing.T) {
	t.Parallel()
	for name, methods := range map[string][]string{
		"upload start refused (the probe sees it)": {http.MethodPost},
		"upload body refused (the push sees it)":   {http.MethodPatch},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r, proxy, _ := faultyPublish(t, func(n int, r *http.Request) registrytest.Fault {
				for _, m := range methods {
					if r.Method == m {
						return registrytest.Unavailable
					}
				}
				return ""
			}, "never")
			if r.err == nil || !strings.Contains(r.err.Error(), "UNAVAILABLE") || strings.Contains(r.err.Error(), "\n") {
				t.Fatalf("Run() = %v, want one line about the 503", r.err)
			}
			if elapsed := time.Since(start); elapsed > 20*time.Second {
				t.Errorf("gave up after %s, want bounded retries", elapsed)
			}
			t.Logf("persistent 503: %v injected, gave up after %s", proxy.Injected(), time.Since(start).Round(time.Millisecond))
			for _, e := range proxy.Events() {
				if e.Method == http.MethodPut && strings.Contains(e.Path, "/manifests/") {
					t.Errorf("a manifest was written: %s", e.Path)
				}
			}
		})
	}
}
