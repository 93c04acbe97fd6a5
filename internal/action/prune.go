package action

import (
	"bytes"
	"context"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/prune"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// previousDigests reads, before the push, what the tags point at: in
// orphans mode, what the publish is about to orphan. Not knowing costs the
// clean-up, never the publish.
func (g *gitHubSide) previousDigests(ctx context.Context, p plan.Plan, reg *registry) []string {
	if g.in.Prune != inputs.PruneOrphans || !g.active(p.Image) {
		return nil
	}
	var prev []string
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
func (g *gitHubSide) prune(ctx context.Context, p plan.Plan, s stamped, previous []string, reg *registry) *prune.Result {
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
		g.gha.Warningf("prune: %s; nothing was deleted", g.sec.redact(err.Error()))
		return nil
	}
	published := ""
	if s.artifact != nil {
		published = s.digest.String()
	}
	opts := prune.Options{
		Mode:      in.Prune,
		MinAge:    in.PruneMinAge,
		Orphaned:  orphaned(in, p.Image, previous, published),
		Published: published,
		DryRun:    !in.Push,
		Remote:    ro,
	}
	if !in.Push && s.artifact != nil {
		opts.Planned = planned(s, p)
	}
	res, err := prune.Run(ctx, g.client, pkg, p.Image, opts)
	if err != nil {
		g.gha.Warningf("prune: %s; nothing was deleted", g.sec.redact(err.Error()))
		return nil
	}
	for _, d := range res.Decisions {
		g.gha.Infof("prune: %s %s (version %d): %s", d.Outcome, d.Version.Digest, d.Version.ID, d.Reason)
	}
	for _, w := range res.Warnings {
		g.gha.WithFieldsMap(map[string]string{"title": "prune"}).Warningf("%s", g.sec.redact(w))
	}
	return &res
}

// orphaned is what this publish leaves behind: what its tags pointed at
// before, and its sources in the same repository (matrix legs pushed by
// digest, which a merge that re-stamps them replaces).
func orphaned(in inputs.Inputs, image name.Repository, previous []string, published string) []string {
	out := slices.DeleteFunc(slices.Clone(previous), func(d string) bool { return d == published })
	for _, src := range in.Sources {
		if d, ok := source.InRepository(src, image); ok && d != published {
			out = append(out, d)
		}
	}
	return out
}

// planned describes, for a dry run, the publish that did not happen.
func planned(s stamped, p plan.Plan) *prune.Published {
	out := &prune.Published{Digest: s.digest.String(), Manifests: map[string]prune.Manifest{}}
	for _, t := range p.Tags {
		out.Tags = append(out.Tags, t.TagStr())
	}
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
