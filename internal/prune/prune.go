// Package prune deletes the versions of a container package on GitHub that
// no tag reaches any more, after a publish. ghcr.io never collects garbage:
// every moved tag leaves its old index, platform images and attestations
// behind as untagged versions. Generic clean-ups delete untagged versions by
// name and break multi-platform tags, whose children are untagged versions
// too; prune decides from the registry's content instead (Reach), reads
// each version again just before deleting it, and reports a refused delete
// rather than failing a publish that succeeded.
package prune

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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

// Published describes what was just published, for a dry run, where it is
// not in the registry: its manifests and the tags it would take.
type Published struct {
	Digest    string
	Tags      []string
	Manifests map[string]Manifest
}

// Options say what to prune and how to read the registry.
type Options struct {
	Mode   inputs.Prune
	MinAge time.Duration
	// Orphaned are the digests this publish orphaned (what its tags
	// pointed at before, its sources in this package): in orphans mode,
	// only they and what hangs off them are candidates.
	Orphaned []string
	// Published is the digest published, whose closure is Result.Reachable.
	Published string
	// DryRun lists what would be deleted and deletes nothing; Planned is
	// then the publish that did not happen.
	DryRun  bool
	Planned *Published
	// Remote reads manifests from the registry (auth, transport).
	Remote []remote.Option
	// Now is the clock for prune-min-age; zero means time.Now().
	Now time.Time
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
}

// Run prunes pkg, whose images live in repo. It must run after the
// publish is complete and verified. A returned error means nothing was
// deleted; a refused delete is a warning in the Result, never an error.
func Run(ctx context.Context, client *github.Client, pkg linkcheck.Package, repo name.Repository, opts Options) (Result, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	vs := versions{client: client, pkg: pkg}
	listed, err := vs.list(ctx)
	if err != nil {
		return Result{}, err
	}
	c, err := read(ctx, repo, listed, opts.Remote)
	if err != nil {
		return Result{}, err
	}
	if opts.DryRun && opts.Planned != nil {
		// What the planned tags point at now is what the publish would
		// orphan; nothing was read before it, since nothing is pushed.
		for _, v := range c.Versions {
			if v.Digest != opts.Planned.Digest && slices.ContainsFunc(v.Tags, func(t string) bool { return slices.Contains(opts.Planned.Tags, t) }) {
				opts.Orphaned = append(opts.Orphaned, v.Digest)
			}
		}
		c = withPlanned(c, *opts.Planned, now)
	}
	res := Result{Versions: len(c.Versions)}
	roots := Roots(c, opts.MinAge, now)
	for _, v := range c.Versions {
		if plainTagged(v) {
			res.Tagged++
		}
	}
	if opts.Published != "" {
		for d := range Reach(c, map[string]string{opts.Published: "published"}) {
			res.Reachable = append(res.Reachable, d)
		}
		slices.Sort(res.Reachable)
	}
	if opts.Mode != inputs.PruneOrphans && opts.Mode != inputs.PruneUntagged {
		return res, nil
	}
	del, kept := plan(c, roots, opts.Mode, opts.Orphaned)
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
		// List again and, if any tag moved, decide again from the new
		// content before deleting anything.
		relisted, err := vs.list(ctx)
		if err != nil {
			return res, err
		}
		if tagsMoved(listed, relisted) {
			if c, err = read(ctx, repo, relisted, opts.Remote); err != nil {
				return res, err
			}
			roots = Roots(c, opts.MinAge, now)
			del, res.Decisions = plan(c, roots, opts.Mode, opts.Orphaned)
		}
	}
	res.Decisions = append(deleteAll(ctx, vs, c, roots, del, &res), res.Decisions...)
	return res, nil
}

// tagsMoved reports whether any tag points elsewhere in b than in a.
func tagsMoved(a, b []Version) bool {
	at := map[string]string{}
	for _, v := range a {
		for _, t := range v.Tags {
			at[t] = v.Digest
		}
	}
	n := 0
	for _, v := range b {
		for _, t := range v.Tags {
			if at[t] != v.Digest {
				return true
			}
			n++
		}
	}
	return n != len(at)
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
	out := Content{Manifests: map[string]Manifest{}, Unread: c.Unread}
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

// read fetches the manifest of every listed version from the registry. A
// manifest the registry no longer has drops its version (deleted since the
// listing); one it cannot serve is Unread, and so kept.
func read(ctx context.Context, repo name.Repository, listed []Version, ropts []remote.Option) (Content, error) {
	c := Content{Manifests: map[string]Manifest{}, Unread: map[string]string{}}
	puller, err := remote.NewPuller(ropts...)
	if err != nil {
		return Content{}, err
	}
	type got struct {
		m    Manifest
		gone bool
		err  error
	}
	results := make([]got, len(listed))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, v := range listed {
		ref, err := name.NewDigest(repo.String() + "@" + v.Digest)
		if err != nil {
			results[i].err = fmt.Errorf("version %d is named %q, not a digest", v.ID, v.Digest)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			desc, err := puller.Get(ctx, ref)
			var terr *transport.Error
			if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
				results[i].gone = true
				return
			}
			if err != nil {
				results[i].err = err
				return
			}
			results[i].m, results[i].err = ParseManifest(bytes.NewReader(desc.Manifest))
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Content{}, err
	}
	for i, v := range listed {
		switch r := results[i]; {
		case r.gone:
			continue
		case r.err != nil:
			c.Unread[v.Digest] = r.err.Error()
		default:
			c.Manifests[v.Digest] = r.m
		}
		c.Versions = append(c.Versions, v)
	}
	return c, nil
}

// ParseManifest reads the references out of an image manifest or index
// (OCI image-spec v1.1 or Docker schema 2).
func ParseManifest(r io.Reader) (Manifest, error) {
	var m struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("parsing manifest: %w", err)
	}
	var out Manifest
	for _, d := range m.Manifests {
		ch := Child{Digest: d.Digest}
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			ch.AttestationOf = d.Annotations["vnd.docker.reference.digest"]
		}
		out.Children = append(out.Children, ch)
	}
	if m.Subject != nil {
		out.Subject = m.Subject.Digest
	}
	return out, nil
}

// Previous reads the digests tags point at now, before a publish moves
// them: in orphans mode, what the publish orphans. A tag that does not
// exist yet is left out.
func Previous(ctx context.Context, tags []name.Tag, ropts []remote.Option) ([]string, error) {
	var out []string
	for _, t := range tags {
		desc, err := remote.Head(t, append(slices.Clone(ropts), remote.WithContext(ctx))...)
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("reading tag %s before the publish: %w", t.TagStr(), err)
		}
		if !slices.Contains(out, desc.Digest.String()) {
			out = append(out, desc.Digest.String())
		}
	}
	return out, nil
}
