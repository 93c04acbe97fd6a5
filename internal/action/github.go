package action

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-github/v60/github"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/report"
)

// gitHubSide is what the run knows of GitHub beyond the registry: the API
// client and the package an image lands in. Its methods do nothing for a
// registry that is not GitHub's.
type gitHubSide struct {
	gha        *githubactions.Action
	in         inputs.Inputs
	sec        secrets
	apiOptions githubapi.Options
	client     *github.Client // nil when the client could not be made
	clientErr  error          // why, for warnUnreachable
	info       githubapi.Info // what the API said of the repository
	wait       linkcheck.Options
}

// newGitHub makes the API client once for the run. A client that cannot be
// made (a malformed GITHUB_API_URL) costs the link check and the denial
// advice, not the publish: warnUnreachable says so once, as a warning.
func newGitHub(gha *githubactions.Action, in inputs.Inputs, sec secrets, opts Options) *gitHubSide {
	g := &gitHubSide{gha: gha, in: in, sec: sec, wait: opts.Link,
		apiOptions: githubapi.Options{APIURL: in.Context.APIURL, Token: in.Token, Transport: opts.APITransport}}
	g.client, g.clientErr = githubapi.NewClient(g.apiOptions)
	return g
}

// warnUnreachable says why there is no client, if there is none.
func (g *gitHubSide) warnUnreachable() {
	if g.clientErr != nil {
		g.gha.Warningf("cannot reach the GitHub API (%s): the package's link and push permissions will not be checked; fix GITHUB_API_URL", g.sec.redact(g.clientErr.Error()))
	}
}

func (g *gitHubSide) active(image name.Repository) bool {
	return g.client != nil && g.in.IsGitHubRegistry(image.RegistryStr())
}

func (g *gitHubSide) checker() linkcheck.Checker {
	c := g.in.Context
	ownerType := c.OwnerType
	if ownerType == "" {
		ownerType = g.info.OwnerType
	}
	repoVisibility := c.RepoVisibility
	if repoVisibility == "" {
		repoVisibility = g.info.Visibility
	}
	return linkcheck.Checker{Client: g.client, ServerURL: c.ServerURL, Repository: c.Repository(), Owner: c.Owner, OwnerType: ownerType,
		RepositoryVisibility: repoVisibility, Wait: g.wait}
}

// denial gathers what the advice for a refused push depends on.
func (g *gitHubSide) denial(ctx context.Context, image name.Repository) denial {
	d := denial{
		registry:   image.RegistryStr(),
		github:     g.in.IsGitHubRegistry(image.RegistryStr()),
		image:      image.String(),
		readOnly:   g.in.TokenReadOnly(),
		repository: g.in.Context.Repository(),
	}
	if !g.active(image) {
		return d
	}
	pkg, err := g.checker().PackageOf(ctx, image)
	if err != nil {
		return d
	}
	d.pkg = &pkg
	if st, err := linkcheck.Lookup(ctx, g.client, pkg); err == nil {
		d.exists = &st.Exists
	}
	return d
}

// checkLink runs the link check after a push, as link-check asks, and logs
// what it found.
// source is the org.opencontainers.image.source value published, quoted in
// the advice.
func (g *gitHubSide) checkLink(ctx context.Context, image name.Repository, source string) (linkcheck.Result, error) {
	if !g.active(image) {
		return linkcheck.Result{}, nil
	}
	res, err := g.checker().Check(ctx, image, g.in.LinkCheck, source)
	switch {
	case err != nil:
		return res, err
	case res.NotLinked:
		g.gha.WithFieldsMap(map[string]string{"title": "package not linked"}).Warningf("%s", res.Warning)
	case res.Warning != "":
		g.gha.Warningf("%s", g.sec.redact(res.Warning))
	case res.Summary != "":
		g.gha.Infof("Package %s is linked to %s", res.PackageURL, g.in.Context.Repository())
	}
	return res, nil
}

// checkVisibility reports the package's visibility after a push, gives the
// once-per-package notice about a private package of a public repository,
// and enforces require-public (with an anonymous pull through pull, on
// any registry).
func (g *gitHubSide) checkVisibility(ctx context.Context, image name.Repository, s stamped, link linkcheck.Result, pull linkcheck.PullOptions) (linkcheck.Result, error) {
	in := g.in
	c := linkcheck.Checker{Repository: in.Context.Repository()}
	if g.active(image) {
		c = g.checker()
	}
	written := []string{s.digest.String()}
	for _, e := range s.result.Entries {
		if e.Digest != "" {
			written = append(written, e.Digest)
		}
	}
	before := len(link.Notes)
	res, err := c.Visibility(ctx, image, link, linkcheck.Policy{
		RequirePublic: in.RequirePublic,
		Digest:        s.digest.String(),
		Written:       written,
		Pull:          pull,
		NoAPI:         in.LinkCheck == inputs.LinkOff,
	})
	if res.Visibility != "" {
		// The API's value, data: escaped like any value for a log line.
		g.gha.Infof("Package visibility: %s", report.LogValue(res.Visibility))
	}
	for _, n := range res.Notes[before:] {
		g.gha.WithFieldsMap(map[string]string{"title": "package visibility"}).Noticef("%s", n)
	}
	return res, err
}
