package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A link is a wide-area network between the tools and the registry, as a
// runner meets ghcr.io: every request waits one round trip before the
// registry sees it, a new TCP connection one more before its first byte
// (the handshake), and the bytes of request bodies (uploads) and response
// bodies (downloads) cross at a bandwidth each, every connection sharing it.
//
// It is not a proxy but a layer around the registry's listener and handler,
// as the counter is: a proxy would copy every byte once more through a
// second socket pair, which on a 2-core machine competes with the clients
// measured. For what is measured the two are the same: a request's bytes
// reach the registry one round trip after the client sent them, whether a
// proxy held them or the handler waited before reading them; an upload's
// body is read off the socket no faster than the bandwidth, so the client's
// socket buffer fills and its writes block, as behind a slow link (loopback
// buffers hold a few MiB, a real path's bandwidth-delay product about as
// much: 100 MB/s × 10 ms = 1 MB); a response's body is written no faster.
// What it leaves out: TLS (one more round trip per connection with TLS 1.3,
// which the tools pay alike), TCP slow start and loss.
type link struct {
	// rtt is the round trip time.
	rtt time.Duration
	// up paces request bodies and down response bodies: the two
	// directions of a full-duplex link, each shared by every connection.
	up, down *pacer
}

// newLink is a link with round trip rtt and bytesPerSecond each way.
func newLink(rtt time.Duration, bytesPerSecond float64) *link {
	return &link{rtt: rtt, up: newPacer(bytesPerSecond), down: newPacer(bytesPerSecond)}
}

func (l *link) String() string {
	return fmt.Sprintf("%s round trip per request and one more per new connection, %s each way", l.rtt, formatRate(l.up.rate))
}

// pacer is a token bucket on a virtual clock: free is when the link will
// have carried every byte reserved so far. A reservation moves free on by
// the bytes' transmission time and its caller sleeps until then (a timer,
// not a loop). Since free advances from its own value rather than from
// when a sleeper woke, a late wake-up does not slow the link down. An idle
// link saves up at most burst bytes.
type pacer struct {
	rate float64 // bytes per second
	// burst is the idle credit, as time at rate.
	burst time.Duration

	mu   sync.Mutex
	free time.Time
	// paced counts the bytes that crossed, for tests.
	paced int64
}

// pacerChunk is the most bytes one reservation takes: small enough that
// concurrent connections interleave finely, large enough that a GiB costs
// 16,384 timer sleeps.
const pacerChunk = 64 << 10

func newPacer(bytesPerSecond float64) *pacer {
	return &pacer{rate: bytesPerSecond, burst: time.Duration(float64(pacerChunk) / bytesPerSecond * float64(time.Second))}
}

// wait reserves n bytes of the link and sleeps until they have crossed it.
func (p *pacer) wait(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	if earliest := now.Add(-p.burst); p.free.Before(earliest) {
		p.free = earliest
	}
	p.free = p.free.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	until := p.free
	p.paced += int64(n)
	p.mu.Unlock()
	return sleep(ctx, time.Until(until))
}

// bytes is how many bytes crossed so far.
func (p *pacer) bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paced
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shaper is the handler half of a link: the round trip before the next
// handler sees the request, and the pacing of both bodies. With no link
// set it passes requests straight through (loopback).
type shaper struct {
	next http.Handler
	link atomic.Pointer[link]
}

func (s *shaper) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	l := s.link.Load()
	if l == nil {
		s.next.ServeHTTP(w, req)
		return
	}
	ctx := req.Context()
	if sleep(ctx, l.rtt) != nil {
		return // the client went away
	}
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &pacedBody{ReadCloser: req.Body, ctx: ctx, p: l.up}
	}
	s.next.ServeHTTP(&pacedWriter{ResponseWriter: w, ctx: ctx, p: l.down}, req)
}

// pacedBody is a request body read no faster than the link carries it.
type pacedBody struct {
	io.ReadCloser
	ctx context.Context
	p   *pacer
}

func (b *pacedBody) Read(buf []byte) (int, error) {
	if len(buf) > pacerChunk {
		buf = buf[:pacerChunk]
	}
	n, err := b.ReadCloser.Read(buf)
	if werr := b.p.wait(b.ctx, n); werr != nil && err == nil {
		err = werr
	}
	return n, err
}

// pacedWriter is a response written no faster than the link carries it.
type pacedWriter struct {
	http.ResponseWriter
	ctx context.Context
	p   *pacer
}

func (w *pacedWriter) Write(buf []byte) (int, error) {
	written := 0
	for len(buf) > 0 {
		chunk := buf[:min(len(buf), pacerChunk)]
		if err := w.p.wait(w.ctx, len(chunk)); err != nil {
			return written, err
		}
		n, err := w.ResponseWriter.Write(chunk)
		written += n
		if err != nil {
			return written, err
		}
		buf = buf[n:]
	}
	return written, nil
}

// Flush lets distribution, which probes for http.Flusher, flush through.
func (w *pacedWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *pacedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// shapedListener is the connection half of a link: it counts the
// connections accepted, and a connection accepted while a link is set
// delivers its first byte one round trip after it was accepted, the TCP
// handshake's cost, which a tool that opens many connections pays many
// times. The wait is in the connection's first Read, so that Accept (one
// goroutine for every connection) never waits.
type shapedListener struct {
	net.Listener
	s *shaper
	// accepted counts connections.
	accepted func()
}

func (l *shapedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	l.accepted()
	if lk := l.s.link.Load(); lk != nil {
		return &handshakeConn{Conn: c, ready: time.Now().Add(lk.rtt)}, nil
	}
	return c, nil
}

// handshakeConn holds its first Read until ready.
type handshakeConn struct {
	net.Conn
	ready time.Time
	once  sync.Once
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	c.once.Do(func() { time.Sleep(time.Until(c.ready)) })
	return c.Conn.Read(b)
}

// parseRate reads a bandwidth: 100MB/s, 1GB/s, 50MiB/s (the /s may be
// left out), or a plain count of bytes per second. MB and GB are decimal,
// as link speeds are quoted.
func parseRate(in string) (float64, error) {
	s := strings.TrimSuffix(strings.TrimSpace(in), "/s")
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"KB", 1e3}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = num, u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 || n*mult < 1e3 {
		return 0, fmt.Errorf("bandwidth %q: want e.g. 100MB/s or 1GB/s (at least 1kB/s)", in)
	}
	return n * mult, nil
}

// formatRate writes a bandwidth as parseRate reads it.
func formatRate(r float64) string {
	switch {
	case r >= 1e9:
		return strconv.FormatFloat(r/1e9, 'g', 4, 64) + " GB/s"
	case r >= 1e6:
		return strconv.FormatFloat(r/1e6, 'g', 4, 64) + " MB/s"
	}
	return strconv.FormatFloat(r/1e3, 'g', 4, 64) + " kB/s"
}
