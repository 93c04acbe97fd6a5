package registryhttp

import (
	"context"
	"fmt"
	"io"
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
	// abandoned says err is the context of the caller that authenticated
	// ending, not the registry's answer.
	abandoned bool
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
	for {
		sess := s.session(repo, scopes)
		sess.once.Do(func() {
			sess.rt, sess.err = s.authenticate(ctx, repo.Registry, sess.scopes)
			sess.abandoned = sess.err != nil && ctx.Err() != nil
		})
		if sess.err == nil {
			return sess.rt, nil
		}
		// Not kept: the next caller tries again.
		s.mu.Lock()
		if s.open[repo.RegistryStr()] == sess {
			delete(s.open, repo.RegistryStr())
		}
		s.mu.Unlock()
		// A first caller that was cancelled, or a lookup that gave up at
		// its bound, is no answer for the callers that waited on it: they
		// authenticate again, with their own context.
		if !sess.abandoned || ctx.Err() != nil {
			return nil, sess.err
		}
	}
}

// session is the registry's open session if it covers scopes, else a new
// one, not yet authenticated, for the union of what was declared, what the
// open one had and scopes.
func (s *Sessions) session(repo name.Repository, scopes []string) *session {
	reg := repo.RegistryStr()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.open[reg]
	if sess == nil || !covers(sess.scopes, scopes) {
		all := append(slices.Clone(s.declared[reg]), scopes...)
		if sess != nil {
			all = append(all, sess.scopes...)
		}
		slices.Sort(all)
		sess = &session{scopes: slices.Compact(all)}
		s.open[reg] = sess
	}
	return sess
}

// covers reports whether a token for have grants every scope of want:
// push on a repository includes pull.
func covers(have, want []string) bool {
	for _, w := range want {
		pushToo := strings.TrimSuffix(w, ":"+ggcrtransport.PullScope) + ":" + ggcrtransport.PushScope
		if !slices.Contains(have, w) && !(strings.HasSuffix(w, ":"+ggcrtransport.PullScope) && slices.Contains(have, pushToo)) {
			return false
		}
	}
	return true
}

// authenticate makes reg's transport, for scopes, the push scope first:
// registries that read only the first scope of a token request
// (go-containerregistry notes some) then still grant the push. It is a
// *transport.Wrapper, which go-containerregistry uses as it is, without a
// ping of its own.
//
// With credentials, the registry is pinged first, as the distribution
// spec has clients find out how to authenticate: some registries only
// challenge at /v2/, and a request sent without the credentials could be
// refused, or answered as if the repository were empty. Without
// credentials there is nothing to find out before the first request: it
// goes out as it is (see lazyAuth), which saves the ping's round trip
// against a registry that wants no token.
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
	base := ggcrtransport.NewUserAgent(s.retry.Transport(newTokenClock(s.base, s.retry.p.TokenTimeout)), s.userAgent)
	if auth != authn.Anonymous {
		rt, err := ggcrtransport.NewWithContext(ctx, reg, auth, base, ordered)
		if err != nil {
			return nil, fmt.Errorf("authenticating to %s: %w", reg.RegistryStr(), err)
		}
		return rt, nil
	}
	lazy := &lazyAuth{reg: reg, auth: auth, scopes: ordered, base: base}
	// A "basic" transport with anonymous credentials adds nothing to a
	// request: it is only the Wrapper around lazy.
	return ggcrtransport.FromToken(reg, authn.Anonymous, lazy, &ggcrtransport.Challenge{Scheme: "basic"}, nil)
}

func isPush(scope string) bool { return strings.HasSuffix(scope, ":"+ggcrtransport.PushScope) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lazyAuth stands in for go-containerregistry's ping when there are no
// credentials to present. A registry's answer to a request without
// credentials is then what the ping would learn: 401 with a challenge
// (ghcr.io asks for an anonymous token even to pull), or the answer itself
// when the registry wants no token. So requests go out as they are; a 401
// with a challenge is met once (the token exchange the challenge names,
// for every scope of the session) and the request is sent again with it.
// Against a registry that wants a token this costs the ping's round trips
// exactly; against one that wants none it saves the ping.
type lazyAuth struct {
	reg    name.Registry
	auth   authn.Authenticator
	scopes []string
	base   http.RoundTripper

	mu sync.Mutex
	// authed carries requests once a challenge was met.
	authed http.RoundTripper
	// meeting is closed when the challenge being met is settled.
	meeting chan struct{}
	err     error
	// abandoned says err is the end of the exchanging caller's context.
	abandoned bool
}

func (l *lazyAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	authed := l.authed
	l.mu.Unlock()
	if authed != nil {
		return authed.RoundTrip(req)
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	try := req
	if replayable && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		try = req.Clone(req.Context())
		try.Body = body
	}
	resp, err := l.base.RoundTrip(try)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable {
		return resp, err
	}
	ch, ok := challenge(resp)
	if !ok {
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	authed, err = l.meet(req.Context(), ch)
	if err != nil {
		return nil, err
	}
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		if again.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return authed.RoundTrip(again)
}

// meet answers ch once: concurrent first requests that all met it wait
// for the one exchange. A failed exchange is not kept; the next 401 tries
// again, and so do the waiters when the exchange was given up by its own
// caller (cancelled, or a lookup at its bound) rather than refused.
func (l *lazyAuth) meet(ctx context.Context, ch *ggcrtransport.Challenge) (http.RoundTripper, error) {
	for {
		l.mu.Lock()
		if l.authed != nil {
			defer l.mu.Unlock()
			return l.authed, nil
		}
		wait := l.meeting
		if wait == nil {
			l.meeting = make(chan struct{})
			l.mu.Unlock()
			return l.exchange(ctx, ch)
		}
		l.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		l.mu.Lock()
		authed, err, abandoned := l.authed, l.err, l.abandoned
		l.mu.Unlock()
		if authed != nil {
			return authed, nil
		}
		if !abandoned {
			return nil, err
		}
	}
}

// exchange meets ch for the callers of meet, and settles the meeting.
func (l *lazyAuth) exchange(ctx context.Context, ch *ggcrtransport.Challenge) (http.RoundTripper, error) {
	var rt http.RoundTripper
	var err error
	if strings.EqualFold(ch.Scheme, "bearer") {
		var tok *ggcrtransport.Token
		if tok, err = l.token(ctx, ch); err == nil {
			rt, err = ggcrtransport.FromToken(l.reg, l.auth, l.base, ch, tok)
		}
	} else {
		rt, err = ggcrtransport.FromToken(l.reg, l.auth, l.base, ch, nil)
	}
	if err != nil {
		err = fmt.Errorf("authenticating to %s: %w", l.reg.RegistryStr(), err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.authed, l.err, l.abandoned = rt, err, err != nil && ctx.Err() != nil
	close(l.meeting)
	l.meeting = nil
	return rt, err
}

// token is the registry token for the session's scopes: the one the
// credentials carry, or one exchanged at the challenge's realm.
func (l *lazyAuth) token(ctx context.Context, ch *ggcrtransport.Challenge) (*ggcrtransport.Token, error) {
	cfg, err := authn.Authorization(ctx, l.auth)
	if err != nil {
		return nil, err
	}
	if cfg.RegistryToken != "" {
		return &ggcrtransport.Token{Token: cfg.RegistryToken}, nil
	}
	tok, err := ggcrtransport.Exchange(ctx, l.reg, l.auth, l.base, l.scopes, ch)
	if err != nil {
		return nil, err
	}
	if tok.Token == "" {
		// Some token servers answer access_token only.
		tok.Token = tok.AccessToken
	}
	return tok, nil
}

// challenge reads the WWW-Authenticate challenge of a 401 (RFC 7235): a
// scheme and its parameters, the Bearer one when there are several. The
// scheme of the registry's URL says whether it is insecure (plain HTTP),
// as go-containerregistry's ping would have found.
func challenge(resp *http.Response) (*ggcrtransport.Challenge, bool) {
	var found *ggcrtransport.Challenge
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		scheme, params := parseChallenge(h)
		if scheme == "" {
			continue
		}
		c := &ggcrtransport.Challenge{Scheme: scheme, Parameters: params, Insecure: resp.Request != nil && resp.Request.URL.Scheme == "http"}
		if found == nil || strings.EqualFold(scheme, "bearer") {
			found = c
		}
	}
	return found, found != nil
}

// parseChallenge splits one challenge, `Bearer realm="https://ghcr.io/token",service="ghcr.io"`,
// into its scheme and parameters (names lower-cased; values plain tokens
// or quoted strings with backslash escapes).
func parseChallenge(h string) (scheme string, params map[string]string) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	params = map[string]string{}
	for {
		rest = strings.TrimLeft(rest, " ,")
		if rest == "" {
			return scheme, params
		}
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			return scheme, params
		}
		key = strings.ToLower(strings.TrimSpace(key))
		after = strings.TrimLeft(after, " ")
		var value strings.Builder
		if strings.HasPrefix(after, `"`) {
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				value.WriteByte(after[i])
			}
			rest = after[min(i+1, len(after)):]
		} else {
			end := strings.IndexAny(after, ", ")
			if end < 0 {
				end = len(after)
			}
			value.WriteString(after[:end])
			rest = after[end:]
		}
		params[key] = value.String()
	}
}
