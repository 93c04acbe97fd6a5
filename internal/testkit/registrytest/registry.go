// Package registrytest runs a real OCI registry in process, fronted by
// authentication that behaves like ghcr.io's, for tests and demos.
//
// The registry itself is the CNCF distribution code
// (github.com/distribution/distribution/v3) with in-memory storage, not a
// hand-written fake: manifest validation, upload sessions, blob mounts and
// error bodies are whatever a production registry does, so code that works
// against it is likely to work against the real thing. Distribution's own
// token auth needs a signing key and a separate token server, and its access
// checks differ from GitHub's, so instead the registry runs without auth and a
// thin HTTP wrapper in front of it plays ghcr.io: a /token endpoint that swaps
// Basic credentials for opaque bearer tokens (and, without credentials, gives
// pull tokens for public repositories only, as ghcr.io does for public
// packages), 401 challenges in the form distribution emits, and ghcr's 403
// DENIED for packages the credentials may read but not write and for owners
// that no longer exist.
//
// The package deliberately does not import "testing", so that demo programs
// can start a registry too.
package registrytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/sirupsen/logrus"
)

// Options configure the registry's authentication.
type Options struct {
	// Passwords that the token endpoint accepts as the Basic-auth password
	// (any non-empty user name works, as on ghcr.io). An empty password
	// never matches. Empty: the registry needs no auth at all (anonymous
	// pull and push, no challenge).
	Passwords []string
	// ReadOnly lists repositories (e.g. "acme/locked") that a valid token
	// may pull but not push: any write there (POST/PUT/PATCH/DELETE under
	// /v2/<repo>/) gets 403 with body
	// {"errors":[{"code":"DENIED","message":"permission_denied: write_package"}]}
	// — ghcr's real wording. It applies in anonymous mode too.
	ReadOnly []string
	// Public lists repositories anyone may pull, as a public package on
	// ghcr.io: a token request with no credentials gets a pull token for
	// them, and for any other repository (a private package) 401
	// {"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}
	// (reported: openai/tunnel-client#75, 200 for the public package and
	// 401 for the private one). Only meaningful with Passwords set.
	Public []string
	// GoneOwners are namespaces that no longer exist, as after an owner is
	// renamed: any write under /v2/<owner>/ gets 403
	// {"errors":[{"code":"DENIED","message":"not_found: owner not found"}]}
	// — ghcr's wording, with no redirect to the new name — while reads find
	// nothing there (404).
	GoneOwners []string
	// ExpireTokens, when set, is asked about every registry request; when
	// it says yes, every token issued so far expires just before that
	// request is checked: a long push outliving its token.
	ExpireTokens func(r *http.Request) bool
}

// Registry is a running registry. Its methods are safe for concurrent use.
type Registry struct {
	host     string
	srv      *http.Server
	app      *handlers.App
	driver   storagedriver.StorageDriver // the app's storage, for Manifests
	ns       distribution.Namespace      // over driver, deletes enabled
	release  func()
	auth     *authenticator
	serveErr chan error

	closeOnce sync.Once
	closeErr  error

	// rec records every request, token endpoint included.
	rec *Recorder
}

// quietLogging is process-wide because distribution logs through logrus's
// standard logger and offers no per-instance logger from outside its
// internal packages. Even "error" level is too chatty: every blob existence
// check that misses (which each push does) logs "response completed with
// error". Requests() and the HTTP responses carry everything a caller needs.
var quietLogging sync.Once

// Start starts a registry listening on 127.0.0.1 on a free port.
func Start(opts Options) (*Registry, error) {
	quietLogging.Do(func() { logrus.SetLevel(logrus.FatalLevel) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("registrytest: listen: %w", err)
	}
	host := ln.Addr().String()

	drv, cfg, ns, release, err := newSharedDriver()
	if err != nil {
		ln.Close()
		return nil, err
	}
	app, err := NewDistribution(host, cfg)
	if err != nil {
		release()
		ln.Close()
		return nil, err
	}

	r := &Registry{
		host:     host,
		app:      app,
		driver:   drv,
		ns:       ns,
		release:  release,
		auth:     newAuthenticator(host, opts),
		serveErr: make(chan error, 1),
	}
	// Routed to the token endpoint or, through the auth checks, to
	// distribution.
	r.rec = NewRecorder(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.auth.serve(w, req, app) }), nil)
	r.srv = &http.Server{
		Handler:           r.rec,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { r.serveErr <- r.srv.Serve(ln) }()
	return r, nil
}

// NewDistribution builds a CNCF distribution registry application serving
// as host with the given storage (e.g. "inmemory", or "filesystem" with a
// rootdirectory), for this package and for benchmarks that need it on disk.
// The upload purger is turned off: it is a goroutine that sleeps for up to
// an hour and can never be stopped. NewApp reports configuration problems
// by panicking, which a helper used by demo programs must not pass on.
func NewDistribution(host string, storage configuration.Storage) (app *handlers.App, err error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("registrytest: http secret: %w", err)
	}
	cfg := &configuration.Configuration{Version: "0.1"}
	// NewApp itself ignores these (registry.NewRegistry applies them, and
	// adds the access log); they are set so the configuration states the
	// intent should it ever be served that way. quietLogging does the work.
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Addr = host
	// Upload state is HMAC'd with this; a fixed secret also stops
	// distribution warning about generating one.
	cfg.HTTP.Secret = hex.EncodeToString(secret)
	cfg.Storage = configuration.Storage{
		"maintenance": configuration.Parameters{
			"uploadpurging": map[interface{}]interface{}{"enabled": false},
		},
	}
	for k, v := range storage {
		cfg.Storage[k] = v
	}
	defer func() {
		if p := recover(); p != nil {
			app, err = nil, fmt.Errorf("registrytest: starting distribution: %v", p)
		}
	}()
	return handlers.NewApp(context.Background(), cfg), nil
}

// Host returns the registry's address, "127.0.0.1:PORT", for use in image
// references. Clients speak plain http to it.
func (r *Registry) Host() string { return r.host }

// Requests returns a copy of every request received since Start or the last
// ResetRequests, in order of arrival, token endpoint included (see
// Recorder.Requests).
func (r *Registry) Requests() []Request { return r.rec.Requests() }

// SettledRequests waits until every request received so far has been
// handled, then returns them as Requests does (see
// Recorder.SettledRequests).
func (r *Registry) SettledRequests() []Request { return r.rec.SettledRequests() }

// ResetRequests forgets the requests recorded so far.
func (r *Registry) ResetRequests() { r.rec.ResetRequests() }

// Close stops the server, dropping open connections, and releases the
// registry's contents. Calling it again returns the first call's result,
// so a demo's deferred Close can coexist with an explicit one.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		err := r.srv.Close()
		if serr := <-r.serveErr; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		if serr := r.app.Shutdown(); serr != nil && err == nil {
			err = serr
		}
		r.release()
		r.closeErr = err
	})
	return r.closeErr
}
