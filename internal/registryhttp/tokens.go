package registryhttp

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultTokenTimeout is how long a token request may go without a byte
// moving before it is given up and tried again. A token endpoint answers
// in well under a second; ghcr.io's has been reported to hang instead
// ("Client.Timeout exceeded while awaiting headers" during login,
// docker/login-action#989). Waiting the StallTimeout for it would hold the
// whole publish, every request of which waits for the token.
const DefaultTokenTimeout = 15 * time.Second

// tokenClock gives requests to a token endpoint (a Bearer realm) a stall
// clock of their own, shorter than the one every request has, so that a
// hung exchange is given up soon and retried by the Retrier above. Every
// request of the distribution API is under /v2/ (distribution spec,
// "Endpoints"); a session sends only token requests elsewhere, and
// redirects (blob downloads) are not token requests.
type tokenClock struct {
	base   http.RoundTripper
	stalls http.RoundTripper
}

func newTokenClock(base http.RoundTripper, after time.Duration) http.RoundTripper {
	return &tokenClock{base: base, stalls: Stalls(base, after)}
}

func (t *tokenClock) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Response != nil || strings.HasPrefix(req.URL.Path, "/v2/") {
		return t.base.RoundTrip(req)
	}
	resp, err := t.stalls.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("fetching a registry token: %w", err)
	}
	return resp, nil
}
