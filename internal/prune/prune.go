// Package prune deletes the versions of a container package on GitHub that
// no tag reaches any more, after a publish. ghcr.io never collects garbage:
// every moved tag leaves its old index, platform images and attestations
// behind as untagged versions. Generic clean-ups delete untagged versions by
// name and break multi-platform tags, whose children are untagged versions
// too; prune decides from the registry's content instead (Reach), reads
// each version again just before deleting it, and reports a refused delete
// rather than failing a publish that succeeded.
//
// It fails closed. The Packages API's listing lags the registry, so the
// registry's own tags and everything the run wrote are roots whatever the
// listing says; a manifest it cannot read, a tag it cannot resolve or a
// listing that does not end stops it before any delete.
package prune

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-github/v60/github"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/linkcheck"
)

// Outcome is what became of a version.
type Outcome string

const (
	Deleted     Outcome = "deleted"
	WouldDelete Outcome = "would be deleted"
	Kept        Outcome = "kept"
	// Skipped: it changed between listing and deleting (gained a tag,
	// or vanished), so it was left alone.
	Skipped Outcome = "skipped"
	// Refused: GitHub would not delete it.
	Refused Outcome = "not deleted"
)

// Decision is one version's outcome and why.
type Decision struct {
	Version Version
	Outcome Outcome
	Reason  string
}

// Published is what a run wrote to the package, or in a dry run would
// have written. Everything in it is kept whatever the Packages API lists:
// the listing lags the registry (GHCR.md), and a run must never delete
// what it has just published.
type Published struct {
	// Digest is the image or index published, which Tags now point at.
	Digest string
	Tags   []string
	// Manifests are every manifest written, by digest: the index, its
	// platform images and attestation manifests. In a real run they are
	// read back from the registry; in a dry run, where they are not in
	// the registry, their content is taken from here.
	Manifests map[string]Manifest
	// Moved are the digests the run's tags pointed at before it moved
	// them, each with the tags moved (read just before the push). They
	// and what hangs off them were tagged a moment ago, not in flight:
	// prune-min-age does not guard them. A dry run works them out from
	// where the tags point now.
	Moved map[string][]string
}

// Options say what to prune and how to read the registry.
type Options struct {
	Mode   inputs.Prune
	MinAge time.Duration
	// Publish is what this run published (or planned, with DryRun); nil
	// when nothing was, as in a scheduled sweep. In orphans mode its Moved
	// digests and what hangs off them are candidates.
	Publish *Published
	// Sources are the run's by-digest sources in this package (a matrix
	// merge's legs): in orphans mode they are candidates too, guarded by
	// prune-min-age as everything never tagged is.
	Sources []string
	// DryRun lists what would be deleted and deletes nothing.
	DryRun bool
	// Remote reads the registry (auth, transport, retries).
	Remote []remote.Option
	// Now is the clock for prune-min-age; zero means time.Now().
	Now time.Time
	// Limits bound the listings; zero fields mean the defaults.
	Limits Limits
}

// Result is what a prune did.
type Result struct {
	// Decisions are the candidates' outcomes, deletions first, in the
	// order they were tried; versions kept by a tag of their own are
	// counted in Tagged, not listed.
	Decisions []Decision
	// Pruned are the digests deleted.
	Pruned []string
	// Reachable is every manifest digest that makes up what was published
	// (index, platform images, attestations, referrers), sorted.
	Reachable []string
	// Versions is how many versions the package had; Tagged how many of
	// them carry a tag that is not an artifact tag.
	Versions, Tagged int
	// Warnings are refusals, each naming the version and the reason.
	Warnings []string
	// Stopped, when set, is why the prune stopped before deciding:
	// nothing was deleted.
	Stopped string
}

// Run prunes pkg, whose images live in repo. It must run after the
// publish is complete and verified. A returned error means the prune
// stopped before any delete (an answer it could not read, a listing that
// does not end): nothing was deleted. A refused delete is a warning in the
// Result, never an error.
func Run(ctx context.Context, client *github.Client, pkg linkcheck.Package, repo name.Repository, opts Options) (Result, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	g := gatherer{vs: versions{client: client, pkg: pkg}, repo: repo, opts: opts}
	snap, err := g.snapshot(ctx)
	if err != nil {
		return Result{}, err
	}
	c, err := g.content(ctx, snap)
	if err != nil {
		return Result{}, err
	}
	pub := opts.Publish
	if opts.DryRun && pub != nil {
		// What the planned tags point at now is what the publish would
		// move them away from; nothing was read before it, since nothing
		// is pushed.
		p := *pub
		p.Moved = movedBy(c, p)
		c, pub = withPlanned(c, p, now), &p
	}
	res := Result{Versions: len(c.Versions)}
	for _, v := range c.Versions {
		if plainTagged(v) {
			res.Tagged++
		}
	}
	if pub != nil && pub.Digest != "" {
		for d := range Reach(c, map[string]string{pub.Digest: "published"}) {
			res.Reachable = append(res.Reachable, d)
		}
		slices.Sort(res.Reachable)
	}
	if opts.Mode != inputs.PruneOrphans && opts.Mode != inputs.PruneUntagged {
		return res, nil
	}
	d := decider{mode: opts.Mode, minAge: opts.MinAge, now: now, pub: pub, sources: opts.Sources}
	roots := d.roots(c)
	del, kept := d.plan(c, roots)
	res.Decisions = kept
	if opts.DryRun {
		var out []Decision
		for _, v := range del {
			out = append(out, Decision{Version: v, Outcome: WouldDelete, Reason: "no tag reaches it"})
		}
		res.Decisions = append(out, res.Decisions...)
		return res, nil
	}
	if len(del) > 0 {
		// Since the listing another run may have tagged a new index that
		// reuses some of these manifests; re-reading each version before
		// its delete would not see that, as the reused one gains no tag.
		// List again (the API and the registry's tags) and, if any tag
		// moved, decide again from the new content before deleting.
		again, err := g.snapshot(ctx)
		if err != nil {
			return res, err
		}
		if !maps.EqualFunc(snap.tagged(), again.tagged(), slices.Equal) {
			if c, err = g.content(ctx, again); err != nil {
				return res, err
			}
			roots = d.roots(c)
			del, res.Decisions = d.plan(c, roots)
		}
	}
	res.Decisions = append(deleteAll(ctx, g.vs, c, roots, del, &res), res.Decisions...)
	return res, nil
}

// decider holds what deciding needs besides the content.
type decider struct {
	mode    inputs.Prune
	minAge  time.Duration
	now     time.Time
	pub     *Published
	sources []string
}

func (d decider) moved() []string {
	if d.pub == nil {
		return nil
	}
	out := slices.Collect(maps.Keys(d.pub.Moved))
	slices.Sort(out)
	return slices.DeleteFunc(out, func(x string) bool { return x == d.pub.Digest })
}

// roots are the content's roots, with what this publish moved tags away
// from (and what hangs off it) not guarded by prune-min-age.
func (d decider) roots(c Content) map[string]string {
	return Roots(c, d.minAge, d.now, Descendants(c, d.moved()))
}

// plan picks the candidates: every version in untagged mode, what hangs
// off the moved digests and the sources in orphans mode.
func (d decider) plan(c Content, roots map[string]string) (del []Version, kept []Decision) {
	seeds := d.moved()
	for _, s := range d.sources {
		if d.pub == nil || s != d.pub.Digest {
			seeds = append(seeds, s)
		}
	}
	return plan(c, roots, d.mode, seeds)
}

// movedBy is where p's tags point now, other than at p itself.
func movedBy(c Content, p Published) map[string][]string {
	out := map[string][]string{}
	for _, v := range c.Versions {
		for _, t := range v.Tags {
			if v.Digest != p.Digest && slices.Contains(p.Tags, t) {
				out[v.Digest] = append(out[v.Digest], t)
			}
		}
	}
	return out
}

// plan picks the versions to delete, in the order to delete them, and
// lists the candidates kept with why. Candidates are every version in
// untagged mode, and what hangs off the orphaned digests in orphans mode.
func plan(c Content, roots map[string]string, mode inputs.Prune, orphaned []string) (del []Version, kept []Decision) {
	reached := Reach(c, roots)
	seeds := Descendants(c, orphaned)
	for _, v := range c.Versions {
		if mode == inputs.PruneOrphans && !seeds[v.Digest] {
			continue
		}
		why, ok := reached[v.Digest]
		switch {
		case ok && plainTagged(v):
			// Tagged: counted, not listed.
		case ok:
			kept = append(kept, Decision{Version: v, Outcome: Kept, Reason: why})
		default:
			del = append(del, v)
		}
	}
	return deleteOrder(c, del), kept
}

// deleteAll deletes del in order. Just before each delete it reads the
// version again: one that gained a tag is kept, and becomes a root, so
// what it reaches is kept too; one already gone is skipped.
func deleteAll(ctx context.Context, vs versions, c Content, roots map[string]string, del []Version, res *Result) []Decision {
	var out []Decision
	stopped := ""
	// Recomputed only when a version gains a tag: a walk per delete would
	// be quadratic on a package with thousands of versions.
	reached := Reach(c, roots)
	for i, v := range del {
		if stopped != "" {
			out = append(out, Decision{Version: v, Outcome: Refused, Reason: "not tried: " + stopped})
			continue
		}
		if why, ok := reached[v.Digest]; ok {
			out = append(out, Decision{Version: v, Outcome: Kept, Reason: why})
			continue
		}
		now, gone, err := vs.get(ctx, v.ID)
		switch {
		case gone:
			out = append(out, Decision{Version: v, Outcome: Skipped, Reason: "already deleted"})
			continue
		case err != nil:
			reason, stop := refusal(err)
			out = append(out, Decision{Version: v, Outcome: Refused, Reason: "reading it again: " + reason})
			res.Warnings = append(res.Warnings, fmt.Sprintf("prune: did not delete %s (version %d): reading it again: %s", v.Digest, v.ID, reason))
			if stop {
				stopped = reason
			}
			continue
		}
		if gained := newTags(v.Tags, now.Tags); len(gained) > 0 {
			roots = clone(roots)
			roots[v.Digest] = "gained tag " + strings.Join(gained, ", ") + " between listing and deleting"
			reached = Reach(c, roots)
			out = append(out, Decision{Version: v, Outcome: Skipped, Reason: roots[v.Digest]})
			continue
		}
		if err := vs.delete(ctx, v.ID); err != nil {
			reason, stop := refusal(err)
			out = append(out, Decision{Version: v, Outcome: Refused, Reason: reason})
			res.Warnings = append(res.Warnings, fmt.Sprintf("prune: did not delete %s (version %d): %s", v.Digest, v.ID, reason))
			if stop {
				stopped = reason
				if rest := len(del) - i - 1; rest > 0 {
					res.Warnings = append(res.Warnings, fmt.Sprintf("prune: %d more versions were not tried for the same reason", rest))
				}
			}
			continue
		}
		out = append(out, Decision{Version: v, Outcome: Deleted, Reason: "no tag reaches it"})
		res.Pruned = append(res.Pruned, v.Digest)
	}
	return out
}

// plainTagged reports whether v has a tag that is not an artifact tag.
func plainTagged(v Version) bool {
	return slices.ContainsFunc(v.Tags, func(t string) bool { return ArtifactSubject(t) == "" })
}

func newTags(before, now []string) []string {
	var out []string
	for _, t := range now {
		if !slices.Contains(before, t) {
			out = append(out, t)
		}
	}
	return out
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// withPlanned is c as it would be after the planned publish: its manifests
// are versions, and its tags have moved to it.
func withPlanned(c Content, p Published, now time.Time) Content {
	out := Content{Manifests: map[string]Manifest{}, Pinned: c.Pinned}
	for d, m := range c.Manifests {
		out.Manifests[d] = m
	}
	have := map[string]bool{}
	for _, v := range c.Versions {
		v.Tags = slices.DeleteFunc(slices.Clone(v.Tags), func(t string) bool { return slices.Contains(p.Tags, t) })
		if v.Digest == p.Digest {
			v.Tags = append(v.Tags, p.Tags...)
		}
		have[v.Digest] = true
		out.Versions = append(out.Versions, v)
	}
	for d, m := range p.Manifests {
		out.Manifests[d] = m
		if !have[d] {
			v := Version{Digest: d, Created: now}
			if d == p.Digest {
				v.Tags = p.Tags
			}
			out.Versions = append(out.Versions, v)
		}
	}
	return out
}
