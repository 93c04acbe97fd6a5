package registryhttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/credentials"
)

// StallTimeout is how long a registry exchange may go without a byte
// moving in either direction before it is given up: a registry that sends
// headers and then stops would otherwise hold the step until the job's
// timeout (6 hours by default).
const StallTimeout = 60 * time.Second

// Stalls wraps base so that a request whose body stops being sent, or
// whose response stops arriving (headers or body), for after (zero means
// StallTimeout) fails with a *StallError, which wraps ErrStalled: a
// Retrier's Transport above retries it. Progress resets the clock, so a
// slow but moving upload of any size goes on.
func Stalls(base http.RoundTripper, after time.Duration) http.RoundTripper {
	if base == nil {
		base = remote.DefaultTransport
	}
	if after <= 0 {
		after = StallTimeout
	}
	return &stallTransport{base: base, after: after}
}

// StallError is a request given up because nothing moved.
type StallError struct {
	URL   string
	After time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("%s: nothing arrived or was sent for %s; the registry stalled", e.URL, e.After)
}

// Unwrap makes a StallError ErrStalled to errors.Is, which the Retrier
// retries.
func (e *StallError) Unwrap() error { return ErrStalled }

// Timeout and Temporary make a StallError a net.Error too, as the timeout
// it is, for code that knows net.Error only.
func (e *StallError) Timeout() bool   { return true }
func (e *StallError) Temporary() bool { return true }

type stallTransport struct {
	base  http.RoundTripper
	after time.Duration
}

// watch is one request's clock: each bit of progress pushes the deadline
// back; when it passes, the request's context is cancelled.
type watch struct {
	mu      sync.Mutex
	timer   *time.Timer
	after   time.Duration
	stalled bool
	err     *StallError
}

func (w *watch) progress() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stalled {
		w.timer.Reset(w.after)
	}
}

func (w *watch) hasStalled() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stalled
}

func (t *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	w := &watch{after: t.after, err: &StallError{URL: credentials.RedactURL(req.URL), After: t.after}}
	w.mu.Lock()
	w.timer = time.AfterFunc(t.after, func() {
		w.mu.Lock()
		w.stalled = true
		w.mu.Unlock()
		cancel()
	})
	w.mu.Unlock()
	out := req.WithContext(ctx)
	stopPolling := func() {}
	if f, ok := req.Body.(sendfileBody); ok {
		out.Body, stopPolling = watchFile(f, w)
	} else if req.Body != nil && req.Body != http.NoBody {
		out.Body = &progressBody{rc: req.Body, w: w}
	}
	resp, err := t.base.RoundTrip(out)
	stopPolling()
	if err != nil {
		w.timer.Stop()
		cancel()
		if w.hasStalled() {
			return nil, w.err
		}
		return nil, err
	}
	w.progress()
	resp.Body = &progressBody{rc: resp.Body, w: w, done: cancel}
	return resp, nil
}

// progressBody reports progress on every read and turns the cancellation a
// stall causes into the StallError.
type progressBody struct {
	rc   io.ReadCloser
	w    *watch
	done context.CancelFunc // nil for a request body
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.progress()
	}
	if err != nil && err != io.EOF && b.w.hasStalled() {
		return n, b.w.err
	}
	return n, err
}

func (b *progressBody) Close() error {
	if b.done != nil {
		b.w.timer.Stop()
		b.done()
	}
	return b.rc.Close()
}

// sendfileBody is a request body that is a file: net/http hands it to the
// kernel whole (sendfile) when it can reach its descriptor (syscall.Conn),
// so no Read reports progress, and wrapping it in a reader would cost the
// sendfile. Its offset, which sendfile advances, says how far it got.
type sendfileBody interface {
	io.ReadCloser
	io.Seeker
	syscall.Conn
}

// watchFile passes f on as it is, and reports progress while its offset
// moves, polling it a few times per stall interval until stop.
func watchFile(f sendfileBody, w *watch) (body io.ReadCloser, stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(max(w.after/8, time.Millisecond))
		defer t.Stop()
		var last int64
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if off, err := f.Seek(0, io.SeekCurrent); err == nil && off != last {
					last = off
					w.progress()
				}
			}
		}
	}()
	var once sync.Once
	return f, func() { once.Do(func() { close(done) }) }
}
