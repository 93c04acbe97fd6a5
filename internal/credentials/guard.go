package credentials

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// MaxRedirects bounds the redirects one request may follow, as net/http's
// default policy does: go-containerregistry replaces that policy with a
// check that has no limit, so a registry answering 307 to the same URL
// would be asked forever.
const MaxRedirects = 10

// Grant lets one secret go to a set of hosts.
type Grant struct {
	Secret string
	Hosts  Hosts
	// What names the secret in errors, e.g. "the token".
	What string
}

// Guard wraps base so that every request, whoever built it — the token
// exchange go-containerregistry runs against a registry's Bearer realm, a
// redirect the HTTP client follows, the oauth2 transport go-github uses —
// carries a granted secret only to the hosts granted. It looks at what the
// request actually carries (the Authorization header, the URL's user
// information), not at how it was set up, so no code path can get around
// it.
//
// A redirect to a host not granted is followed without the credentials,
// as net/http does for headers it set itself (a registry sends blob
// downloads to a storage host that wants none). Any other request that
// would carry a secret elsewhere (a Bearer realm on another host) is not
// sent at all: it fails with an error saying where it was headed. Every
// request follows at most MaxRedirects redirects.
func Guard(base http.RoundTripper, grants ...Grant) http.RoundTripper {
	if base == nil {
		base = remote.DefaultTransport
	}
	var kept []Grant
	for _, g := range grants {
		if g.Secret != "" {
			kept = append(kept, g)
		}
	}
	return &guard{base: base, grants: kept}
}

// Transport wraps base with the Keychain's rule, enforced per request: the
// token to GitHubHosts only, each login's password to its registry only
// (and Docker Hub's other names and token service when that is Docker Hub:
// see CredentialHosts), and what Fallback (the Docker config) holds for a
// host to that host only.
func (k Keychain) Transport(base http.RoundTripper) http.RoundTripper {
	g := Guard(base, k.Grants()...).(*guard)
	if k.Fallback != nil {
		g.learn = k.fallbackGrants
		g.learned = map[string][]Grant{}
	}
	return g
}

// Grants are the Keychain's rule as grants. A login whose password is the
// token gets no grant of its own: the token's, to GitHubHosts, is the only
// one it has.
func (k Keychain) Grants() []Grant {
	grants := []Grant{{Secret: k.Token, Hosts: k.GitHubHosts, What: "the GitHub token"}}
	for _, l := range k.Logins {
		if !k.isToken(l.Password) {
			grants = append(grants, Grant{Secret: l.Password, Hosts: CredentialHosts(l.Registry), What: "the password for " + l.Registry})
		}
	}
	return grants
}

// API wraps base for the GitHub REST API at apiURL (GITHUB_API_URL): the
// token goes to that host only. The oauth2 transport sets Authorization on
// every request it carries, redirected ones included, so only a check
// below it keeps the token from following a redirect to another host.
func API(base http.RoundTripper, apiURL, token string) http.RoundTripper {
	host := ""
	if u, err := url.Parse(apiURL); err == nil {
		host = u.Host
	}
	if apiURL == "" {
		host = "api.github.com"
	}
	return Guard(base, Grant{Secret: token, Hosts: Hosts{host}, What: "the GitHub token"})
}

type guard struct {
	base   http.RoundTripper
	grants []Grant

	// learn, when set, says what a host's own credentials are, for
	// credentials known only once asked for (the Docker config's): each
	// host a request goes to is asked once, and what it holds is granted
	// to it alone. A registry is always asked before its token realm, for
	// the realm is named in the registry's answer.
	learn   func(ctx context.Context, host string) []Grant
	mu      sync.Mutex
	learned map[string][]Grant // host → its grants
}

// all is every grant known when a request goes to host: the fixed ones,
// and those learned of every host so far, host's own included.
func (g *guard) all(ctx context.Context, host string) []Grant {
	if g.learn == nil {
		return g.grants
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.learned[host]; !ok {
		g.learned[host] = g.learn(ctx, host)
	}
	all := slices.Clone(g.grants)
	for _, h := range slices.Sorted(maps.Keys(g.learned)) {
		all = append(all, g.learned[h]...)
	}
	return all
}

// allowedAnywhere reports whether any grant of secret lets host have it:
// one secret may be granted to several hosts (the same password in the
// Docker config for two registries).
func allowedAnywhere(grants []Grant, secret, host string) bool {
	for _, gr := range grants {
		if gr.Secret == secret && allowed(gr.Hosts, host) {
			return true
		}
	}
	return false
}

// RedirectError is a request that followed too many redirects.
type RedirectError struct {
	URL  string // where the last redirect pointed
	Hops int
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("stopped after %d redirects (last to %s): the server redirects in a loop", e.Hops, e.URL)
}

// DeniedError is a request that would have sent a secret to a host not
// granted it. It is not sent.
type DeniedError struct {
	What    string // e.g. "the GitHub token"
	Host    string // where the request was headed
	Allowed Hosts
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("refused to send %s to %s, which may not receive it (only %s may); a registry's token realm or a redirect pointed there", e.What, e.Host, strings.Join(e.Allowed, ", "))
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	hops := 0
	for r := req.Response; r != nil && r.Request != nil; r = r.Request.Response {
		hops++
	}
	if hops > MaxRedirects {
		return nil, &RedirectError{URL: RedactURL(req.URL), Hops: hops - 1}
	}
	host := canonicalHost(req.URL)
	grants := g.all(req.Context(), host)
	for _, gr := range grants {
		if allowedAnywhere(grants, gr.Secret, host) || !carries(req, gr.Secret) {
			continue
		}
		if req.Response == nil {
			closeBody(req)
			return nil, &DeniedError{What: gr.What, Host: host, Allowed: gr.Hosts}
		}
		// A redirect: follow it without credentials.
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
		req.Header.Del("Proxy-Authorization")
		req.URL.User = nil
		if carries(req, gr.Secret) {
			closeBody(req)
			return nil, &DeniedError{What: gr.What, Host: host, Allowed: gr.Hosts}
		}
	}
	return g.base.RoundTrip(req)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func allowed(hosts Hosts, host string) bool {
	for _, h := range hosts {
		if canonicalHost(&url.URL{Host: h}) == host {
			return true
		}
	}
	return false
}

// canonicalHost is u's host, lower-cased, without a port that only says
// the scheme's default.
func canonicalHost(u *url.URL) string {
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	return host
}

// carries reports whether req holds secret in a header, in any form a
// client sends credentials in (raw, Basic, base64), or in its URL.
func carries(req *http.Request, secret string) bool {
	if secret == "" {
		return false
	}
	for _, values := range req.Header {
		for _, v := range values {
			if headerCarries(v, secret) {
				return true
			}
		}
	}
	if req.URL.User != nil {
		if p, _ := req.URL.User.Password(); p == secret || req.URL.User.Username() == secret {
			return true
		}
	}
	return strings.Contains(req.URL.String(), secret) || strings.Contains(req.URL.RawQuery, url.QueryEscape(secret)) || formCarries(req, secret)
}

// maxForm bounds the form bodies read: a token request's is a few hundred
// bytes.
const maxForm = 64 << 10

// formCarries reports whether req's body is a form that holds secret: the
// OAuth2 token request go-containerregistry POSTs to a realm sends an
// identity token (the Docker config's identitytoken) as refresh_token in
// its body (distribution, "OAuth2 Token Authentication").
func formCarries(req *http.Request, secret string) bool {
	if req.GetBody == nil || req.ContentLength <= 0 || req.ContentLength > maxForm ||
		!strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	body, err := req.GetBody()
	if err != nil {
		return true // unreadable: assume the worst
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxForm))
	if err != nil {
		return true
	}
	return strings.Contains(string(b), secret) || strings.Contains(string(b), url.QueryEscape(secret))
}

func headerCarries(v, secret string) bool {
	if strings.Contains(v, secret) {
		return true
	}
	for _, field := range strings.Fields(v) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(field); err == nil && strings.Contains(string(b), secret) {
				return true
			}
		}
	}
	return false
}

// RedactURL is u without user information and query, where a presigned
// storage URL keeps its signature: the form in which a URL may be shown.
func RedactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}
