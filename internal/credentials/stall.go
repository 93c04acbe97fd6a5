package credentials

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// StallTimeout is how long a registry exchange may go without a byte
// moving in either direction before it is given up: a registry that sends
// headers and then stops would otherwise hold the step until the job's
// timeout (6 hours by default).
const StallTimeout = 60 * time.Second

// Stalls wraps base so that a request whose body stops being sent, or
// whose response stops arriving (headers or body), for after (zero means
// StallTimeout) fails with a *StallError, which is a net.Error whose
// Timeout() is true: the retry policy above retries it as it retries any
// timeout. Progress resets the clock, so a slow but moving upload of any
// size goes on.
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

// Timeout and Temporary make a StallError a net.Error that retry policies
// retry.
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
	w := &watch{after: t.after, err: &StallError{URL: redactedURL(req.URL), After: t.after}}
	w.mu.Lock()
	w.timer = time.AfterFunc(t.after, func() {
		w.mu.Lock()
		w.stalled = true
		w.mu.Unlock()
		cancel()
	})
	w.mu.Unlock()
	out := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = &progressBody{rc: req.Body, w: w}
	}
	resp, err := t.base.RoundTrip(out)
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
