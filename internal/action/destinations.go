package action

import (
	"context"
	"errors"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/prune"
	"github.com/ghcr-publish/publish-action/internal/push"
	"github.com/ghcr-publish/publish-action/internal/report"
)

// A run publishes to every destination the inputs name (images, or image
// alone): the sources are read and stamped once, and the one artifact goes
// to each destination with the plan's tags, re-homed to that destination's
// repository under the same names. The primary (the first) is the one the
// plan is made for: latest=auto reads its tags, and the image and digest
// outputs name it. What only GitHub's registries have (the package link,
// visibility, prune) applies to each destination on them.

// at is p for another repository: the same tags, in repo.
func at(p plan.Plan, repo name.Repository) plan.Plan {
	p.Image, p.Tags = repo, rehome(p.Tags, repo)
	return p
}

// rehome names tags in repo instead.
func rehome(tags []name.Tag, repo name.Repository) []name.Tag {
	out := make([]name.Tag, len(tags))
	for i, t := range tags {
		out[i] = repo.Tag(t.TagStr())
	}
	return out
}

// destinationList is the destinations for the log.
func destinationList(repos []name.Repository) string {
	names := make([]string, len(repos))
	for i, r := range repos {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

// publish writes the stamped artifact to every destination, and the tags
// at each once every destination holds it (push.Destinations): a failure
// anywhere moves no tag anywhere. A refusal comes back with advice on what
// to change at the destination that refused.
func (r *run) publish(ctx context.Context, p plan.Plan, s stamped) error {
	var dests []push.Destination
	for _, repo := range r.in.Destinations() {
		dests = append(dests, push.Destination{Repository: repo, Tags: rehome(p.WriteOrder(), repo), Sessions: r.reg.sessions})
		r.gha.Infof("Pushing %s@%s", repo, s.digest)
	}
	results, err := push.Destinations(ctx, s.artifact, dests, push.Options{Logf: r.logf, ReadBack: true})
	if err != nil {
		return r.refused(ctx, err)
	}
	for _, res := range results {
		for _, w := range res.Warnings {
			r.gha.Warningf("%s", w)
		}
	}
	for _, repo := range r.in.Destinations() {
		for _, t := range rehome(p.Tags, repo) {
			r.gha.Infof("Tagged %s", t)
		}
	}
	return nil
}

// refused adds advice to a registry's refusal of a push or its probe,
// about the destination that refused: the one the error names
// (push.DestinationError, with several destinations), or the only one.
func (r *run) refused(ctx context.Context, err error) error {
	repo := r.in.Image
	var at *push.DestinationError
	if errors.As(err, &at) {
		repo = at.Repository
	}
	d := r.gh.denial(ctx, repo)
	d.credentials = r.keychain.HasCredentials(repo.RegistryStr())
	return explain(err, d)
}

// gitHubDestinations are the destinations on GitHub's registries, in
// order.
func (r *run) gitHubDestinations() []name.Repository {
	var out []name.Repository
	for _, d := range r.in.Destinations() {
		if r.in.IsGitHubRegistry(d.RegistryStr()) {
			out = append(out, d)
		}
	}
	return out
}

// verified are the destinations verify checks: each on GitHub's registry
// (link and visibility), and a primary elsewhere, whose require-public is
// an anonymous pull, as with one destination.
func (r *run) verified() []name.Repository {
	out := r.gitHubDestinations()
	if primary := r.in.Image; !r.in.IsGitHubRegistry(primary.RegistryStr()) {
		out = append(out, primary)
	}
	return out
}

// verify checks, after the push, each package's link to the repository
// (as link-check asks) and its visibility (require-public). The report
// shows the first: the primary's when it is GitHub's.
func (r *run) verify(ctx context.Context, s stamped) (linkcheck.Result, error) {
	var first linkcheck.Result
	for i, repo := range r.verified() {
		link, err := r.gh.checkLink(ctx, repo, s.source())
		if err == nil {
			link, err = r.gh.checkVisibility(ctx, repo, s, link, r.reg.anonymousPull())
		}
		if err != nil {
			return link, err
		}
		if i == 0 {
			first = link
		}
	}
	return first, nil
}

// pruned are the destinations prune cleans up: each on GitHub's registry,
// or the primary, where it says it cannot.
func (r *run) pruned() []name.Repository {
	if gh := r.gitHubDestinations(); len(gh) > 0 {
		return gh
	}
	return []name.Repository{r.in.Image}
}

// previousDigests reads, before the push, what each pruned destination's
// tags point at (see gitHubSide.previousDigests), by repository.
func (r *run) previousDigests(ctx context.Context, p plan.Plan) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, repo := range r.pruned() {
		out[repo.String()] = r.gh.previousDigests(ctx, at(p, repo), r.reg)
	}
	return out
}

// prune cleans up each pruned destination's package: after a verified
// publish, with what it orphaned there (previous); after a dry run,
// listing only; with no source, as a sweep of the package as it stands.
// The summary shows the first; the log has them all.
func (r *run) prune(ctx context.Context, p plan.Plan, s stamped, previous map[string]map[string][]string) *prune.Result {
	var first *prune.Result
	for i, repo := range r.pruned() {
		var res *prune.Result
		if len(r.in.Sources) == 0 {
			res = r.gh.sweep(ctx, at(p, repo), r.reg)
		} else {
			res = r.gh.prune(ctx, at(p, repo), s, previous[repo.String()], r.reg)
		}
		if i == 0 {
			first = res
		}
	}
	return first
}

// atEveryDestination adds every destination, with its tags, to rep.
func (r *run) atEveryDestination(rep report.Report) report.Report {
	rep.Destinations = nil
	for _, repo := range r.in.Destinations() {
		rep.Destinations = append(rep.Destinations, report.Destination{Image: repo, Tags: rehome(rep.Tags, repo)})
	}
	return rep
}
