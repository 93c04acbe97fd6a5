package registrytest

import (
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// Keychain is what a publish with the GitHub token password holds when
// hosts are GitHub's registries: password goes to hosts only, with the
// user name "u" (any works, as on ghcr.io).
func Keychain(password string, hosts ...string) credentials.Keychain {
	return credentials.Keychain{GitHubHosts: hosts, Username: "u", Token: password}
}

// SessionOptions say how a test's Sessions reach registries.
type SessionOptions struct {
	// Keychain gives the credentials; nil: anonymous.
	Keychain authn.Keychain
	// Transport carries requests; nil: go-containerregistry's default.
	// Registry sources need it bounded with source.BoundManifests, as the
	// action's is.
	Transport http.RoundTripper
	// Retry is the retry policy; zero values: registryhttp's defaults.
	Retry registryhttp.Policy
}

// NewSessions makes the registry sessions that push.Options and
// source.Options require, for a test: one per publish, as the action makes
// one per run (a second publish with the same Sessions reuses their
// tokens, and so sends fewer requests).
func NewSessions(opts SessionOptions) *registryhttp.Sessions {
	return registryhttp.NewSessions(opts.Keychain, opts.Transport, "", registryhttp.New(opts.Retry))
}

// Sessions are NewSessions for a publish to r with the GitHub token
// password (see Keychain).
func (r *Registry) Sessions(password string) *registryhttp.Sessions {
	return NewSessions(SessionOptions{Keychain: Keychain(password, r.Host())})
}
