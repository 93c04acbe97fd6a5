package registryhttp

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Sessions authenticates to each registry once per publish: one ping and
// one token exchange, shared by every request the publish sends there —
// the source reads, the tag listing, the probe, the push. Over a real
// network each of those is a round trip, and without sharing every step
// would pay them again.
//
// The token covers every scope Declared for the registry before its first
// Transport: pull on each source, push on the destination. A later
// Transport that asks for more starts a session with the union (another
// ping and token) rather than fail.
type Sessions struct {
	keychain  authn.Keychain
	base      http.RoundTripper
	userAgent string
	retry     *Retrier

	mu       sync.Mutex
	declared map[string][]string // registry → scopes
	open     map[string]*session // registry → its session
}

// session is one registry's authenticated transport, made once.
type session struct {
	scopes []string
	once   sync.Once
	rt     http.RoundTripper
	err    error
}

// NewSessions authenticates with keychain (nil: anonymously) over base
// (nil: go-containerregistry's default transport), retrying every request,
// the ping and token exchange included, with retry, and naming the action
// by userAgent.
func NewSessions(keychain authn.Keychain, base http.RoundTripper, userAgent string, retry *Retrier) *Sessions {
	if base == nil {
		base = remote.DefaultTransport
	}
	if retry == nil {
		retry = New(Policy{})
	}
	return &Sessions{keychain: keychain, base: base, userAgent: userAgent, retry: retry, declared: map[string][]string{}, open: map[string]*session{}}
}

// Retry is the Retrier every session's requests go through.
func (s *Sessions) Retry() *Retrier { return s.retry }

// Declare says the publish will ask for scope (go-containerregistry's PullScope or
// PushScope) on repo, so that the registry's one token covers it.
func (s *Sessions) Declare(repo name.Repository, scope string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reg := repo.RegistryStr()
	if sc := repo.Scope(scope); !slices.Contains(s.declared[reg], sc) {
		s.declared[reg] = append(s.declared[reg], sc)
	}
}

// Transport is the authenticated transport to repo's registry, good for
// scopes. go-containerregistry uses it as it is (a *transport.Wrapper): no
// second ping, no second token.
func (s *Sessions) Transport(ctx context.Context, repo name.Repository, scopes ...string) (http.RoundTripper, error) {
	reg := repo.RegistryStr()
	s.mu.Lock()
	sess := s.open[reg]
	if sess == nil || !covers(sess.scopes, scopes) {
		all := slices.Clone(s.declared[reg])
		if sess != nil {
			all = append(all, sess.scopes...)
		}
		for _, sc := range append(all, scopes...) {
			if !slices.Contains(all, sc) {
				all = append(all, sc)
			}
		}
		slices.Sort(all)
		sess = &session{scopes: slices.Compact(all)}
		s.open[reg] = sess
	}
	s.mu.Unlock()
	sess.once.Do(func() { sess.rt, sess.err = s.authenticate(ctx, repo.Registry, sess.scopes) })
	if sess.err != nil {
		// Not kept: the next caller tries again (a cancelled first
		// caller must not fail the others).
		s.mu.Lock()
		if s.open[reg] == sess {
			delete(s.open, reg)
		}
		s.mu.Unlock()
	}
	return sess.rt, sess.err
}

func covers(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// authenticate pings reg and fetches a token for scopes. The push scope
// comes first: registries that read only the first scope of a token
// request (go-containerregistry notes some) then still grant the push.
func (s *Sessions) authenticate(ctx context.Context, reg name.Registry, scopes []string) (http.RoundTripper, error) {
	var auth authn.Authenticator = authn.Anonymous
	if s.keychain != nil {
		var err error
		if auth, err = authn.Resolve(ctx, s.keychain, reg); err != nil {
			return nil, fmt.Errorf("resolving credentials for %s: %w", reg.RegistryStr(), err)
		}
	}
	ordered := slices.Clone(scopes)
	slices.SortStableFunc(ordered, func(a, b string) int {
		return boolInt(!isPush(a)) - boolInt(!isPush(b))
	})
	t := ggcrtransport.NewUserAgent(s.retry.Transport(s.base), s.userAgent)
	rt, err := ggcrtransport.NewWithContext(ctx, reg, auth, t, ordered)
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", reg.RegistryStr(), err)
	}
	return rt, nil
}

func isPush(scope string) bool { return strings.HasSuffix(scope, ":"+ggcrtransport.PushScope) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
