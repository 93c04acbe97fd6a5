package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	r := &registry{app: app, shaper: sh, counter: &counter{next: sh}}
	r.srv = &http.Server{Handler: r.counter, ReadHeaderTimeout: 10 * time.Second, ConnContext: withConnStart}
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
// flight at once. Its methods are safe for concurrent use.
type counter struct {
	next http.Handler

	mu    sync.Mutex
	reqs  []*request
	first time.Time
	// since is when the count began (the last reset).
	since      time.Time
	uploads    int
	maxUploads int
	conns      int
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

func (c *counter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := &request{At: time.Now(), Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery}
	isUpload := rec.upload()
	c.mu.Lock()
	// The first request on a connection began, for its client, when it
	// connected: the handshake (a round trip on the wide-area link) is part
	// of what the client waited for. Not before the count began, though: a
	// client may dial a connection it uses only later.
	if cs, ok := req.Context().Value(connKey{}).(*connStart); ok && !cs.served {
		cs.served = true
		if cs.at.After(c.since) {
			rec.At = cs.at
		}
	}
	if c.first.IsZero() || rec.At.Before(c.first) {
		c.first = rec.At
	}
	c.reqs = append(c.reqs, rec)
	if isUpload {
		c.uploads++
		c.maxUploads = max(c.maxUploads, c.uploads)
	}
	c.mu.Unlock()
	if isUpload {
		defer func() {
			c.mu.Lock()
			c.uploads--
			c.mu.Unlock()
		}()
	}
	if req.Body != nil {
		req.Body = &countingBody{ReadCloser: req.Body, c: c, n: &rec.In}
	}
	cw := &countingWriter{ResponseWriter: w, c: c, rec: rec}
	c.next.ServeHTTP(cw, req)
	c.mu.Lock()
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	rec.End = time.Now()
	c.mu.Unlock()
}

// reset forgets what was counted.
func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs, c.first, c.maxUploads, c.conns, c.since = nil, time.Time{}, 0, 0, time.Now()
}

// requests returns a copy of the requests counted since the last reset.
func (c *counter) requests() []request {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]request, len(c.reqs))
	for i, r := range c.reqs {
		out[i] = *r
	}
	return out
}

// counts sums what was counted since the last reset.
func (c *counter) counts() counts {
	reqs := c.requests()
	c.mu.Lock()
	k := counts{First: c.first, MaxUploads: c.maxUploads, Conns: c.conns}
	c.mu.Unlock()
	k.RoundTrips = roundTrips(reqs)
	for _, r := range reqs {
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

type countingBody struct {
	io.ReadCloser
	c *counter
	n *int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.c.mu.Lock()
		*b.n += int64(n)
		b.c.mu.Unlock()
	}
	return n, err
}

// countingWriter records the status and counts response body bytes.
type countingWriter struct {
	http.ResponseWriter
	c   *counter
	rec *request
}

func (w *countingWriter) WriteHeader(code int) {
	w.c.mu.Lock()
	if w.rec.Status == 0 && code >= 200 {
		w.rec.Status = code
	}
	w.c.mu.Unlock()
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.c.mu.Lock()
	if w.rec.Status == 0 {
		w.rec.Status = http.StatusOK
	}
	w.rec.Out += int64(n)
	w.c.mu.Unlock()
	return n, err
}

// Flush lets distribution, which probes for http.Flusher, flush through.
func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
