package push

import (
	"net/http"
	"strconv"
	"time"
)

// MaxRetryAfter caps how long a registry's Retry-After can hold a publish.
const MaxRetryAfter = 60 * time.Second

// RetryAfter wraps a transport so that a 429 or 503 answer carrying
// Retry-After (RFC 9110, section 10.2.3) is held back for that long before
// go-containerregistry, which ignores the header, sees it and retries with
// its own backoff. The wait ends early when the request is cancelled.
func RetryAfter(base http.RoundTripper) http.RoundTripper {
	return &retryAfter{base: base}
}

type retryAfter struct {
	base http.RoundTripper
}

func (t *retryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return resp, err
	}
	wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if !ok {
		return resp, nil
	}
	timer := time.NewTimer(min(wait, MaxRetryAfter))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-req.Context().Done():
	}
	return resp, nil
}

// parseRetryAfter reads delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
