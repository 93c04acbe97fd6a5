package registryhttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// faulty is a registry that wants a token, behind a fault proxy that sees
// the token requests too, and a Retrier logging into log.
type faulty struct {
	proxy *registrytest.FaultProxy
	repo  name.Repository
	mu    sync.Mutex
	log   []string
}

func startFaulty(t *testing.T, schedule registrytest.Schedule) *faulty {
	t.Helper()
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{"pw"}, Public: []string{"acme/widget"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	proxy := registrytest.NewFaultProxy(reg.Host(), schedule, registrytest.WithTokenRequests())
	t.Cleanup(proxy.Close)
	repo, err := name.NewRepository(proxy.Host()+"/acme/widget", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return &faulty{proxy: proxy, repo: repo}
}

func (f *faulty) logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf(format, args...))
}

func (f *faulty) logged() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.log, "\n")
}

// push writes a random image to tag through a session with credentials
// (anonymous when keychain is nil), with go-containerregistry's own
// retries off: only the Retrier's count.
func (f *faulty) push(ctx context.Context, keychain authn.Keychain, p registryhttp.Policy, tag string) (int, error) {
	p.Logf = f.logf
	r := registryhttp.New(p)
	throttles := 0
	var mu sync.Mutex
	r.OnThrottle(func() { mu.Lock(); throttles++; mu.Unlock() })
	s := registryhttp.NewSessions(keychain, nil, "test", r)
	s.Declare(f.repo, transport.PushScope)
	rt, err := s.Transport(ctx, f.repo, f.repo.Scope(transport.PushScope))
	if err != nil {
		return 0, err
	}
	img, err := random.Image(1024, 2)
	if err != nil {
		return 0, err
	}
	err = remote.Write(f.repo.Tag(tag), img, remote.WithContext(ctx), remote.WithTransport(rt), remote.WithRetryPredicate(func(error) bool { return false }))
	mu.Lock()
	defer mu.Unlock()
	return throttles, err
}

var credentialsKeychain = staticKeychain{&authn.Basic{Username: "u", Password: "pw"}}

// replayableWrite matches the writes the Retrier's Transport can send
// again: upload starts, commits and manifests, not PATCHes streamed from
// a layer (the push package resumes those itself).
func replayableWrite(r *http.Request) bool {
	return registrytest.Writes(r) && r.Method != http.MethodPatch
}

func isManifestPut(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
}

var fast = registryhttp.Policy{Base: time.Millisecond, Max: 10 * time.Millisecond, Seed: 1}

// GitHub's secondary rate limit comes as 403 DENIED: it is backed off and
// retried, each time telling those who lower the parallelism, and never
// taken for a denial. A Retry-After it carries holds the retry back.
func TestSecondaryRateLimitIsRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		schedule registrytest.Schedule
		fault    registrytest.Fault
		wantLog  string
	}{
		{"without Retry-After", registrytest.First(3, registrytest.SecondaryRateLimit, replayableWrite), registrytest.SecondaryRateLimit, "secondary rate limit"},
		// The backoff here is at most 10 ms: a wait of 1 s is the header's.
		{"with Retry-After: 1", registrytest.First(1, registrytest.SecondaryRateLimitWait, isManifestPut), registrytest.SecondaryRateLimitWait, "retrying in 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startFaulty(t, tt.schedule)
			throttles, err := f.push(context.Background(), credentialsKeychain, fast, "1")
			if err != nil {
				t.Fatalf("push through %v = %v", f.proxy.Injected(), err)
			}
			injected := f.proxy.Injected()[tt.fault]
			if injected == 0 || throttles != injected {
				t.Errorf("%d faults injected, %d throttles told; want as many, and more than none", injected, throttles)
			}
			if !strings.Contains(f.logged(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, f.logged())
			}
		})
	}
}

// A secondary rate limit that outlasts the budget ends the push with the
// registry's answer, which Throttled recognises (so that it is explained
// as rate limiting, not as a permission problem), and the log says the
// budget ran out on rate limiting.
func TestSecondaryRateLimitPastTheBudget(t *testing.T) {
	t.Parallel()
	f := startFaulty(t, registrytest.First(1<<20, registrytest.SecondaryRateLimit, isManifestPut))
	p := fast
	p.Budget = 200 * time.Millisecond
	_, err := f.push(context.Background(), credentialsKeychain, p, "1")
	if err == nil {
		t.Fatal("push under a lasting rate limit succeeded")
	}
	if !registryhttp.Throttled(err) || !strings.Contains(err.Error(), "secondary rate limit") {
		t.Errorf("push = %v (Throttled %v), want the rate limit, recognised", err, registryhttp.Throttled(err))
	}
	if !strings.Contains(f.logged(), "kept rate limiting this run past the 200ms retry budget") {
		t.Errorf("log does not say the budget ran out on rate limiting:\n%s", f.logged())
	}
}

func TestThrottled(t *testing.T) {
	t.Parallel()
	terr := func(status int, code transport.ErrorCode, msg string) error {
		return fmt.Errorf("PUT x: %w", &transport.Error{StatusCode: status, Errors: []transport.Diagnostic{{Code: code, Message: msg}}})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"secondary rate limit", terr(403, transport.DeniedErrorCode, "You have exceeded a secondary rate limit."), true},
		{"429", terr(429, transport.TooManyRequestsErrorCode, "retry-after: 10ms, allowed: 2000/minute"), true},
		{"permission denied", terr(403, transport.DeniedErrorCode, "permission_denied: write_package"), false},
		{"rate limit wording on a 404", terr(404, transport.ManifestUnknownErrorCode, "secondary rate limit"), false},
		{"no registry answer", errors.New("secondary rate limit"), false},
	}
	for _, tt := range tests {
		if got := registryhttp.Throttled(tt.err); got != tt.want {
			t.Errorf("Throttled(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// ghcr.io has answered pushes with 504 from its load balancer: transient,
// retried like any 5xx, the HTML body notwithstanding.
func TestGatewayTimeoutOnPushIsRetried(t *testing.T) {
	t.Parallel()
	f := startFaulty(t, registrytest.First(4, registrytest.GatewayTimeout, replayableWrite))
	if _, err := f.push(context.Background(), credentialsKeychain, fast, "1"); err != nil {
		t.Fatalf("push through %v = %v", f.proxy.Injected(), err)
	}
	if n := f.proxy.Injected()[registrytest.GatewayTimeout]; n != 4 {
		t.Errorf("%d 504s injected, want 4", n)
	}
	if !strings.Contains(f.logged(), "504 Gateway Timeout") {
		t.Errorf("log does not show the 504s retried:\n%s", f.logged())
	}
}

// A token endpoint that does not answer is given up after the token
// timeout and asked again, with credentials and without (a public
// repository's anonymous token): the session then works. Without the
// token clock the exchange would wait forever here (no stall clock below).
func TestTokenTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		keychain authn.Keychain
	}{
		{"with credentials", credentialsKeychain},
		{"anonymous", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startFaulty(t, registrytest.First(1, registrytest.Hang, registrytest.TokenRequests))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p := fast
			p.TokenTimeout = 100 * time.Millisecond
			p.Logf = f.logf
			s := registryhttp.NewSessions(tt.keychain, nil, "test", registryhttp.New(p))
			rt, err := s.Transport(ctx, f.repo, f.repo.Scope(transport.PullScope))
			if err == nil {
				_, err = remote.Head(f.repo.Tag("missing"), remote.WithContext(ctx), remote.WithTransport(rt), remote.WithRetryPredicate(func(error) bool { return false }))
			}
			var terr *transport.Error
			if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
				t.Fatalf("HEAD of a missing tag after a hung token request = %v, want the registry's 404", err)
			}
			tokens := 0
			for _, e := range f.proxy.Events() {
				if !strings.HasPrefix(e.Path, "/v2/") {
					tokens++
				}
			}
			if diff := cmp.Diff([]int{1, 2}, []int{f.proxy.Injected()[registrytest.Hang], tokens}); diff != "" {
				t.Errorf("hung token requests, token requests (-want +got):\n%s", diff)
			}
			if !strings.Contains(f.logged(), "fetching a registry token") {
				t.Errorf("log does not show the token request retried:\n%s", f.logged())
			}
		})
	}
}

// The error an http.Client gives when its Timeout passes before the
// answer's headers (docker/login-action#989) is one the Retrier retries.
func TestClassifyClientTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	_, err := (&http.Client{Timeout: 50 * time.Millisecond}).Get(srv.URL + "/token")
	if err == nil || !strings.Contains(err.Error(), "Client.Timeout exceeded while awaiting headers") {
		t.Fatalf("GET = %v, want the client's timeout", err)
	}
	if retry, _, _ := registryhttp.New(fast).Classify(context.Background(), nil, err); !retry {
		t.Errorf("Classify(%v) = no retry, want a retry", err)
	}
}
