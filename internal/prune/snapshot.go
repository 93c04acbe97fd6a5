package prune

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// gatherer reads what prune decides from: the package's versions through
// the Packages API, the tags and manifests from the registry.
type gatherer struct {
	vs   versions
	repo name.Repository
	opts Options
}

// snapshot is the package's versions as the API lists them and its tags as
// the registry holds them, read one after the other.
type snapshot struct {
	listed []Version
	tags   map[string]string // registry tag → digest
}

func (g gatherer) snapshot(ctx context.Context) (snapshot, error) {
	listed, err := g.vs.list(ctx, g.opts.Limits)
	if err != nil {
		return snapshot{}, err
	}
	wrote := map[string]string{}
	if p := g.opts.Publish; p != nil && !g.opts.DryRun {
		for _, t := range p.Tags {
			wrote[t] = p.Digest
		}
	}
	tags, err := registryTags(ctx, g.repo, g.opts.Remote, g.opts.Limits, wrote)
	if err != nil {
		return snapshot{}, err
	}
	return snapshot{listed: listed, tags: tags}, nil
}

// tagged maps each tag to the digests that carry it, in the API's listing
// or at the registry (sorted): two snapshots that agree here agree on
// every root a tag makes.
func (s snapshot) tagged() map[string][]string {
	out := map[string][]string{}
	add := func(t, d string) {
		if !slices.Contains(out[t], d) {
			out[t] = append(out[t], d)
			slices.Sort(out[t])
		}
	}
	for _, v := range s.listed {
		for _, t := range v.Tags {
			add(t, v.Digest)
		}
	}
	for t, d := range s.tags {
		add(t, d)
	}
	return out
}

// content is what the snapshot shows, with every manifest read. A
// version's tags are the union of the API's and the registry's; a digest
// the registry tags or this run wrote is pinned (kept) whether the listing
// shows it yet or not, and its manifest is read so that what it needs is
// kept too.
func (g gatherer) content(ctx context.Context, s snapshot) (Content, error) {
	c := Content{Pinned: map[string]string{}}
	byDigest := map[string][]string{}
	for t, d := range s.tags {
		byDigest[d] = append(byDigest[d], t)
	}
	listed := map[string]bool{}
	var want []string
	for _, v := range s.listed {
		v.Tags = slices.Clone(v.Tags)
		for _, t := range byDigest[v.Digest] {
			if !slices.Contains(v.Tags, t) {
				v.Tags = append(v.Tags, t)
			}
		}
		if !listed[v.Digest] {
			want = append(want, v.Digest)
		}
		listed[v.Digest] = true
		c.Versions = append(c.Versions, v)
	}
	for _, d := range slices.Sorted(maps.Keys(byDigest)) {
		if !listed[d] {
			ts := slices.Sorted(slices.Values(byDigest[d]))
			c.Pinned[d] = "tag " + strings.Join(ts, ", ") + " at the registry (not listed by the API yet)"
			want = append(want, d)
		}
	}
	if p := g.opts.Publish; p != nil && !g.opts.DryRun {
		// Every digest, not only the tagged one: the listing may show the
		// new index before its platform images, or without its tag.
		written := slices.Sorted(maps.Keys(p.Manifests))
		if _, ok := p.Manifests[p.Digest]; p.Digest != "" && !ok {
			written = append(written, p.Digest)
		}
		for _, d := range written {
			c.Pinned[d] = "written by this run"
			if !listed[d] && !slices.Contains(want, d) {
				want = append(want, d)
			}
		}
	}
	var err error
	c.Manifests, err = read(ctx, g.repo, want, g.opts.Remote)
	return c, err
}
