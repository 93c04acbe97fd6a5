package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // registers the "filesystem" driver
	"github.com/sirupsen/logrus"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// registry is the CNCF distribution registry, in process, storing on disk
// as a production registry does (the reference figures were taken against
// distribution on disk), behind a counter of what crosses the wire. The
// counter is an http.Handler in front of the registry's own rather than a
// reverse proxy, so that counting costs no extra copy of every byte: on a
// 2-core machine a proxy would compete with the clients being measured.
type registry struct {
	// host is where the registry listens now; see rehost.
	host string
	srv  *http.Server
	app  *handlers.App
	*counter
	// shaper sits between the counter and the registry, so that a
	// request's counted time includes its round trip, as its client sees it.
	shaper *shaper

	mu       sync.Mutex
	serving  sync.WaitGroup
	serveErr error
}

// startRegistry serves a registry storing under root on a free loopback
// port. Anyone may pull and push (no auth), and manifests may be deleted,
// which resets a scenario between runs.
func startRegistry(root string) (*registry, error) {
	// Distribution logs through logrus's standard logger; every HEAD that
	// misses (each push does some) would log an error.
	logrus.SetLevel(logrus.FatalLevel)
	app, err := registrytest.NewDistribution("127.0.0.1:0", configuration.Storage{
		"filesystem": configuration.Parameters{"rootdirectory": root},
		"delete":     configuration.Parameters{"enabled": true},
	})
	if err != nil {
		return nil, err
	}
	sh := &shaper{next: app}
	r := &registry{app: app, shaper: sh, counter: newCounter(sh)}
	r.srv = &http.Server{Handler: r.counter.rec, ReadHeaderTimeout: 10 * time.Second, ConnContext: withConnStart}
	if err := r.rehost(); err != nil {
		r.app.Shutdown()
		return nil, err
	}
	return r, nil
}

// rehost makes the registry listen on one more free loopback port, and
// names it in host. Each run gets a new one: tools that remember what a
// registry holds (skopeo keeps a blob-info cache keyed by registry host,
// in /var/lib/containers/cache when root) would otherwise mount blobs that
// an earlier run uploaded, and a cold push would not be cold. The storage
// behind every port is the same.
func (r *registry) rehost() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	r.host = ln.Addr().String()
	ln = &shapedListener{Listener: ln, s: r.shaper, accepted: r.counter.accepted}
	r.serving.Add(1)
	go func() {
		defer r.serving.Done()
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.mu.Lock()
			r.serveErr = err
			r.mu.Unlock()
		}
	}()
	return nil
}

// shape puts the registry behind l from now on (nil: loopback).
func (r *registry) shape(l *link) { r.shaper.link.Store(l) }

// close stops serving on every port and releases the registry.
func (r *registry) close() error {
	err := r.srv.Close()
	r.serving.Wait()
	r.mu.Lock()
	if r.serveErr != nil && err == nil {
		err = r.serveErr
	}
	r.mu.Unlock()
	if serr := r.app.Shutdown(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// request is what the counter saw of one request.
type request struct {
	// At is when the request began: when it arrived, or, for the first
	// request on a connection, when the connection was accepted. End is
	// when its response was written (zero while it runs).
	At, End             time.Time
	Method, Path, Query string
	Status              int
	// In and Out are request and response body bytes.
	In, Out int64
}

// upload reports whether the request carries blob content: a PATCH or PUT
// to an upload session (distribution spec, "Pushing blobs").
func (r request) upload() bool {
	return (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.Path, "/blobs/uploads/")
}

// mount reports whether the request asks for a cross-repository mount.
func (r request) mount() bool {
	return r.Method == http.MethodPost && strings.Contains(r.Query, "mount=")
}

// manifestPut reports whether the request writes a manifest.
func (r request) manifestPut() bool {
	return r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/")
}

// counter counts requests and body bytes, and the most blob uploads in
// flight at once. registrytest's Recorder records each request (its
// status, body bytes both ways, start and end); the counter adds when a
// request began for its client, the uploads in flight and the connections.
// Its methods are safe for concurrent use.
type counter struct {
	rec *registrytest.Recorder

	mu sync.Mutex
	// since is when the count began (the last reset).
	since      time.Time
	uploads    int
	maxUploads int
	conns      int
}

// newCounter counts what next serves.
func newCounter(next http.Handler) *counter {
	c := &counter{}
	c.rec = registrytest.NewRecorder(c.gauge(next), c.began)
	return c
}

// accepted counts a new connection.
func (c *counter) accepted() {
	c.mu.Lock()
	c.conns++
	c.mu.Unlock()
}

// connKey holds a connection's *connStart in its requests' contexts.
type connKey struct{}

// connStart is when a connection was accepted, and whether a request has
// come through it yet.
type connStart struct {
	at     time.Time
	served bool
}

// withConnStart is the server's ConnContext: it runs as a connection is
// accepted.
func withConnStart(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connStart{at: time.Now()})
}

// began says when req began for its client. The first request on a
// connection began when it connected: the handshake (a round trip on the
// wide-area link) is part of what the client waited for. Not before the
// count began, though: a client may dial a connection it uses only later.
func (c *counter) began(req *http.Request) time.Time {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs, ok := req.Context().Value(connKey{}).(*connStart); ok && !cs.served {
		cs.served = true
		if cs.at.After(c.since) {
			return cs.at
		}
	}
	return now
}

// gauge keeps the most blob uploads in flight at once.
func (c *counter) gauge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !(request{Method: req.Method, Path: req.URL.Path}).upload() {
			next.ServeHTTP(w, req)
			return
		}
		c.mu.Lock()
		c.uploads++
		c.maxUploads = max(c.maxUploads, c.uploads)
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.uploads--
			c.mu.Unlock()
		}()
		next.ServeHTTP(w, req)
	})
}

// reset forgets what was counted.
func (c *counter) reset() {
	c.rec.ResetRequests()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxUploads, c.conns, c.since = 0, 0, time.Now()
}

// requests returns a copy of the requests counted since the last reset.
func (c *counter) requests() []request {
	recorded := c.rec.Requests()
	out := make([]request, len(recorded))
	for i, r := range recorded {
		out[i] = request{At: r.Start, End: r.End, Method: r.Method, Path: r.Path, Query: r.RawQuery, Status: r.Status, In: r.BodyBytes, Out: r.ResponseBytes}
	}
	return out
}

// counts sums what was counted since the last reset.
func (c *counter) counts() counts {
	reqs := c.requests()
	c.mu.Lock()
	k := counts{MaxUploads: c.maxUploads, Conns: c.conns}
	c.mu.Unlock()
	k.RoundTrips = roundTrips(reqs)
	for _, r := range reqs {
		if k.First.IsZero() || r.At.Before(k.First) {
			k.First = r.At
		}
		k.Requests++
		k.Up += r.In
		k.Down += r.Out
		switch {
		case r.upload():
			k.BlobUp += r.In
		case r.mount():
			k.Mounts++
		case r.manifestPut():
			k.ManifestPuts++
		}
		if r.Status >= 400 && r.Status != http.StatusNotFound {
			k.Errors++
		}
	}
	return k
}

// counts is what crossed the wire during one run.
type counts struct {
	Requests int
	// Up and Down are request and response body bytes; BlobUp is the part
	// of Up that was blob content.
	Up, Down, BlobUp int64
	Mounts           int
	ManifestPuts     int
	// Errors counts answers >= 400 other than 404, which existence checks
	// expect.
	Errors     int
	MaxUploads int
	// RoundTrips is the longest chain of requests each of which started
	// after the one before it had ended: the round trips a client waited
	// for one after another (see roundTrips).
	RoundTrips int
	// Conns counts the connections the registry accepted.
	Conns int
	// First is when the first request began: when its connection was
	// accepted.
	First time.Time
}
