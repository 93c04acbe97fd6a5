package action

import (
	"bytes"
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/prune"
	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// registryOptions read the destination registry as the push writes it.
func registryOptions(ctx context.Context, keychain credentials.Keychain, opts Options) []remote.Option {
	ro := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain), remote.WithUserAgent(userAgent(opts.Version))}
	base := opts.RegistryTransport
	if base == nil {
		base = remote.DefaultTransport
	}
	if opts.retry != nil {
		// The run's one retry policy; go-containerregistry's own retries off.
		base = opts.retry.Transport(base)
		ro = append(ro, remote.WithRetryPredicate(func(error) bool { return false }))
	}
	return append(ro, remote.WithTransport(base))
}

// previousDigests reads, before the push, what the tags point at, each
// digest with the tags about to move off it: what the publish is about to
// orphan, which prune-min-age does not guard. Not knowing costs the
// clean-up, never the publish.
func (g *gitHubSide) previousDigests(ctx context.Context, in inputs.Inputs, p plan.Plan, ro []remote.Option) map[string][]string {
	if in.Prune == inputs.PruneOff || !g.active(p.Image) {
		return nil
	}
	prev, err := prune.Previous(ctx, p.Tags, ro)
	if err != nil {
		g.gha.Warningf("prune: %s; only what is known to be orphaned will be deleted", g.sec.redact(err.Error()))
	}
	return prev
}

// prune runs last, after the publish is complete and verified (or, with
// push: false, lists what would be deleted). Whatever happens here is a
// warning: a clean-up never fails a publish that succeeded.
func (g *gitHubSide) prune(ctx context.Context, in inputs.Inputs, p plan.Plan, s stamped, previous map[string][]string, ro []remote.Option) *prune.Result {
	if in.Prune == inputs.PruneOff {
		return nil
	}
	if !g.active(p.Image) {
		g.gha.WithFieldsMap(map[string]string{"title": "input prune"}).Warningf("prune: %s is not GitHub's registry, which has the Packages API prune works through; nothing was deleted", p.Image.RegistryStr())
		return nil
	}
	pkg, err := g.checker().PackageOf(ctx, p.Image)
	if err != nil {
		g.gha.Warningf("prune: %s; nothing was deleted", g.sec.redact(err.Error()))
		return nil
	}
	opts := prune.Options{
		Mode:    in.Prune,
		MinAge:  in.PruneMinAge,
		Publish: published(s, p, previous),
		Sources: sources(in, p.Image),
		DryRun:  !in.Push,
		Remote:  ro,
	}
	res, err := prune.Run(ctx, g.client, pkg, p.Image, opts)
	if err != nil {
		// Fail closed: the prune stopped before any delete. The summary
		// says so, as the warning does.
		msg := g.sec.redact(err.Error())
		g.gha.WithFieldsMap(map[string]string{"title": "prune"}).Warningf("prune: stopped, nothing was deleted: %s", msg)
		return &prune.Result{Stopped: msg}
	}
	for _, d := range res.Decisions {
		g.gha.Infof("prune: %s %s (version %d): %s", d.Outcome, d.Version.Digest, d.Version.ID, d.Reason)
	}
	for _, w := range res.Warnings {
		g.gha.WithFieldsMap(map[string]string{"title": "prune"}).Warningf("%s", g.sec.redact(w))
	}
	return &res
}

// sources are the run's by-digest sources in the package being published
// (matrix legs pushed by digest, which a merge that re-stamps them
// replaces): in orphans mode, candidates.
func sources(in inputs.Inputs, image name.Repository) []string {
	var out []string
	for _, src := range in.Sources {
		if src.Transport != inputs.Registry {
			continue
		}
		if d, ok := src.Reference.(name.Digest); ok && d.Context().String() == image.String() {
			out = append(out, d.DigestStr())
		}
	}
	return out
}

// published is what this run wrote to the package (with push: false, what
// it would have written): the digest, every manifest of it, the tags, and
// the digests those tags were moved away from (read before the push; a
// dry run works them out itself). Everything written is kept whatever the
// Packages API lists. nil when nothing was stamped (a sweep).
func published(s stamped, p plan.Plan, previous map[string][]string) *prune.Published {
	if s.artifact == nil {
		return nil
	}
	out := &prune.Published{Digest: s.digest.String(), Manifests: map[string]prune.Manifest{}, Moved: previous}
	for _, t := range p.Tags {
		out.Tags = append(out.Tags, t.TagStr())
	}
	out.Manifests[out.Digest] = prune.Manifest{}
	raw, err := s.artifact.RawManifest()
	if err != nil {
		return out
	}
	m, err := prune.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return out
	}
	out.Manifests[out.Digest] = m
	for _, ch := range m.Children {
		out.Manifests[ch.Digest] = prune.Manifest{}
	}
	return out
}

// sweep prunes with no source: nothing is published, the image's package is
// cleaned up as it stands (a scheduled untagged sweep). Orphans mode has
// nothing to go on without a publish.
func (g *gitHubSide) sweep(ctx context.Context, in inputs.Inputs, p plan.Plan, opts Options) *prune.Result {
	if in.Prune == inputs.PruneOrphans {
		g.gha.WithFieldsMap(map[string]string{"title": "input prune"}).Warningf("prune: orphans deletes what a publish orphaned, and with no source nothing is published; use prune: untagged for a sweep")
		return nil
	}
	keychain := newKeychain(in, opts)
	opts.RegistryTransport = keychain.Transport(registryhttp.Stalls(opts.RegistryTransport, 0))
	return g.prune(ctx, in, p, stamped{}, nil, registryOptions(ctx, keychain, opts))
}
