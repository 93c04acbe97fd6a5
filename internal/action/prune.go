package action

import (
	"bytes"
	"context"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/prune"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// previousDigests reads, before the push, what the tags point at, each
// digest with the tags about to move off it: what the publish is about to
// orphan, which prune-min-age does not guard. Not knowing costs the
// clean-up, never the publish.
func (g *gitHubSide) previousDigests(ctx context.Context, p plan.Plan, reg *registry) map[string][]string {
	if g.in.Prune == inputs.PruneOff || !g.active(p.Image) {
		return nil
	}
	var prev map[string][]string
	ro, err := reg.remoteOptions(ctx, p.Image)
	if err == nil {
		prev, err = prune.Previous(ctx, p.Tags, ro)
	}
	if err != nil {
		g.gha.Warningf("prune: %s; only what is known to be orphaned will be deleted", g.sec.redact(err.Error()))
	}
	return prev
}

// prune runs last, after the publish is complete and verified (or, with
// push: false, lists what would be deleted). Whatever happens here is a
// warning: a clean-up never fails a publish that succeeded.
func (g *gitHubSide) prune(ctx context.Context, p plan.Plan, s stamped, previous map[string][]string, reg *registry) *prune.Result {
	in := g.in
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
	ro, err := reg.remoteOptions(ctx, p.Image)
	if err != nil {
		return g.pruneStopped(err)
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
		return g.pruneStopped(err)
	}
	for _, d := range res.Decisions {
		g.gha.Infof("prune: %s %s (version %d): %s", d.Outcome, d.Version.Digest, d.Version.ID, d.Reason)
	}
	for _, w := range res.Warnings {
		g.gha.WithFieldsMap(map[string]string{"title": "prune"}).Warningf("%s", g.sec.redact(w))
	}
	return &res
}

// pruneStopped fails closed: the prune stopped before any delete. The
// summary says so, as the warning does.
func (g *gitHubSide) pruneStopped(err error) *prune.Result {
	msg := g.sec.redact(err.Error())
	g.gha.WithFieldsMap(map[string]string{"title": "prune"}).Warningf("prune: stopped, nothing was deleted: %s", msg)
	return &prune.Result{Stopped: msg}
}

// sources are the run's by-digest sources in the package being published
// (matrix legs pushed by digest, which a merge that re-stamps them
// replaces): in orphans mode, candidates.
func sources(in inputs.Inputs, image name.Repository) []string {
	var out []string
	for _, src := range in.Sources {
		if d, ok := source.InRepository(src, image); ok {
			out = append(out, d)
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
func (g *gitHubSide) sweep(ctx context.Context, p plan.Plan, reg *registry) *prune.Result {
	if g.in.Prune == inputs.PruneOrphans {
		g.gha.WithFieldsMap(map[string]string{"title": "input prune"}).Warningf("prune: orphans deletes what a publish orphaned, and with no source nothing is published; use prune: untagged for a sweep")
		return nil
	}
	return g.prune(ctx, p, stamped{}, nil, reg)
}
