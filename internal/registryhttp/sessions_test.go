package registryhttp_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// tally counts a registry's requests: pings, token exchanges, the rest,
// and of the rest those that were answered without a challenge.
func tally(reqs []registrytest.Request) (pings, tokens, others, answered int) {
	for _, r := range reqs {
		switch {
		case r.Path == "/v2/":
			pings++
		case r.Path == "/token":
			tokens++
		default:
			others++
			if r.Status != http.StatusUnauthorized {
				answered++
			}
		}
	}
	return
}

// seed pushes a random image to ref on reg, with the password when given.
func seed(t *testing.T, ref name.Reference, password string) {
	t.Helper()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	auth := authn.Anonymous
	if password != "" {
		auth = &authn.Basic{Username: "u", Password: password}
	}
	if err := remote.Write(ref, img, remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
}

// Without credentials, requests go out as they are: a registry that wants
// no token is never pinged; one that does answers the first requests with
// its challenge, one token exchange serves them all, and they are sent
// again with it. How many of the four meet the challenge depends on when
// each leaves (one sent after the token came carries it at once): each
// is answered once, and at most one challenge each is allowed.
func TestSessionsWithoutCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name              string
		opts              registrytest.Options
		tokens, challenge int // token exchanges; most challenged requests
	}{
		{"a registry that wants no token", registrytest.Options{}, 0, 0},
		{"a registry that wants one, even to pull (ghcr.io)", registrytest.Options{Passwords: []string{"pw"}, Public: []string{"acme/public"}}, 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, err := registrytest.Start(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			repo, _ := name.NewRepository(reg.Host() + "/acme/public")
			seed(t, repo.Tag("1"), strings.Join(tt.opts.Passwords, ""))
			reg.ResetRequests()

			s := registryhttp.NewSessions(nil, nil, "test", registryhttp.New(registryhttp.Policy{Seed: 1}))
			s.Declare(repo, transport.PullScope)
			rt, err := s.Transport(ctx, repo, repo.Scope(transport.PullScope))
			if err != nil {
				t.Fatal(err)
			}
			// Four first requests at once.
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = remote.Head(repo.Tag("1"), remote.WithTransport(rt))
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("HEAD = %v", err)
				}
			}
			pings, tokens, sent, answered := tally(reg.Requests())
			if pings != 0 || tokens != tt.tokens || answered != 4 || sent-answered > tt.challenge {
				t.Errorf("%d pings, %d token exchanges, %d requests of which %d answered; want 0, %d, 4 answered and at most %d challenged", pings, tokens, sent, answered, tt.tokens, tt.challenge)
			}
		})
	}
}

// A private repository without credentials: the anonymous token is
// refused, and that is the answer, not a hang or a retry loop.
func TestSessionsWithoutCredentialsPrivate(t *testing.T) {
	t.Parallel()
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	repo, _ := name.NewRepository(reg.Host() + "/acme/private")
	seed(t, repo.Tag("1"), "pw")
	s := registryhttp.NewSessions(nil, nil, "test", registryhttp.New(registryhttp.Policy{Seed: 1}))
	rt, err := s.Transport(context.Background(), repo, repo.Scope(transport.PullScope))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(repo.Tag("1"), remote.WithTransport(rt)); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("HEAD of a private image without credentials = %v, want UNAUTHORIZED", err)
	}
}

// With credentials, the registry is pinged once and one token covers every
// scope declared, however many callers ask for a transport.
func TestSessionsWithCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	src, _ := name.NewRepository(reg.Host() + "/acme/base")
	dst, _ := name.NewRepository(reg.Host() + "/acme/widget")
	seed(t, src.Tag("1"), "pw")
	reg.ResetRequests()

	keychain := authn.NewMultiKeychain(staticKeychain{&authn.Basic{Username: "u", Password: "pw"}})
	s := registryhttp.NewSessions(keychain, nil, "test", registryhttp.New(registryhttp.Policy{Seed: 1}))
	s.Declare(src, transport.PullScope)
	s.Declare(dst, transport.PushScope)
	for _, ask := range []struct {
		repo  name.Repository
		scope string
	}{{src, transport.PullScope}, {dst, transport.PushScope}, {dst, transport.PullScope}} {
		rt, err := s.Transport(ctx, ask.repo, ask.repo.Scope(ask.scope))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(src.Tag("1"), remote.WithTransport(rt)); err != nil {
			t.Fatalf("HEAD = %v", err)
		}
	}
	pings, tokens, sent, _ := tally(reg.Requests())
	if diff := cmp.Diff([]int{1, 1, 3}, []int{pings, tokens, sent}); diff != "" {
		t.Errorf("pings, token exchanges, other requests (-want +got):\n%s", diff)
	}
}

type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }

func TestParseChallenge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		scheme string
		params map[string]string
	}{
		{`Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/widget:pull"`, "Bearer",
			map[string]string{"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:acme/widget:pull"}},
		{`Basic realm="Registry Realm"`, "Basic", map[string]string{"realm": "Registry Realm"}},
		{`Bearer realm=https://auth.example/token, Service="a \"quoted\" name"`, "Bearer",
			map[string]string{"realm": "https://auth.example/token", "service": `a "quoted" name`}},
		{`Bearer`, "Bearer", map[string]string{}},
		{`Bearer realm="unterminated`, "Bearer", map[string]string{"realm": "unterminated"}},
	}
	for _, tt := range tests {
		scheme, params := registryhttp.ParseChallenge(tt.in)
		if scheme != tt.scheme || !cmp.Equal(params, tt.params) {
			t.Errorf("ParseChallenge(%q) = %q, %v; want %q, %v", tt.in, scheme, params, tt.scheme, tt.params)
		}
	}
}
