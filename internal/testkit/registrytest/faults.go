package registrytest

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Fault is a way a registry or the network misbehaves.
type Fault string

const (
	// Unavailable answers 503 with distribution's UNAVAILABLE error.
	Unavailable Fault = "503"
	// RateLimited answers 429 TOOMANYREQUESTS with Retry-After: 1.
	RateLimited Fault = "429"
	// Reset reads part of the request, then resets the connection.
	Reset Fault = "reset"
	// Slow forwards the request after a pause.
	Slow Fault = "slow"
	// Trickle forwards the request but reads its body slowly, as a
	// congested link would: an upload in progress for a long time.
	Trickle Fault = "trickle"
)

// Schedule picks the fault, if any, for the nth request (counting from 1).
type Schedule func(n int, r *http.Request) Fault

// FaultProxy stands in front of a registry on loopback and injects faults
// into the requests it forwards, counting what it injected.
type FaultProxy struct {
	srv      *httptest.Server
	proxy    *httputil.ReverseProxy
	schedule Schedule

	mu       sync.Mutex
	n        int
	injected map[Fault]int
	log      []Event
}

// Event is one request the proxy handled.
type Event struct {
	At     time.Time
	Method string
	Path   string
	Fault  Fault
}

// NewFaultProxy forwards to the registry at host (HOST:PORT, plain HTTP).
// Registry answers carry the proxy's host in their Location headers, since
// the Host header is passed through.
func NewFaultProxy(host string, schedule Schedule) *FaultProxy {
	target := &url.URL{Scheme: "http", Host: host}
	p := &FaultProxy{
		proxy:    httputil.NewSingleHostReverseProxy(target),
		schedule: schedule,
		injected: map[Fault]int{},
	}
	// A dropped client is what these tests cause on purpose: say nothing.
	p.proxy.ErrorLog = log.New(io.Discard, "", 0)
	p.proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusBadGateway)
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

// Host is the proxy's HOST:PORT, to use as the registry.
func (p *FaultProxy) Host() string { return p.srv.Listener.Addr().String() }

// Injected counts the faults injected so far, by kind.
func (p *FaultProxy) Injected() map[Fault]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Fault]int, len(p.injected))
	for k, v := range p.injected {
		out[k] = v
	}
	return out
}

// Events lists the requests handled so far, in order.
func (p *FaultProxy) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.log...)
}

// Close stops the proxy, cutting connections still trickling data a
// cancelled client left in the socket buffers.
func (p *FaultProxy) Close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.n++
	var f Fault
	if p.schedule != nil {
		f = p.schedule(p.n, r)
	}
	if f != "" {
		p.injected[f]++
	}
	p.log = append(p.log, Event{At: time.Now(), Method: r.Method, Path: r.URL.Path, Fault: f})
	p.mu.Unlock()

	switch f {
	case Unavailable:
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "service unavailable")
	case RateLimited:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many requests")
	case Reset:
		// Take part of the body, as a connection dropping mid-upload does,
		// then close the socket with a reset rather than a clean FIN.
		io.CopyN(io.Discard, r.Body, 4096)
		hj, ok := w.(http.Hijacker)
		if !ok {
			writeError(w, http.StatusBadGateway, "UNKNOWN", "cannot reset")
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			tcp.SetLinger(0)
		}
		conn.Close()
	case Slow:
		time.Sleep(200 * time.Millisecond)
		p.proxy.ServeHTTP(w, r)
	case Trickle:
		r.Body = &trickle{r: r.Body, ctx: r.Context().Done()}
		p.proxy.ServeHTTP(w, r)
	default:
		p.proxy.ServeHTTP(w, r)
	}
}

// trickle reads 16 KiB every 100 ms.
type trickle struct {
	r   io.ReadCloser
	ctx <-chan struct{}
}

func (t *trickle) Read(b []byte) (int, error) {
	select {
	case <-time.After(100 * time.Millisecond):
	case <-t.ctx:
		return 0, fmt.Errorf("client went away")
	}
	if len(b) > 16<<10 {
		b = b[:16<<10]
	}
	return t.r.Read(b)
}

func (t *trickle) Close() error { return t.r.Close() }
