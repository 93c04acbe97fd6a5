package action

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-github/v60/github"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/report"
)

// gitHubSide is what the run knows of GitHub beyond the registry: the API
// client and the package an image lands in. Every method is a no-op for a
// registry that is not GitHub's.
type gitHubSide struct {
	gha    *githubactions.Action
	in     inputs.Inputs
	info   githubapi.Info
	opts   Options
	sec    secrets
	client *github.Client // nil when the client could not be made
}

func newGitHub(gha *githubactions.Action, in inputs.Inputs, info githubapi.Info, sec secrets, opts Options) *gitHubSide {
	client, err := githubapi.NewClient(githubapi.Options{APIURL: in.Context.APIURL, Token: in.Token, Transport: opts.APITransport})
	if err != nil {
		client = nil
	}
	return &gitHubSide{gha: gha, in: in, info: info, sec: sec, opts: opts, client: client}
}

func (g *gitHubSide) active(image name.Repository) bool {
	return g.client != nil && g.in.IsGitHubRegistry(image.RegistryStr())
}

// packageOf names the package image lands in. Whether its owner is an
// organization comes from the event or the repository when the owner is the
// repository's, else from the API.
func (g *gitHubSide) packageOf(ctx context.Context, image name.Repository) (linkcheck.Package, error) {
	owner, _, _ := strings.Cut(image.RepositoryStr(), "/")
	hint := g.in.Context.OwnerType
	if hint == "" {
		hint = g.info.OwnerType
	}
	if strings.EqualFold(owner, g.in.Context.Owner) && hint != "" {
		return linkcheck.Describe(image, g.in.Context.ServerURL, hint == "Organization"), nil
	}
	org, err := linkcheck.IsOrg(ctx, g.client, owner)
	if err != nil {
		return linkcheck.Package{}, err
	}
	return linkcheck.Describe(image, g.in.Context.ServerURL, org), nil
}

// denial gathers what the advice for a refused push depends on.
func (g *gitHubSide) denial(ctx context.Context, image name.Repository) denial {
	d := denial{
		registry:   image.RegistryStr(),
		github:     g.in.IsGitHubRegistry(image.RegistryStr()),
		fromFork:   g.in.Context.FromFork,
		repository: g.in.Context.Repository(),
	}
	if !g.active(image) {
		return d
	}
	pkg, err := g.packageOf(ctx, image)
	if err != nil {
		return d
	}
	d.pkg = &pkg
	if st, err := linkcheck.Lookup(ctx, g.client, pkg); err == nil {
		d.exists = &st.Exists
	}
	return d
}

// checkLink confirms, after a push, that the package is linked to the
// repository, as link-check asks; it fills in the package's address.
func (g *gitHubSide) checkLink(ctx context.Context, r *report.Report, p plan.Plan) error {
	if !g.active(p.Image) {
		return nil
	}
	mode := g.in.LinkCheck
	pkg, err := g.packageOf(ctx, p.Image)
	if err != nil {
		return g.cannotCheck(mode, err)
	}
	r.PackageURL = pkg.URL
	repo := g.in.Context.Repository()
	if mode == inputs.LinkOff || repo == "" {
		return nil
	}
	source := ""
	for _, e := range r.Annotations {
		if e.Key == specs.AnnotationSource {
			source = e.Value
		}
	}
	_, err = linkcheck.Link(ctx, g.client, pkg, repo, source, g.opts.Link)
	var notLinked *linkcheck.NotLinkedError
	switch {
	case err == nil:
		r.Link = fmt.Sprintf("The package is linked to %s.", repo)
		g.gha.Infof("Package %s is linked to %s", pkg.URL, repo)
		return nil
	case errors.As(err, &notLinked) && mode == inputs.LinkError:
		return fmt.Errorf("link-check: %w", err)
	case errors.As(err, &notLinked):
		r.Link = "Not linked: " + err.Error()
		g.gha.WithFieldsMap(map[string]string{"title": "package not linked"}).Warningf("%s", err)
		return nil
	}
	return g.cannotCheck(mode, err)
}

func (g *gitHubSide) cannotCheck(mode inputs.LinkCheck, err error) error {
	if mode == inputs.LinkError {
		return fmt.Errorf("link-check: cannot tell whether the package is linked to the repository: %w; the job needs permissions: packages: read (write includes it)", err)
	}
	if mode != inputs.LinkOff {
		g.gha.Warningf("link-check: cannot tell whether the package is linked to the repository: %s", g.sec.redact(err.Error()))
	}
	return nil
}
