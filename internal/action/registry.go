package action

import (
	"context"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// registry is a run's access to registries. newRegistry builds it once,
// and every registry request of the run goes through it: the source reads,
// the tag listing, the probe, the push, prune's reads and the anonymous
// pull of require-public. So a transport feature (a header, a limit) is
// added in one place, and each registry sees one ping and one token per
// run, as go-containerregistry's remote.makeOptions wraps its transport
// once for every call that takes its options.
type registry struct {
	// transport is below authentication and retries: the keychain's rule
	// on every request that leaves, and stall detection under it.
	transport http.RoundTripper
	userAgent string
	// sessions authenticate to each registry once for the run, over
	// transport, retrying under the run's one policy and budget.
	sessions *registryhttp.Sessions
	// writes says the run pushes to its destination. A run that does not
	// bounds its lookups (Retrier.Lookup): it does not wait on a registry
	// for what only refines its metadata.
	writes bool
}

// destination is where a publish writes, and with whose credentials.
type destination struct {
	// images are the repositories written, the primary first
	// (inputs.Inputs.Destinations).
	images   []name.Repository
	keychain credentials.Keychain
	// push says the run writes there; false: it only reads (a dry run, a
	// sweep with no source).
	push bool
}

// newRegistry builds the access for publishing to dest what sources
// read. Its sessions get one token per registry for every scope the run
// will use there: what each source's transport needs (source.Scopes),
// and push on each destination (pull when nothing is pushed).
//
// One access serves every destination: Sessions keep one session per
// registry, each authenticated with what the keychain gives that registry
// (the token for GitHub's, a login for each other), and the guarded
// transport lets each secret reach its own registry only. So destinations
// in one registry share a token (which mounts between them need), and
// destinations in different registries never share credentials.
func newRegistry(dest destination, sources []*inputs.Source, opts Options, logf func(string, ...any)) *registry {
	policy := opts.RegistryRetry
	if policy.Logf == nil {
		policy.Logf = logf
	}
	// Each request, token exchanges and redirects included, is checked
	// against the keychain's rule as it leaves; one that stops moving
	// mid-answer fails (and is retried) instead of holding the job.
	guarded := dest.keychain.Transport(registryhttp.Stalls(opts.RegistryTransport, 0))
	ua := userAgent(opts.Version)
	sessions := registryhttp.NewSessions(dest.keychain, source.BoundManifests(guarded), ua, registryhttp.New(policy))
	for _, src := range sources {
		for _, s := range source.Scopes(src) {
			sessions.Declare(s.Repository, s.Action)
		}
	}
	scope := transport.PullScope
	if dest.push {
		scope = transport.PushScope
	}
	for _, image := range dest.images {
		sessions.Declare(image, scope)
	}
	return &registry{transport: guarded, userAgent: ua, sessions: sessions, writes: dest.push}
}

// remoteOptions reach repo for go-containerregistry calls (prune's reads)
// through the run's session there: the push's token, not a second one.
func (r *registry) remoteOptions(ctx context.Context, repo name.Repository) ([]remote.Option, error) {
	return r.sessions.RemoteOptions(ctx, repo, repo.Scope(transport.PullScope))
}

// anonymousPull reaches a registry without credentials, as anyone would
// (require-public), through the same guarded transport.
func (r *registry) anonymousPull() linkcheck.PullOptions {
	return linkcheck.PullOptions{Transport: r.transport, Retry: r.sessions.Retry(), UserAgent: r.userAgent}
}

// newKeychain gives each registry the credentials the inputs allow it.
func newKeychain(in inputs.Inputs, opts Options) credentials.Keychain {
	keychain := credentials.Keychain{
		GitHubHosts: in.GitHubRegistries(),
		Username:    in.Username,
		Token:       in.Token,
		Logins:      in.Logins(),
	}
	if opts.DockerConfig {
		keychain.Fallback = authn.DefaultKeychain
	}
	return keychain
}

// userAgent names the action to registries, as their logs and rate limits
// see it.
func userAgent(version string) string {
	if version == "" {
		version = "devel"
	}
	return "ghcr-publish-action/" + version
}
