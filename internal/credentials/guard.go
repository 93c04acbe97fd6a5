package credentials

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

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
// token to GitHubHosts only, the password to PasswordHost only.
func (k Keychain) Transport(base http.RoundTripper) http.RoundTripper {
	return Guard(base, k.Grants()...)
}

// Grants are the Keychain's rule as grants.
func (k Keychain) Grants() []Grant {
	grants := []Grant{{Secret: k.Token, Hosts: k.GitHubHosts, What: "the GitHub token"}}
	if k.PasswordHost != "" {
		grants = append(grants, Grant{Secret: k.Password, Hosts: Hosts{k.PasswordHost}, What: "the password"})
	} else {
		grants = append(grants, Grant{Secret: k.Password, What: "the password"})
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
		return nil, &RedirectError{URL: redactedURL(req.URL), Hops: hops - 1}
	}
	host := canonicalHost(req.URL)
	for _, gr := range g.grants {
		if allowed(gr.Hosts, host) || !carries(req, gr.Secret) {
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
	return strings.Contains(req.URL.String(), secret) || strings.Contains(req.URL.RawQuery, url.QueryEscape(secret))
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

func redactedURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}
