// Package githubtest is a fake of the GitHub REST API for tests and demos.
//
// Start serves recorded JSON responses (the files under testdata/github in
// this repository) on a local HTTP server, records every request it receives
// and can be told to fail every request with one of GitHub's error responses.
// It does not import "testing", so a demo program can use it as well as a
// test.
//
// The routes served, under both "/" and the GitHub Enterprise prefix
// "/api/v3/", are:
//
//	GET /repos/{owner}/{repo}               → repos/{owner}/{repo}.json
//	GET /repos/{owner}/{repo}/commits/{sha} → repos/{owner}/{repo}/commits/{sha}.json
//
// and, for packages given to ServePackage, the package-versions endpoints
// backed by a registry's real content (see Package).
//
// Like GitHub, owner and repository names are matched case-insensitively: the
// request path is lower-cased before the file is looked up, so file names in
// the fixture tree are lower case. HEAD is answered like GET, without a body.
// Any other method, path or a missing file gets GitHub's 404 response.
package githubtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request is one request received by an API.
type Request struct {
	Method string
	// Path is the URL path as received, still escaped (a nested package
	// name keeps its %2F), before any lower-casing or
	// prefix stripping (for example "/api/v3/repos/Acme/Widget").
	Path string
	// Authorization is the request's Authorization header. It is kept so
	// that tests can check which credentials were sent; it is never
	// logged, and String redacts it.
	Authorization string
}

// String formats r for humans with the credentials of its Authorization
// header redacted: only the scheme (such as "Bearer") is shown.
func (r Request) String() string {
	s := r.Method + " " + r.Path
	if r.Authorization == "" {
		return s
	}
	if scheme, _, ok := strings.Cut(r.Authorization, " "); ok {
		return s + " (Authorization: " + scheme + " [REDACTED])"
	}
	return s + " (Authorization: [REDACTED])"
}

// API is a running fake of the GitHub REST API.
type API struct {
	// URL is the base URL of the API with a trailing slash, such as
	// "http://127.0.0.1:34567/": what GITHUB_API_URL would hold, with "/"
	// appended. The same routes are also served under URL + "api/v3/".
	URL string

	srv   *httptest.Server
	fsys  fs.FS
	reset int64 // X-RateLimit-Reset, Unix seconds

	mu     sync.Mutex
	reqs   []Request
	fail   int
	misses map[string]int // fixture name → 404s still to give

	packages map[string]*served // "orgs/acme/widget" → versions served from a registry
	hook     func(Request)
}

// Start serves the files of fsys, an fs.FS rooted at testdata/github (for
// example os.DirFS("testdata/github")), on a new HTTP server listening on
// 127.0.0.1. It panics if it cannot listen. The caller must call Close.
func Start(fsys fs.FS) *API {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("githubtest: failed to listen on 127.0.0.1: %v", err))
	}
	a := &API{
		fsys:  fsys,
		reset: time.Now().Add(time.Hour).Unix(),
	}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(a.serveHTTP))
	a.srv.Listener.Close()
	a.srv.Listener = l
	a.srv.Start()
	a.URL = a.srv.URL + "/"
	return a
}

// Requests returns a copy of the requests received so far, oldest first.
// It is safe to call concurrently with requests being served.
func (a *API) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reqs)
}

// Fail makes every request from now on answer status with GitHub's JSON
// error body, such as {"message":"Bad credentials","documentation_url":
// "https://docs.github.com/rest"} for 401 or "Resource not accessible by
// integration" for 403. Requests are still recorded. Fail(0) restores normal
// serving. Fail panics if status is neither 0 nor in the range 200–599.
func (a *API) Fail(status int) {
	if status != 0 && (status < 200 || status > 599) {
		panic(fmt.Sprintf("githubtest: Fail(%d): status must be 0 or in 200–599", status))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = status
}

// Miss makes the next n requests for the fixture file name (for example
// "orgs/acme/packages/container/widget.json") answer 404, as GitHub does
// for a package in the moments after its first push.
func (a *API) Miss(name string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.misses == nil {
		a.misses = map[string]int{}
	}
	a.misses[name] = n
}

// Close shuts the server down, waiting for requests in flight. Requests
// keeps working after Close. Close may be called more than once.
func (a *API) Close() {
	a.srv.Close()
}

const (
	docsRoot     = "https://docs.github.com/rest"
	docsNotFound = "https://docs.github.com/rest/repos/repos#get-a-repository"
	enterprise   = "/api/v3"
)

// errorBody is the JSON body of GitHub's error responses.
type errorBody struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
}

// failMessages holds GitHub's messages for the statuses tests commonly ask
// for; other statuses use http.StatusText.
var failMessages = map[int]string{
	http.StatusUnauthorized:        "Bad credentials",
	http.StatusForbidden:           "Resource not accessible by integration",
	http.StatusNotFound:            "Not Found",
	http.StatusUnprocessableEntity: "Validation Failed",
	http.StatusTooManyRequests:     "API rate limit exceeded",
	http.StatusInternalServerError: "Server Error",
	http.StatusBadGateway:          "Server Error",
	http.StatusServiceUnavailable:  "Service Unavailable",
}

func (a *API) serveHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.reqs = append(a.reqs, Request{
		Method:        r.Method,
		Path:          r.URL.EscapedPath(),
		Authorization: r.Header.Get("Authorization"),
	})
	used := len(a.reqs)
	fail := a.fail
	hook := a.hook
	a.mu.Unlock()
	if hook != nil {
		hook(Request{Method: r.Method, Path: r.URL.EscapedPath(), Authorization: r.Header.Get("Authorization")})
	}

	a.setHeaders(w.Header(), r, used)

	switch fail {
	case 0:
	case http.StatusNotFound:
		writeError(w, http.StatusNotFound, "Not Found", docsNotFound)
		return
	default:
		msg := failMessages[fail]
		if msg == "" {
			msg = http.StatusText(fail)
		}
		writeError(w, fail, msg, docsRoot)
		return
	}

	// The escaped path: a nested package name arrives as widget%2Fsub,
	// one segment.
	if p, ok := strings.CutPrefix(strings.ToLower(r.URL.EscapedPath()), enterprise+"/"); ok {
		if a.servePackage(w, r, p) {
			return
		}
	} else if a.servePackage(w, r, strings.TrimPrefix(strings.ToLower(r.URL.EscapedPath()), "/")) {
		return
	}
	name, ok := route(r.Method, r.URL.EscapedPath())
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", docsNotFound)
		return
	}
	a.mu.Lock()
	miss := a.misses[name] > 0
	if miss {
		a.misses[name]--
	}
	a.mu.Unlock()
	if miss {
		writeError(w, http.StatusNotFound, "Not Found", docsNotFound)
		return
	}
	data, err := fs.ReadFile(a.fsys, name)
	if err != nil {
		writeError(w, http.StatusNotFound, "Not Found", docsNotFound)
		return
	}
	sum := sha256.Sum256(data)
	w.Header().Set("ETag", `W/"`+hex.EncodeToString(sum[:])+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data) // the client may have gone; nothing to do about it
}

// route returns the name in the fixture tree of the file that answers a
// request for method and urlPath, or false if no route matches.
func route(method, urlPath string) (string, bool) {
	if method != http.MethodGet && method != http.MethodHead {
		return "", false
	}
	p := strings.ToLower(urlPath)
	if rest, ok := strings.CutPrefix(p, enterprise+"/"); ok {
		p = "/" + rest
	}
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return "", false
	}
	seg := strings.Split(rest, "/")
	for _, s := range seg {
		if s == "" || s == "." || s == ".." || strings.ContainsRune(s, '\\') {
			return "", false
		}
	}
	var name string
	switch {
	case len(seg) == 3 && seg[0] == "repos":
		name = path.Join("repos", seg[1], seg[2]+".json")
	case len(seg) == 5 && seg[0] == "repos" && seg[3] == "commits":
		name = path.Join("repos", seg[1], seg[2], "commits", seg[4]+".json")
	case len(seg) == 2 && seg[0] == "users":
		name = path.Join("users", seg[1]+".json")
	case len(seg) == 5 && (seg[0] == "users" || seg[0] == "orgs") && seg[2] == "packages" && seg[3] == "container":
		// A nested name is one escaped segment, widget%2fsub once
		// lower-cased; its fixture is named so too.
		name = path.Join(seg[0], seg[1], "packages", "container", seg[4]+".json")
	default:
		return "", false
	}
	if !fs.ValidPath(name) {
		return "", false
	}
	return name, true
}

// setHeaders sets the headers GitHub sends with every REST response.
func (a *API) setHeaders(h http.Header, r *http.Request, used int) {
	limit, cache := 5000, "private, max-age=60, s-maxage=60"
	if r.Header.Get("Authorization") == "" {
		limit, cache = 60, "public, max-age=60, s-maxage=60"
	}
	h.Set("Server", "github.com")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", cache)
	h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP,Accept-Encoding, Accept, X-Requested-With")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(a.reset, 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("Access-Control-Expose-Headers", "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Strict-Transport-Security", "max-age=31536000; includeSubdomains; preload")
	h.Set("X-Frame-Options", "deny")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-XSS-Protection", "0")
	h.Set("Referrer-Policy", "origin-when-cross-origin, strict-origin-when-cross-origin")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("C0DE:%06X:%07X:%07X:%08X", a.reset&0xFFFFFF, used, used*7, a.reset))
}

// writeError answers status with GitHub's JSON error body.
func writeError(w http.ResponseWriter, status int, message, docs string) {
	if status == http.StatusNoContent || status == http.StatusNotModified {
		w.WriteHeader(status) // these statuses have no body
		return
	}
	body, err := json.Marshal(errorBody{Message: message, DocumentationURL: docs})
	if err != nil {
		panic(err) // cannot happen: errorBody holds two strings
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
