package registrytest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault is a way a registry or the network misbehaves.
type Fault string

const (
	// Unavailable answers 503 with distribution's UNAVAILABLE error.
	Unavailable Fault = "503"
	// ServerError answers 500 with distribution's UNKNOWN error.
	ServerError Fault = "500"
	// RateLimited answers 429 TOOMANYREQUESTS with Retry-After: 1.
	RateLimited Fault = "429"
	// Reset reads part of the request, then resets the connection.
	Reset Fault = "reset"
	// Slow forwards the request after a pause.
	Slow Fault = "slow"
	// Trickle forwards the request but reads its body slowly, as a
	// congested link would: an upload in progress for a long time.
	Trickle Fault = "trickle"
	// GHCRRateLimited answers 429 as ghcr.io does: no Retry-After header,
	// the wait in the message ("retry-after: 10.305464ms, allowed:
	// 2000/minute").
	GHCRRateLimited Fault = "429-ghcr"
	// SecondaryRateLimit answers 403 with GitHub's "secondary rate limit"
	// message: a request to slow down, not a denial.
	SecondaryRateLimit Fault = "403-secondary"
	// UploadUnknown answers 404 BLOB_UPLOAD_UNKNOWN, as registries do at
	// the end of an upload whose session they lost.
	UploadUnknown Fault = "upload-unknown"
	// ManifestBlobUnknown answers a manifest write with 400
	// MANIFEST_BLOB_UNKNOWN, as if a blob it references were missing.
	ManifestBlobUnknown Fault = "manifest-blob-unknown"
	// Cut forwards the first 64 KiB of the request body to the registry,
	// then resets the client's connection: an upload that dropped half
	// way, which the registry kept the start of.
	Cut Fault = "cut"
	// StaleTag answers a read of a manifest by tag with 404
	// MANIFEST_UNKNOWN, as ghcr.io's tag reads do for a while after a
	// push at times: the tag was written, and reads as missing.
	StaleTag Fault = "stale-tag"
	// CutAnswer forwards the registry's answer but ends its body after
	// 64 KiB with the connection reset: a blob download that broke off.
	CutAnswer Fault = "cut-answer"
	// SecondaryRateLimitWait is SecondaryRateLimit with a Retry-After: 1
	// header, as GitHub sends with some secondary rate limits.
	SecondaryRateLimitWait Fault = "403-secondary-retry-after"
	// GatewayTimeout answers 504 with the HTML page of a load balancer
	// whose backend did not answer in time, as ghcr.io has answered pushes
	// (reported 2025-2026): a transient fault, the request never landed.
	GatewayTimeout Fault = "504"
	// Hang reads the request and never answers, until the client gives up
	// or the proxy closes: a token endpoint that times out
	// ("Client.Timeout exceeded while awaiting headers", reported:
	// docker/login-action#989). It is not in Faults: only a client with a
	// clock of its own (registryhttp's stall and token timeouts) gets past it.
	Hang Fault = "hang"
	// ManifestInvalid answers a manifest write with 400 MANIFEST_INVALID,
	// as a registry does for a manifest it will not store (one refusing a
	// media type or field the others accept): a refusal no retry gets
	// past. It is not in Faults, which a client must converge under.
	ManifestInvalid Fault = "manifest-invalid"
)

// Faults lists every kind but Hang and ManifestInvalid, for tests that
// cover them all.
var Faults = []Fault{Unavailable, RateLimited, Reset, Slow, Trickle, GHCRRateLimited, SecondaryRateLimit, UploadUnknown, ManifestBlobUnknown, Cut, StaleTag, CutAnswer, SecondaryRateLimitWait, GatewayTimeout}

// Random is a seeded random fault process: each request that want accepts
// gets fault f with probability rates[f] (the rates add up to at most 1),
// drawn in arrival order from a generator seeded with seed (a fault drawn
// for a request it does not apply to is not injected). Which request
// gets which fault depends on the order requests arrive in; a client that
// converges must converge under every such draw.
func Random(seed uint64, rates map[Fault]float64, want func(r *http.Request) bool) Schedule {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	kinds := make([]Fault, 0, len(rates))
	for f := range rates {
		kinds = append(kinds, f)
	}
	slices.Sort(kinds)
	var mu sync.Mutex
	return func(n int, r *http.Request) Fault {
		if want != nil && !want(r) {
			return ""
		}
		mu.Lock()
		x := rng.Float64()
		mu.Unlock()
		for _, f := range kinds {
			if x < rates[f] {
				if !f.Applies(r) {
					return ""
				}
				return f
			}
			x -= rates[f]
		}
		return ""
	}
}

// Applies reports whether f makes sense for r: the upload and manifest
// errors only where a registry gives them, a cut only where there is a
// body to cut; every other fault anywhere.
func (f Fault) Applies(r *http.Request) bool {
	switch f {
	case UploadUnknown:
		return (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/")
	case ManifestBlobUnknown, ManifestInvalid:
		return ManifestWrites(r)
	case Cut:
		return r.Method == http.MethodPatch || r.Method == http.MethodPut
	case StaleTag:
		return TagReads(r)
	case CutAnswer:
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
	case SecondaryRateLimit, SecondaryRateLimitWait:
		// The message is all that tells it from a denial, and an answer
		// to HEAD has no body.
		return r.Method != http.MethodHead
	}
	return true
}

// First gives fault f to the first n requests that match, then none: a
// fixed number of faults, whatever order the requests arrive in.
func First(n int, f Fault, match func(*http.Request) bool) Schedule {
	var mu sync.Mutex
	seen := 0
	return func(_ int, r *http.Request) Fault {
		if !match(r) {
			return ""
		}
		mu.Lock()
		defer mu.Unlock()
		if seen >= n {
			return ""
		}
		seen++
		return f
	}
}

// Writes matches the requests that write: POST, PATCH, PUT, DELETE.
func Writes(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

// TagReads matches reads of a manifest by tag (not by digest).
func TagReads(r *http.Request) bool {
	_, ref, ok := strings.Cut(r.URL.Path, "/manifests/")
	return ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !strings.HasPrefix(ref, "sha256:")
}

// TokenRequests matches requests to the token endpoint (the Bearer realm),
// which only reach a FaultProxy made WithTokenRequests.
func TokenRequests(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/v2/") }

// ManifestWrites matches manifest writes, by tag or by digest.
func ManifestWrites(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
}

// Commits matches blob upload commits: PUT to an upload session.
func Commits(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")
}

// Schedule picks the fault, if any, for the nth request (counting from 1).
type Schedule func(n int, r *http.Request) Fault

// FaultProxy stands in front of a registry on loopback and injects faults
// into the requests it forwards, counting what it injected.
type FaultProxy struct {
	target   string // the registry's HOST:PORT
	srv      *httptest.Server
	proxy    *httputil.ReverseProxy
	schedule Schedule

	mu       sync.Mutex
	n        int
	injected map[Fault]int
	log      []Event
	bytesIn  int64
}

// Event is one request the proxy handled.
type Event struct {
	At     time.Time
	Method string
	Path   string
	Fault  Fault
}

// ProxyOption changes what a FaultProxy does.
type ProxyOption func(*FaultProxy)

// WithTokenRequests routes the token exchange through the proxy too: the
// registry's challenge names the proxy's /token as its realm instead of
// the registry's own, so that faults reach the token endpoint. Without
// it, clients fetch tokens from the registry directly.
func WithTokenRequests() ProxyOption {
	return func(p *FaultProxy) {
		p.proxy.ModifyResponse = func(resp *http.Response) error {
			if c := resp.Header.Get("WWW-Authenticate"); c != "" {
				resp.Header.Set("WWW-Authenticate", strings.Replace(c, "http://"+p.target+"/token", "http://"+p.Host()+"/token", 1))
			}
			return nil
		}
	}
}

// NewFaultProxy forwards to the registry at host (HOST:PORT, plain HTTP).
// Registry answers carry the proxy's host in their Location headers, since
// the Host header is passed through.
func NewFaultProxy(host string, schedule Schedule, opts ...ProxyOption) *FaultProxy {
	target := &url.URL{Scheme: "http", Host: host}
	p := &FaultProxy{
		target:   host,
		proxy:    httputil.NewSingleHostReverseProxy(target),
		schedule: schedule,
		injected: map[Fault]int{},
	}
	// A dropped client is what these tests cause on purpose: say nothing.
	p.proxy.ErrorLog = log.New(io.Discard, "", 0)
	p.proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Value(cutKey{}) != nil {
			reset(w)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	for _, o := range opts {
		o(p)
	}
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

// BytesIn counts the request body bytes that reached the proxy, faults or
// not: what the clients sent, resent bytes included.
func (p *FaultProxy) BytesIn() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytesIn
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
	if r.Body != nil {
		r.Body = &countingBody{ReadCloser: r.Body, add: func(n int64) {
			p.mu.Lock()
			p.bytesIn += n
			p.mu.Unlock()
		}}
	}

	switch f {
	case Unavailable:
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "service unavailable")
	case ServerError:
		writeError(w, http.StatusInternalServerError, "UNKNOWN", "unknown error")
	case RateLimited:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many requests")
	case GHCRRateLimited:
		writeError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "retry-after: 10.305464ms, allowed: 2000/minute")
	case SecondaryRateLimit:
		writeError(w, http.StatusForbidden, "DENIED", secondaryRateLimitMessage)
	case SecondaryRateLimitWait:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusForbidden, "DENIED", secondaryRateLimitMessage)
	case GatewayTimeout:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusGatewayTimeout)
		io.WriteString(w, "<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1></center></body></html>\n")
	case Hang:
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	case UploadUnknown:
		io.Copy(io.Discard, r.Body)
		writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
	case ManifestBlobUnknown:
		io.Copy(io.Discard, r.Body)
		writeError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry")
	case ManifestInvalid:
		io.Copy(io.Discard, r.Body)
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid")
	case Reset:
		// Take part of the body, as a connection dropping mid-upload does,
		// then close the socket with a reset rather than a clean FIN.
		io.CopyN(io.Discard, r.Body, 4096)
		reset(w)
	case Cut:
		// The registry gets the start of the body, then the request ends
		// early; the client's connection is reset.
		r = r.WithContext(context.WithValue(r.Context(), cutKey{}, true))
		r.Body = &cut{r: r.Body, left: 64 << 10}
		p.proxy.ServeHTTP(w, r)
	case StaleTag:
		writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
	case CutAnswer:
		p.proxy.ServeHTTP(&cutAnswer{ResponseWriter: w, left: 64 << 10}, r)
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

// secondaryRateLimitMessage is GitHub's wording (reported:
// markrussinovich/refchecker#67).
const secondaryRateLimitMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."

// reset closes the client's connection with a reset rather than a clean
// FIN.
func reset(w http.ResponseWriter) {
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
}

type cutKey struct{}

// cut ends a body early, with an error, after left bytes.
type cut struct {
	r    io.ReadCloser
	left int
}

func (c *cut) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if len(b) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= n
	return n, err
}

func (c *cut) Close() error { return c.r.Close() }

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

// cutAnswer passes an answer's body through up to left bytes, then resets
// the connection.
type cutAnswer struct {
	http.ResponseWriter
	left int
}

func (c *cutAnswer) Write(b []byte) (int, error) {
	if len(b) <= c.left {
		c.left -= len(b)
		return c.ResponseWriter.Write(b)
	}
	n, _ := c.ResponseWriter.Write(b[:c.left])
	c.left = 0
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	reset(c.ResponseWriter)
	// The reverse proxy stops copying; the client sees its body end
	// with the reset.
	return n, http.ErrAbortHandler
}

// Hijack lets reset reach the connection.
func (c *cutAnswer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return c.ResponseWriter.(http.Hijacker).Hijack()
}
