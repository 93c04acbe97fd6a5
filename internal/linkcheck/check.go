package linkcheck

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-github/v60/github"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// Checker is what the link check knows of the run: the API client and what
// the workflow context says about the repository that publishes.
type Checker struct {
	// Client is nil when no API client could be made: nothing is checked.
	Client *github.Client
	// ServerURL is GITHUB_SERVER_URL, for the package's web addresses.
	ServerURL string
	// Repository is OWNER/REPO of the workflow; empty outside a workflow.
	Repository string
	// Owner is the repository's owner, and OwnerType its account type
	// ("Organization" or "User") from the event or the API, empty when
	// neither said.
	Owner, OwnerType string
	// RepositoryVisibility is the repository's visibility ("public",
	// "private", "internal") from the event or the API; empty when
	// neither said.
	RepositoryVisibility string
	// Wait bounds the wait for GitHub to link a pushed package.
	Wait Options
}

// PackageOf names the package image lands in. Whether its owner is an
// organization comes from the context when the owner is the repository's,
// else from the API.
func (c Checker) PackageOf(ctx context.Context, image name.Repository) (Package, error) {
	owner, _, _ := strings.Cut(image.RepositoryStr(), "/")
	if strings.EqualFold(owner, c.Owner) && c.OwnerType != "" {
		return Describe(image, c.ServerURL, c.OwnerType == "Organization"), nil
	}
	org, err := IsOrg(ctx, c.Client, owner)
	if err != nil {
		return Package{}, err
	}
	return Describe(image, c.ServerURL, org), nil
}

// Result is what the link check found.
type Result struct {
	// PackageURL is the package's page; empty when it could not be named.
	PackageURL string
	// Summary says in a sentence whether the package is linked; empty when
	// nothing was checked.
	Summary string
	// Warning is for the log, when the check found a problem that mode
	// warn lets pass; NotLinked says the problem is a missing link.
	Warning   string
	NotLinked bool
	// Visibility is the package's visibility as the API reported it
	// (public, private or internal); empty when not known.
	Visibility string
	// Notes are remarks for the summary, e.g. the notice about a private
	// package of a public repository.
	Notes []string
}

// Check confirms, after a push of image, that its package is linked to the
// repository, as mode asks. source is the org.opencontainers.image.source
// value written, quoted in the advice. A package that is not linked is an
// error only in mode error; a check that cannot be made is a warning, or an
// error in mode error.
func (c Checker) Check(ctx context.Context, image name.Repository, mode inputs.LinkCheck, source string) (Result, error) {
	if c.Client == nil {
		return Result{}, nil
	}
	pkg, err := c.PackageOf(ctx, image)
	if err != nil {
		return cannotCheck(Result{}, mode, err)
	}
	res := Result{PackageURL: pkg.URL}
	if mode == inputs.LinkOff || c.Repository == "" {
		return res, nil
	}
	st, err := Link(ctx, c.Client, pkg, c.Repository, source, c.Wait)
	var notLinked *NotLinkedError
	if err == nil || errors.As(err, &notLinked) {
		res.Visibility = st.Visibility
	}
	switch {
	case err == nil:
		res.Summary = fmt.Sprintf("The package is linked to %s.", c.Repository)
		return res, nil
	case errors.As(err, &notLinked) && mode == inputs.LinkError:
		return res, fmt.Errorf("link-check: %w", err)
	case errors.As(err, &notLinked):
		res.Summary = "Not linked: " + err.Error()
		res.Warning, res.NotLinked = err.Error(), true
		return res, nil
	}
	return cannotCheck(res, mode, err)
}

func cannotCheck(res Result, mode inputs.LinkCheck, err error) (Result, error) {
	if mode == inputs.LinkError {
		return res, fmt.Errorf("link-check: cannot tell whether the package is linked to the repository: %w; the job needs permissions: packages: read (write includes it)", err)
	}
	if mode != inputs.LinkOff {
		res.Warning = fmt.Sprintf("link-check: cannot tell whether the package is linked to the repository: %s", err)
	}
	return res, nil
}
