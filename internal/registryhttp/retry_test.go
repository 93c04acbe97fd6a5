package registryhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		body   string
		want   time.Duration
		ok     bool
	}{
		{"seconds", "3", "", 3 * time.Second, true},
		{"date", now.Add(90 * time.Second).Format(http.TimeFormat), "", 90 * time.Second, true},
		{"date passed", now.Add(-time.Minute).Format(http.TimeFormat), "", 0, true},
		{"ghcr ms", "", `{"errors":[{"code":"TOOMANYREQUESTS","message":"retry-after: 10.305464ms, allowed: 2000/minute"}]}`, 10305464 * time.Nanosecond, true},
		{"ghcr µs", "", `{"errors":[{"code":"TOOMANYREQUESTS","message":"retry-after: 812.5µs, allowed: 2000/minute"}]}`, 812500 * time.Nanosecond, true},
		{"ghcr us", "", `retry-after: 40us`, 40 * time.Microsecond, true},
		{"header wins", "2", `retry-after: 10ms`, 2 * time.Second, true},
		{"neither", "", `{"errors":[{"code":"UNAVAILABLE"}]}`, 0, false},
		{"garbage header", "soon", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := &http.Response{Header: http.Header{}}
			if tt.header != "" {
				resp.Header.Set("Retry-After", tt.header)
			}
			got, ok := RetryAfter(resp, []byte(tt.body), now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("RetryAfter(%q, %q) = %v, %v, want %v, %v", tt.header, tt.body, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		err       error
		retry     bool
		throttles int
	}{
		{"503", 503, `{"errors":[{"code":"UNAVAILABLE"}]}`, nil, true, 0},
		{"429", 429, `{"errors":[{"code":"TOOMANYREQUESTS","message":"retry-after: 1ms"}]}`, nil, true, 1},
		{"secondary rate limit", 403, `{"errors":[{"code":"DENIED","message":"You have exceeded a secondary rate limit."}]}`, nil, true, 1},
		{"denied", 403, `{"errors":[{"code":"DENIED","message":"permission_denied: write_package"}]}`, nil, false, 0},
		{"unauthorized", 401, `{"errors":[{"code":"UNAUTHORIZED"}]}`, nil, false, 0},
		{"not found", 404, ``, nil, false, 0},
		{"500 naming an invalid manifest", 500, `{"errors":[{"code":"UNKNOWN","message":"unknown error"},{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}`, nil, false, 0},
		{"500 unknown", 500, `{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}`, nil, true, 0},
		{"manifest blob unknown", 400, `{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN"}]}`, nil, false, 0},
		{"reset", 0, "", fmt.Errorf("read: %w", syscall.ECONNRESET), true, 0},
		{"eof", 0, "", io.ErrUnexpectedEOF, true, 0},
		{"stalled", 0, "", fmt.Errorf("no answer in 30s: %w", ErrStalled), true, 0},
		{"cancelled", 0, "", context.Canceled, false, 0},
		{"other", 0, "", errors.New("x509: certificate signed by unknown authority"), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := New(Policy{Seed: 1})
			throttles := 0
			r.OnThrottle(func() { throttles++ })
			var resp *http.Response
			if tt.err == nil {
				resp = &http.Response{StatusCode: tt.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tt.body))}
			}
			retry, _, _ := r.Classify(context.Background(), resp, tt.err)
			if retry != tt.retry || throttles != tt.throttles {
				t.Errorf("Classify(%d %s, %v) = retry %v with %d throttles, want %v with %d", tt.status, tt.body, tt.err, retry, throttles, tt.retry, tt.throttles)
			}
			if resp != nil {
				// The body is still there for the caller.
				if b, _ := io.ReadAll(resp.Body); string(b) != tt.body {
					t.Errorf("body after Classify = %q, want %q", b, tt.body)
				}
			}
		})
	}
}

// Full jitter: every wait lies in [0, min(Max, Base·2^(n-1))], and the same
// seed draws the same waits.
func TestBackoffIsSeededFullJitter(t *testing.T) {
	t.Parallel()
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second, Seed: 42}
	a, b := New(p), New(p)
	for n := 1; n <= 10; n++ {
		ceiling := min(p.Max, p.Base<<(n-1))
		wa, wb := a.backoff(n), b.backoff(n)
		if wa < 0 || wa > ceiling {
			t.Errorf("backoff(%d) = %v, want within [0, %v]", n, wa, ceiling)
		}
		if wa != wb {
			t.Errorf("backoff(%d) = %v and %v with one seed, want equal", n, wa, wb)
		}
	}
}

// Out of budget, Wait gives the cause back at once, saying so.
func TestWaitStopsAtTheBudget(t *testing.T) {
	t.Parallel()
	r := New(Policy{Base: time.Hour, Max: time.Hour, Budget: time.Millisecond, Seed: 3})
	cause := errors.New("503")
	err := r.Wait(context.Background(), 5, time.Hour, cause)
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "retry budget") {
		t.Errorf("Wait() = %v, want the cause and the budget", err)
	}
}
