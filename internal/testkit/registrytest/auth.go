package registrytest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// tokenLifetime is what ghcr.io advertises; expiry is enforced so a
// long-running demo exercises the client's token refresh.
const tokenLifetime = 300 * time.Second

// access is what a token may do in one repository. Delete is folded into
// push because ghcr has no separate delete scope for the registry API.
type access struct{ pull, push bool }

type grant struct {
	expires time.Time
	repos   map[string]access
}

// allows reports whether the grant covers the request: pull for reads,
// push for writes.
func (g grant) allows(repo string, write bool) bool {
	a := g.repos[repo]
	if write {
		return a.push
	}
	return a.pull
}

// authenticator plays ghcr.io's token service and the registry's token
// check. Tokens are random strings remembered here, not JWTs: nothing but
// this process ever needs to verify them, and opaque tokens keep clients
// honest about not peeking inside.
type authenticator struct {
	host      string
	authOn    bool
	passwords []string
	readOnly  map[string]bool
	public    map[string]bool
	gone      map[string]bool // owners

	// expireWhen, when it matches a request, expires every token issued
	// before it (Options.ExpireTokens).
	expireWhen func(*http.Request) bool

	mu     sync.Mutex
	tokens map[string]grant
}

// expireAll ends every token issued so far, as time would.
func (a *authenticator) expireAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, g := range a.tokens {
		g.expires = time.Time{}
		a.tokens[k] = g
	}
}

func newAuthenticator(host string, opts Options) *authenticator {
	a := &authenticator{
		host:       host,
		authOn:     len(opts.Passwords) > 0,
		readOnly:   make(map[string]bool, len(opts.ReadOnly)),
		public:     make(map[string]bool, len(opts.Public)),
		gone:       make(map[string]bool, len(opts.GoneOwners)),
		tokens:     make(map[string]grant),
		expireWhen: opts.ExpireTokens,
	}
	for _, repo := range opts.Public {
		a.public[repo] = true
	}
	for _, owner := range opts.GoneOwners {
		a.gone[owner] = true
	}
	for _, p := range opts.Passwords {
		if p != "" {
			a.passwords = append(a.passwords, p)
		}
	}
	for _, repo := range opts.ReadOnly {
		a.readOnly[repo] = true
	}
	return a
}

// Repository routes as distribution's router defines them (registry/api/v2).
// The name may contain slashes, so it is whatever precedes the fixed suffix.
var repoRoutes = []*regexp.Regexp{
	regexp.MustCompile(`^/v2/(.+)/tags/list$`),
	regexp.MustCompile(`^/v2/(.+)/manifests/[^/]+$`),
	regexp.MustCompile(`^/v2/(.+)/blobs/uploads/[^/]*$`),
	regexp.MustCompile(`^/v2/(.+)/blobs/[^/]+$`),
}

// repoName returns the repository a /v2/ path addresses, or "" for the
// base endpoint, the catalog and paths distribution will 404 anyway.
func repoName(path string) string {
	for _, re := range repoRoutes {
		if m := re.FindStringSubmatch(path); m != nil {
			return m[1]
		}
	}
	return ""
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return false
	}
	return true
}

func (a *authenticator) serve(w http.ResponseWriter, req *http.Request, registry http.Handler) {
	path := req.URL.Path
	if path == "/token" {
		a.serveToken(w, req)
		return
	}
	if path != "/v2" && !strings.HasPrefix(path, "/v2/") {
		http.NotFound(w, req)
		return
	}

	repo := repoName(path)
	write := isWrite(req.Method)
	var from string
	if repo != "" && req.Method == http.MethodPost {
		if q := req.URL.Query(); q.Get("mount") != "" {
			from = q.Get("from")
		}
	}

	if a.authOn && a.expireWhen != nil && a.expireWhen(req) {
		a.expireAll()
	}
	if a.authOn {
		g, ok, errParam := a.lookup(req.Header.Get("Authorization"))
		if ok && repo != "" && !g.allows(repo, write) {
			ok, errParam = false, "insufficient_scope"
		}
		if !ok {
			a.challenge(w, repo, write, from, errParam)
			return
		}
		if from != "" && !g.allows(from, false) {
			// A registry that may not read the source repository for
			// this client does not fail the mount; it ignores it and
			// starts an ordinary upload (202 instead of 201), and the
			// client then uploads the blob itself.
			u := *req.URL
			q := u.Query()
			q.Del("mount")
			q.Del("from")
			u.RawQuery = q.Encode()
			req.URL = &u
		}
	}

	if owner, _, _ := strings.Cut(repo, "/"); write && repo != "" && a.gone[owner] {
		writeError(w, http.StatusForbidden, "DENIED", "not_found: owner not found")
		return
	}
	if write && repo != "" && a.readOnly[repo] {
		writeError(w, http.StatusForbidden, "DENIED", "permission_denied: write_package")
		return
	}
	registry.ServeHTTP(w, req)
}

// lookup returns the grant behind a bearer Authorization header or, if
// there is none, the challenge's error parameter: none when no token was
// sent (as in distribution), "invalid_token" for an unknown or expired one.
func (a *authenticator) lookup(header string) (g grant, ok bool, errParam string) {
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return grant{}, false, ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	g, found = a.tokens[token]
	if !found || time.Now().After(g.expires) {
		return grant{}, false, "invalid_token"
	}
	return g, true, ""
}

// challenge answers 401 the way distribution's token access controller does,
// minus its random action order: the scope lists what the request needs,
// including pull on a mount's source repository.
func (a *authenticator) challenge(w http.ResponseWriter, repo string, write bool, from, errParam string) {
	c := fmt.Sprintf("Bearer realm=%q,service=%q", "http://"+a.host+"/token", a.host)
	var scopes []string
	if repo != "" {
		actions := "pull"
		if write {
			actions = "pull,push"
		}
		scopes = append(scopes, "repository:"+repo+":"+actions)
	}
	if from != "" && from != repo {
		scopes = append(scopes, "repository:"+from+":pull")
	}
	if len(scopes) > 0 {
		c += fmt.Sprintf(",scope=%q", strings.Join(scopes, " "))
	}
	if errParam != "" {
		c += fmt.Sprintf(",error=%q", errParam)
	}
	w.Header().Set("WWW-Authenticate", c)
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
}

// serveToken implements the GET side of the Docker token protocol. Other
// methods get 404 because that is the signal clients (go-containerregistry,
// docker) use to fall back from the OAuth2 POST flow to GET.
func (a *authenticator) serveToken(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		http.NotFound(w, req)
		return
	}
	repos := parseScopes(req.URL.Query()["scope"])
	if a.authOn && req.Header.Get("Authorization") == "" {
		// No credentials at all: what docker pull sends before any login.
		// ghcr.io answers with a pull token for public packages only.
		if !a.anonymousAllowed(repos) {
			writeJSON(w, http.StatusUnauthorized, errorBody("UNAUTHORIZED", "authentication required"))
			return
		}
	} else if a.authOn {
		user, pass, ok := req.BasicAuth()
		if !ok || user == "" || !a.passwordOK(pass) {
			writeJSON(w, http.StatusUnauthorized, errorBody("UNAUTHORIZED", "authentication required"))
			return
		}
	}

	g := grant{
		expires: time.Now().Add(tokenLifetime),
		repos:   repos,
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", "token generation failed")
		return
	}
	token := base64.RawURLEncoding.EncodeToString(raw)

	a.mu.Lock()
	now := time.Now()
	for t, old := range a.tokens {
		if now.After(old.expires) {
			delete(a.tokens, t)
		}
	}
	a.tokens[token] = g
	a.mu.Unlock()

	writeJSON(w, http.StatusOK, map[string]any{
		"token":        token,
		"access_token": token,
		"expires_in":   int(tokenLifetime / time.Second),
	})
}

// anonymousAllowed reports whether a token request without credentials may
// have the scopes asked for: pull, and only on public repositories.
func (a *authenticator) anonymousAllowed(repos map[string]access) bool {
	for repo, acc := range repos {
		if acc.push || !a.public[repo] {
			return false
		}
	}
	return true
}

func (a *authenticator) passwordOK(pass string) bool {
	if pass == "" {
		return false
	}
	ok := false
	for _, p := range a.passwords {
		// Compare against every entry so timing does not reveal which
		// (or whether an earlier) one matched.
		if subtle.ConstantTimeCompare([]byte(p), []byte(pass)) == 1 {
			ok = true
		}
	}
	return ok
}

// parseScopes grants everything asked for: the credentials are all-powerful
// as far as tokens go, and ghcr also issues the token first and refuses a
// forbidden write only when it happens (the ReadOnly 403). A scope parameter
// may itself hold several space-separated scopes, as go-containerregistry's
// OAuth2 flow sends them.
func parseScopes(params []string) map[string]access {
	repos := make(map[string]access)
	for _, param := range params {
		for _, scope := range strings.Fields(param) {
			// repository:NAME:ACTIONS, where only the ends are fixed.
			typ, rest, ok := strings.Cut(scope, ":")
			if !ok || typ != "repository" {
				continue
			}
			i := strings.LastIndex(rest, ":")
			if i < 0 {
				continue
			}
			name, actions := rest[:i], rest[i+1:]
			a := repos[name]
			for _, act := range strings.Split(actions, ",") {
				switch act {
				case "pull":
					a.pull = true
				case "push", "delete":
					a.push = true
				case "*":
					a.pull, a.push = true, true
				}
			}
			repos[name] = a
		}
	}
	return repos
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errorBody(code, message string) any {
	return struct {
		Errors []errorDetail `json:"errors"`
	}{[]errorDetail{{code, message}}}
}

// writeError sends a registry-API error with the headers distribution puts
// on every /v2/ response.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	writeJSON(w, status, errorBody(code, message))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed shapes get here.
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
