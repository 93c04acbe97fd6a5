// Package registryhttp holds the one retry policy for every request the
// action sends to a registry: source reads, the push probe, blob uploads
// and mounts, manifest and tag writes, and the token exchanges behind them.
//
// A Retrier is made once per publish from a Policy. Its Transport retries
// each request on its own (not a whole blob, not a whole push) with
// exponential backoff and full jitter, inside one time budget shared by
// the whole publish and bounded by the request's context. Callers that
// must redo more than one request after a fault (a blob upload the
// registry forgot, a manifest whose blobs went missing) pace themselves
// with Wait, under the same budget.
//
// Stall detection is here too (Stalls, in stall.go): a request that stops
// moving fails with an error that wraps ErrStalled, which the Retrier
// retries. A transport below that gives up on its own should do the same,
// or return a net.Error whose Timeout() is true; nothing below should
// retry on its own, or retries multiply.
package registryhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Policy says how failed registry requests are retried. The zero value
// means the defaults given on each field.
type Policy struct {
	// Base caps the first wait; each further attempt doubles the cap, up
	// to Max. The wait itself is drawn uniformly below the cap ("full
	// jitter"), so that parallel uploads that failed together do not
	// retry together. Default 500 ms.
	Base time.Duration
	// Max caps any one backoff wait. Default 30 s.
	Max time.Duration
	// Budget is the time a publish may spend retrying, counted from the
	// Retrier's creation: once the next wait would end after it, the last
	// answer stands. The context's deadline (the job's timeout) bounds it
	// too. Default 5 minutes.
	Budget time.Duration
	// MaxRetryAfter caps how long a registry's Retry-After can hold one
	// request. Default 60 s.
	MaxRetryAfter time.Duration
	// TokenTimeout is how long a token request may go without a byte
	// moving before it is given up and retried. Default
	// DefaultTokenTimeout.
	TokenTimeout time.Duration
	// Lookup bounds a lookup (see Retrier.Lookup): all its requests,
	// retries and waits together. Default DefaultLookup.
	Lookup time.Duration
	// Seed seeds the jitter, so that tests replay the same waits. Zero
	// seeds from the clock.
	Seed uint64
	// Logf, when set, receives one line per retry: what failed and how
	// long the wait is.
	Logf func(format string, args ...any)
}

// Defaults.
const (
	DefaultBase          = 500 * time.Millisecond
	DefaultMax           = 30 * time.Second
	DefaultBudget        = 5 * time.Minute
	DefaultMaxRetryAfter = 60 * time.Second
	DefaultLookup        = 10 * time.Second
)

// LookupAttempts is how many times a lookup sends one request at most:
// a registry that fails it three times running is not going to answer
// within a lookup's few seconds.
const LookupAttempts = 3

// ErrStalled is what a request that stopped moving fails with (a
// *StallError from Stalls wraps it); the Retrier retries it.
var ErrStalled = errors.New("registry response stalled")

// Retrier applies a Policy for one publish. Its methods are safe for
// concurrent use.
type Retrier struct {
	p        Policy
	deadline time.Time

	mu         sync.Mutex
	rand       *rand.Rand
	onThrottle []func()
	// logMu keeps lines whole: parallel uploads retry at once.
	logMu sync.Mutex
}

// New starts p's budget now.
func New(p Policy) *Retrier {
	if p.Base <= 0 {
		p.Base = DefaultBase
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.Budget <= 0 {
		p.Budget = DefaultBudget
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if p.TokenTimeout <= 0 {
		p.TokenTimeout = DefaultTokenTimeout
	}
	if p.Lookup <= 0 {
		p.Lookup = DefaultLookup
	}
	seed := p.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	return &Retrier{p: p, deadline: time.Now().Add(p.Budget), rand: rand.New(rand.NewPCG(seed, seed>>1|1))}
}

// OnThrottle registers f to be called whenever the registry says it is
// being asked too much (429, or a 403 "secondary rate limit"), so that a
// caller can send less at once for the rest of the publish.
func (r *Retrier) OnThrottle(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onThrottle = append(r.onThrottle, f)
}

func (r *Retrier) throttled() {
	r.mu.Lock()
	fs := append([]func(){}, r.onThrottle...)
	r.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// backoff is the full-jitter wait before retry number attempt (from 1).
func (r *Retrier) backoff(attempt int) time.Duration {
	ceiling := r.p.Max
	if attempt < 32 {
		ceiling = min(r.p.Max, r.p.Base<<(attempt-1))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Duration(r.rand.Int64N(int64(ceiling) + 1))
}

// Wait holds a caller back before retry number attempt (from 1) of
// something that failed with cause, for at least atLeast (a registry's
// Retry-After). It returns nil when the caller may try again, or cause
// (wrapped with why not) when the budget or ctx would run out first.
func (r *Retrier) Wait(ctx context.Context, attempt int, atLeast time.Duration, cause error) error {
	if tries, ok := ctx.Value(lookupKey{}).(int); ok && attempt >= tries {
		return fmt.Errorf("%w (gave up: a lookup tries %d times)", cause, tries)
	}
	wait := max(r.backoff(attempt), min(atLeast, r.p.MaxRetryAfter))
	if time.Now().Add(wait).After(r.deadline) {
		why := fmt.Sprintf("the %s retry budget is spent", r.p.Budget)
		if Throttled(cause) {
			why = fmt.Sprintf("the registry kept rate limiting this run past the %s retry budget", r.p.Budget)
		}
		err := fmt.Errorf("%w (gave up: %s)", cause, why)
		r.logf("registry: %v", err)
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
		return cause
	}
	r.logf("registry: %v; retrying in %s (attempt %d)", cause, wait.Round(time.Millisecond), attempt+1)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return cause
	}
}

func (r *Retrier) logf(format string, args ...any) {
	if r.p.Logf == nil {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	r.p.Logf(format, args...)
}

// Transport retries every request through base that failed in a way worth
// another try, as long as its body can be sent again (no body, or
// GetBody set). Requests whose body cannot be replayed (a blob streamed
// from a reader) are sent once: their caller knows how to resume.
func (r *Retrier) Transport(base http.RoundTripper) http.RoundTripper {
	return &transport{r: r, base: base}
}

type transport struct {
	r    *Retrier
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable {
		return t.base.RoundTrip(req)
	}
	if req.Body != nil && req.Body != http.NoBody {
		// Every attempt reads a fresh copy, the first too: a transport
		// above (go-containerregistry's bearer, after a 401) may send this
		// same request again, and its body must still be whole.
		req.Body.Close()
	}
	for attempt := 1; ; attempt++ {
		try := req
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			try = req.Clone(req.Context())
			try.Body = body
		}
		resp, err := t.base.RoundTrip(try)
		retry, atLeast, cause := t.r.Classify(req.Context(), resp, err)
		if !retry {
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		if werr := t.r.Wait(req.Context(), attempt, atLeast, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), cause)); werr != nil {
			if resp != nil {
				// The registry's last answer, whole, for the caller to read.
				resp.Body = io.NopCloser(bytes.NewReader(cause.(*statusError).body))
				return resp, nil
			}
			return nil, err
		}
	}
}

// statusError is a retryable answer, kept to be returned as it was.
type statusError struct {
	status int
	body   []byte
}

func (e *statusError) Error() string {
	msg := strings.TrimSpace(string(e.body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), msg)
}

// Classify says whether an answer (resp, err) to a request made with ctx
// is worth another try, how long the registry asked to wait at least, and
// what went wrong. A retryable response's body is read (and put back, for
// a caller who reads it after all); a throttling answer tells those
// registered with OnThrottle.
func (r *Retrier) Classify(ctx context.Context, resp *http.Response, err error) (retry bool, atLeast time.Duration, cause error) {
	if ctx.Err() != nil {
		return false, 0, nil
	}
	if err != nil {
		return Temporary(err), 0, err
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusForbidden,
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		499, // nginx: client closed request
		522: // Cloudflare: connection timed out
	default:
		return false, 0, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	throttle := throttling(resp.StatusCode, body)
	if resp.StatusCode == http.StatusForbidden && !throttle {
		// A denial fails fast; only GitHub's secondary rate limit, which
		// comes as a 403, is a request to slow down.
		return false, 0, nil
	}
	if resp.StatusCode >= 500 && definite(body) {
		return false, 0, nil
	}
	if throttle {
		r.throttled()
	}
	atLeast, _ = RetryAfter(resp, body, time.Now())
	return true, atLeast, &statusError{status: resp.StatusCode, body: body}
}

// definite reports whether a server error's body names a reason that
// another try cannot change (distribution answers an invalid manifest
// with 500 and MANIFEST_INVALID or MANIFEST_BLOB_UNKNOWN among its errors).
func definite(body []byte) bool {
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	for _, d := range e.Errors {
		switch d.Code {
		case "MANIFEST_INVALID", "MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNVERIFIED", "BLOB_UNKNOWN", "DIGEST_INVALID",
			"NAME_INVALID", "SIZE_INVALID", "TAG_INVALID", "DENIED", "UNAUTHORIZED", "UNSUPPORTED":
			return true
		}
	}
	return false
}

// Temporary reports whether a failed request (no response) may pass:
// connections reset or closed mid-way, a stalled response given up on,
// a registry that is restarting, a client below that timed out waiting
// ("Client.Timeout exceeded while awaiting headers", which is also a
// context.DeadlineExceeded). A cancellation is not. The caller's own
// deadline is not either: callers check their context first, as Classify
// does.
func Temporary(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrStalled) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}

// retryAfterInMessage is ghcr.io's way to say how long to wait: in the
// error message, not a header ("TOOMANYREQUESTS: retry-after: 10.305464ms,
// allowed: 2000/minute"; also in µs).
var retryAfterInMessage = regexp.MustCompile(`(?i)retry-after:\s*([0-9]+(?:\.[0-9]+)?\s*(?:ns|us|µs|μs|ms|s|m|h))`)

// RetryAfter is how long the registry asked to wait: its Retry-After header
// (delay-seconds or an HTTP-date, RFC 9110 section 10.2.3), else the wait
// ghcr.io writes into the error body.
func RetryAfter(resp *http.Response, body []byte, now time.Time) (time.Duration, bool) {
	if v := resp.Header.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	if m := retryAfterInMessage.FindSubmatch(body); m != nil {
		s := strings.ReplaceAll(strings.ReplaceAll(string(m[1]), " ", ""), "μ", "µ")
		if d, err := time.ParseDuration(s); err == nil {
			return d, true
		}
	}
	return 0, false
}
