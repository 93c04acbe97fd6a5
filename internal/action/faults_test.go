package action

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fastRetries is the production policy with short waits and a budget no
// fault schedule here comes near, so that whether a publish converges
// never depends on timing; seeded, so the jitter replays.
var fastRetries = registryhttp.Policy{Base: 2 * time.Millisecond, Max: 50 * time.Millisecond, Budget: 2 * time.Minute, Seed: 1}

// faultyPublish publishes the fixture's image through a fault proxy in front
// of an anonymous registry (so: not GitHub's, no credentials involved).
func faultyPublish(t *testing.T, schedule registrytest.Schedule, tag string, policy registryhttp.Policy) (result, *registrytest.FaultProxy, *fixture) {
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
	opts.RegistryRetry = policy
	r := runAction(t, f.env(map[string]string{"INPUT_SOURCE": "oci:big", "INPUT_IMAGE": proxy.Host() + "/acme/widget", "INPUT_TAGS": tag}), opts)
	assertNoSecret(t, r)
	return r, proxy, f
}

func isMethod(m string) func(r *http.Request) bool {
	return func(r *http.Request) bool { return r.Method == m }
}

// isPushWrite matches blob bodies and manifests: writes of the push
// itself, after the probe.
func isPushWrite(r *http.Request) bool {
	return isBlobBody(r) || isManifestPut(r)
}

// isBlobBody matches requests that carry blob content: the PUT that sends
// a whole blob, and the PATCH that resumes one.
func isBlobBody(r *http.Request) bool {
	return (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 0
}

func isManifestPut(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
}

// Every fault class on its own. Each schedule injects a fixed number of
// faults into the requests it matches, whatever order they arrive in, and
// every request is retried on its own: the outcome is the clean digest,
// whatever the order.
func TestFaultsAreSurvived(t *testing.T) {
	t.Parallel()
	clean, _, _ := faultyPublish(t, nil, "v1", fastRetries)
	if clean.err != nil {
		t.Fatalf("clean Run() = %v", clean.err)
	}
	tests := map[string]registrytest.Schedule{
		"503 on every kind of write":     registrytest.First(12, registrytest.Unavailable, registrytest.Writes),
		"503 on reads":                   registrytest.First(6, registrytest.Unavailable, func(r *http.Request) bool { return !registrytest.Writes(r) }),
		"resets mid-upload":              registrytest.First(3, registrytest.Reset, isBlobBody),
		"uploads cut half way (resumed)": registrytest.First(4, registrytest.Cut, isBlobBody),
		"BLOB_UPLOAD_UNKNOWN at commit":  registrytest.First(3, registrytest.UploadUnknown, registrytest.Commits),
		// The session is gone: the commit and the status query both say
		// so, and that blob starts over.
		"upload session lost (the blob restarts)": registrytest.First(2, registrytest.UploadUnknown, func(r *http.Request) bool {
			return registrytest.Commits(r) || (r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/uploads/"))
		}),
		"MANIFEST_BLOB_UNKNOWN":                    registrytest.First(2, registrytest.ManifestBlobUnknown, isManifestPut),
		"ghcr.io 429 with the wait in its message": registrytest.First(6, registrytest.GHCRRateLimited, isPushWrite),
		"403 secondary rate limit":                 registrytest.First(4, registrytest.SecondaryRateLimit, isPushWrite),
		"429 Retry-After on a manifest":            registrytest.First(1, registrytest.RateLimited, isManifestPut),
		"504 on pushes":                            registrytest.First(4, registrytest.GatewayTimeout, isPushWrite),
		"slow answers":                             registrytest.First(4, registrytest.Slow, func(*http.Request) bool { return true }),
		"resets on every kind of request":          registrytest.First(8, registrytest.Reset, func(*http.Request) bool { return true }),
	}
	for name, schedule := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, proxy, _ := faultyPublish(t, schedule, "v1", fastRetries)
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
				assertRetryAfterHonoured(t, proxy.Events())
			}
			// The push itself was throttled: it sends less at once.
			if injected[registrytest.GHCRRateLimited]+injected[registrytest.SecondaryRateLimit] > 0 && !strings.Contains(r.log, "The registry is rate limiting") {
				t.Errorf("throttled %v, but the uploads in flight were not lowered:\n%s", injected, r.log)
			}
		})
	}
}

// assertRetryAfterHonoured checks that each request answered 429 with
// Retry-After: 1 was sent again, and not before the second was up. A
// waiting that is too short is a bug; one that is long is not measured.
func assertRetryAfterHonoured(t *testing.T, ev []registrytest.Event) {
	t.Helper()
	checked := 0
	for i, e := range ev {
		if e.Fault != registrytest.RateLimited {
			continue
		}
		// Upload starts share one path across layers, so the next request
		// there need not be the retry.
		if strings.HasSuffix(e.Path, "/blobs/uploads/") {
			continue
		}
		found := false
		for _, next := range ev[i+1:] {
			if next.Path == e.Path && next.Method == e.Method {
				found = true
				if gap := next.At.Sub(e.At); gap < time.Second {
					t.Errorf("retried %s %s %s after a 429 with Retry-After: 1", e.Method, e.Path, gap)
				}
				break
			}
		}
		if !found {
			t.Errorf("%s %s was answered 429 and never sent again", e.Method, e.Path)
		}
		checked++
	}
	if checked == 0 {
		t.Error("no 429 with Retry-After was injected on a request that could be told apart: nothing checked")
	}
}

// Seeded random fault processes, many seeds each: every seed must give the
// clean digest. These are the benchmark's faults scenarios, smaller.
func TestFaultsConvergeUnderRandomSchedules(t *testing.T) {
	t.Parallel()
	clean, _, _ := faultyPublish(t, nil, "v1", fastRetries)
	if clean.err != nil {
		t.Fatalf("clean Run() = %v", clean.err)
	}
	const seeds = 6
	processes := map[string]func(seed uint64) registrytest.Schedule{
		"15% 503 and 10% ghcr 429 on writes": func(seed uint64) registrytest.Schedule {
			return registrytest.Random(seed, map[registrytest.Fault]float64{registrytest.Unavailable: 0.15, registrytest.GHCRRateLimited: 0.10}, registrytest.Writes)
		},
		"30% 503": func(seed uint64) registrytest.Schedule {
			return registrytest.Random(seed, map[registrytest.Fault]float64{registrytest.Unavailable: 0.30}, nil)
		},
		"10% BLOB_UPLOAD_UNKNOWN on commits": func(seed uint64) registrytest.Schedule {
			return registrytest.Random(seed, map[registrytest.Fault]float64{registrytest.UploadUnknown: 0.10}, registrytest.Commits)
		},
		"every class, 4% each": func(seed uint64) registrytest.Schedule {
			rates := map[registrytest.Fault]float64{}
			for _, f := range []registrytest.Fault{registrytest.Unavailable, registrytest.Reset, registrytest.Cut, registrytest.GHCRRateLimited,
				registrytest.SecondaryRateLimit, registrytest.UploadUnknown, registrytest.ManifestBlobUnknown} {
				rates[f] = 0.04
			}
			return registrytest.Random(seed, rates, nil)
		},
	}
	for name, process := range processes {
		for seed := uint64(1); seed <= seeds; seed++ {
			t.Run(fmt.Sprintf("%s/seed %d", name, seed), func(t *testing.T) {
				t.Parallel()
				r, proxy, _ := faultyPublish(t, process(seed), "v1", fastRetries)
				if r.err != nil {
					t.Fatalf("Run() after faults %v = %v", proxy.Injected(), r.err)
				}
				if r.outputs["digest"] != clean.outputs["digest"] {
					t.Errorf("digest after faults %v = %s, clean run = %s", proxy.Injected(), r.outputs["digest"], clean.outputs["digest"])
				}
			})
		}
	}
}

func TestPersistentFaultFailsCleanly(t *testing.T) {
	t.Parallel()
	// A short budget: a fault that never passes ends the publish.
	policy := fastRetries
	policy.Budget = time.Second
	for name, match := range map[string]func(*http.Request) bool{
		"upload start refused (the probe sees it)": isMethod(http.MethodPost),
		"upload body refused (the push sees it)":   isBlobBody,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, proxy, _ := faultyPublish(t, func(n int, r *http.Request) registrytest.Fault {
				if match(r) {
					return registrytest.Unavailable
				}
				return ""
			}, "never", policy)
			if r.err == nil || !strings.Contains(r.err.Error(), "UNAVAILABLE") || strings.Contains(r.err.Error(), "\n") {
				t.Fatalf("Run() = %v, want one line about the 503", r.err)
			}
			if !strings.Contains(r.log, "retry budget is spent") {
				t.Errorf("log does not say the retry budget ran out:\n%s", r.log)
			}
			t.Logf("persistent 503: %v injected; %v", proxy.Injected(), r.err)
			for _, e := range proxy.Events() {
				if e.Method == http.MethodPut && strings.Contains(e.Path, "/manifests/") {
					t.Errorf("a manifest was written: %s", e.Path)
				}
			}
		})
	}
}

// GitHub's secondary rate limit (403 DENIED) that outlasts the budget
// ends the run as rate limiting, not with advice about permissions.
func TestSecondaryRateLimitPastTheBudget(t *testing.T) {
	t.Parallel()
	policy := fastRetries
	policy.Budget = time.Second
	r, proxy, _ := faultyPublish(t, registrytest.First(1<<20, registrytest.SecondaryRateLimit, registrytest.Writes), "never", policy)
	if r.err == nil || !strings.Contains(r.err.Error(), "is rate limiting this run, which is no permission problem") {
		t.Fatalf("Run() after %v = %v, want it explained as rate limiting", proxy.Injected(), r.err)
	}
	for _, wrong := range []string{"may write", "packages: write", "Write role"} {
		if strings.Contains(r.err.Error(), wrong) {
			t.Errorf("Run() = %v, which gives permission advice (%q)", r.err, wrong)
		}
	}
	if !strings.Contains(r.log, "kept rate limiting this run") {
		t.Errorf("log does not say the budget ran out on rate limiting:\n%s", r.log)
	}
}

// A denial is not retried: refused upload starts, and the advice.
func TestDenialFailsFast(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{ReadOnly: []string{"acme/locked"}})
	opts := f.options()
	opts.RegistryRetry = fastRetries
	r := runAction(t, f.env(map[string]string{"INPUT_IMAGE": f.reg.Host() + "/acme/locked", "INPUT_TAGS": "v1"}), opts)
	if r.err == nil || !strings.Contains(r.err.Error(), "DENIED") {
		t.Fatalf("Run() = %v, want the denial", r.err)
	}
	// Each blob's upload starts at once, and each start is refused:
	// none is sent again, and no byte of any blob moves.
	starts := map[string]int{}
	for _, q := range f.reg.Requests() {
		switch {
		case q.Method == http.MethodPost:
			starts[q.Path]++
		case q.BodyBytes > 0:
			t.Errorf("%s %s sent %d bytes after the denial", q.Method, q.Path, q.BodyBytes)
		}
	}
	if len(starts) == 0 {
		t.Error("no upload was started: the denial did not come from the registry")
	}
	if strings.Contains(r.log, "retrying in") {
		t.Errorf("the denial was retried:\n%s", r.log)
	}
}

// An archive takes long to unpack: push access is probed while it is
// read, and a denial ends the run with the advice, before any upload of
// the push itself starts.
func TestDenialWhileReadingAnArchive(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{ReadOnly: []string{"acme/locked"}})
	img, err := sample.Image(sample.Options{Seed: "denied-archive", Docker: true})
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("widget:1")
	if err := tarball.WriteToFile(filepath.Join(f.ws, "image.tar"), tag, img); err != nil {
		t.Fatal(err)
	}
	opts := f.options()
	opts.RegistryRetry = fastRetries
	r := runAction(t, f.env(map[string]string{"INPUT_SOURCE": "docker-archive:image.tar", "INPUT_IMAGE": f.reg.Host() + "/acme/locked", "INPUT_TAGS": "v1"}), opts)
	if r.err == nil || !strings.Contains(r.err.Error(), "DENIED") {
		t.Fatalf("Run() = %v, want the denial", r.err)
	}
	var writes []string
	for _, q := range f.reg.Requests() {
		if q.Method != http.MethodGet && q.Method != http.MethodHead {
			writes = append(writes, q.Method+" "+q.Path)
		}
	}
	if want := []string{"POST /v2/acme/locked/blobs/uploads/"}; !slices.Equal(writes, want) {
		t.Errorf("requests that write = %v, want only the refused probe %v", writes, want)
	}
}
