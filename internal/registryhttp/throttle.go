package registryhttp

import (
	"errors"
	"net/http"
	"regexp"

	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// secondaryRateLimit is how GitHub words its secondary rate limit, which
// ghcr.io has answered pushes with as a 403, code DENIED (reported:
// markrussinovich/refchecker#67): a request to back off for minutes, not a
// permission denial.
var secondaryRateLimit = regexp.MustCompile(`(?i)secondary rate limit`)

// throttling reports whether an answer with status and body asks the
// client to slow down: 429, or a 403 that names the secondary rate limit.
func throttling(status int, body []byte) bool {
	return status == http.StatusTooManyRequests || status == http.StatusForbidden && secondaryRateLimit.Match(body)
}

// Throttled reports whether err is a registry's request to slow down (see
// throttling) that outlasted the retries: whoever explains a 403 to the
// user asks this first, for GitHub's secondary rate limit comes as a 403
// DENIED, and is no permission problem.
func Throttled(err error) bool {
	var st *statusError
	if errors.As(err, &st) {
		return throttling(st.status, st.body)
	}
	var terr *ggcrtransport.Error
	if !errors.As(err, &terr) {
		return false
	}
	// The error's text holds each diagnostic's message, or the raw body
	// when the registry sent none.
	return throttling(terr.StatusCode, []byte(terr.Error()))
}
