package prune

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registryTags reads every tag the registry holds for repo and the digest
// each points at now. The Packages API's listing is eventually consistent
// and may not show a tag yet (GHCR.md, "Packages API listings lag"); the
// registry's own tag list (distribution-spec, "Listing Tags") is what a
// pull resolves. A tag that cannot be read stops the prune: a tag of
// unknown target could be the one a delete breaks. The exception is a tag
// in wrote (this run wrote it, at that digest) that reads as missing, as
// ghcr.io's tag reads do for a while after a push (GHCR.md): it points
// where the run put it.
func registryTags(ctx context.Context, repo name.Repository, ropts []remote.Option, limits Limits, wrote map[string]string) (map[string]string, error) {
	names, err := listTags(ctx, repo, ropts, limits.withDefaults())
	if err != nil {
		return nil, err
	}
	puller, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, err
	}
	digests := make([]string, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, t := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			desc, err := puller.Head(ctx, repo.Tag(t))
			var terr *transport.Error
			if d, ok := wrote[t]; ok && errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
				digests[i] = d
				return
			}
			if err != nil {
				errs[i] = fmt.Errorf("reading tag %s at the registry: %w", t, err)
				return
			}
			digests[i] = desc.Digest.String()
		}()
	}
	wg.Wait()
	if err := first(errs); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(names))
	for i, t := range names {
		out[t] = digests[i]
	}
	return out, nil
}

// listTags pages through the registry's tag list, as far as limits allow
// and no further than a page it has seen (go-containerregistry refuses a
// next page on another host itself).
func listTags(ctx context.Context, repo name.Repository, ropts []remote.Option, limits Limits) ([]string, error) {
	puller, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, err
	}
	lister, err := puller.Lister(ctx, repo)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		// distribution answers NAME_UNKNOWN for a repository that has
		// manifests but no tag: the registry's own word that none exists.
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for pages := 0; err == nil && lister.HasNext(); pages++ {
		if pages >= limits.Pages {
			return nil, fmt.Errorf("listing the tags of %s: more than %d pages, the most prune reads", repo, limits.Pages)
		}
		var page *remote.Tags
		if page, err = lister.Next(ctx); err != nil {
			break
		}
		out = append(out, page.Tags...)
		if len(out) > limits.Versions {
			return nil, fmt.Errorf("listing the tags of %s: more than %d tags, the most prune reads", repo, limits.Versions)
		}
		if page.Next != "" && seen[page.Next] {
			return nil, fmt.Errorf("listing the tags of %s: the next page links back to one read already (the pages link in a loop)", repo)
		}
		seen[page.Next] = true
	}
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Previous reads the digests tags point at now, before a publish moves
// them, each with the tags that point at it: in orphans mode, what the
// publish orphans. A tag that does not exist yet is left out.
func Previous(ctx context.Context, tags []name.Tag, ropts []remote.Option) (map[string][]string, error) {
	out := map[string][]string{}
	for _, t := range tags {
		desc, err := remote.Head(t, append(slices.Clone(ropts), remote.WithContext(ctx))...)
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("reading tag %s before the publish: %w", t.TagStr(), err)
		}
		out[desc.Digest.String()] = append(out[desc.Digest.String()], t.TagStr())
	}
	return out, nil
}
