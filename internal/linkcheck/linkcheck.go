// Package linkcheck checks, through the Packages REST API, that a package pushed
// to GitHub's registry is linked to the repository that published it — the
// point of publishing with GITHUB_TOKEN, and a thing no registry answer tells.
package linkcheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-github/v60/github"
)

// Package is a container package on GitHub.
type Package struct {
	Owner string // as in the image name, e.g. "acme"
	Name  string // the rest of the path, e.g. "widget" or "widget/sub"
	Org   bool   // owned by an organization rather than a user
	// URL is the package's page; SettingsURL is where its repository link
	// and Actions access are managed (there is no REST endpoint for either).
	URL         string
	SettingsURL string
}

// Describe names the package image lands in. serverURL is GITHUB_SERVER_URL.
func Describe(image name.Repository, serverURL string, org bool) Package {
	owner, pkgName, _ := strings.Cut(image.RepositoryStr(), "/")
	kind := "users"
	if org {
		kind = "orgs"
	}
	server := strings.TrimSuffix(serverURL, "/")
	escaped := url.PathEscape(pkgName)
	return Package{
		Owner:       owner,
		Name:        pkgName,
		Org:         org,
		URL:         fmt.Sprintf("%s/%s/%s/packages/container/package/%s", server, kind, owner, escaped),
		SettingsURL: fmt.Sprintf("%s/%s/%s/packages/container/%s/settings", server, kind, owner, escaped),
	}
}

// IsOrg asks whether owner is an organization. GITHUB_TOKEN is an
// installation token, so the owner is always named, never "the
// authenticated user".
func IsOrg(ctx context.Context, client *github.Client, owner string) (bool, error) {
	u, _, err := client.Users.Get(ctx, owner)
	if err != nil {
		return false, fmt.Errorf("getting account %s: %w", owner, err)
	}
	return u.GetType() == "Organization", nil
}

// State is what the API says of a package.
type State struct {
	Exists bool
	// LinkedTo is the full_name of the repository the package is linked
	// to, empty when it is linked to none.
	LinkedTo string
	// Visibility is "public", "private" or "internal", as the API reports
	// it; there is no API to change it (PATCH answers 404, cli/cli#6820).
	Visibility string
}

// Lookup asks the API for pkg. A package that does not exist (404) is not an
// error: it is what a first push looks like.
func Lookup(ctx context.Context, client *github.Client, pkg Package) (State, error) {
	var p *github.Package
	var err error
	if pkg.Org {
		// Organizations.GetPackage path-escapes the name itself.
		p, _, err = client.Organizations.GetPackage(ctx, pkg.Owner, "container", pkg.Name)
	} else {
		// Users.GetPackage does not (go-github v60): a nested name such as
		// widget/sub must arrive as widget%2Fsub.
		p, _, err = client.Users.GetPackage(ctx, pkg.Owner, "container", url.PathEscape(pkg.Name))
	}
	var gerr *github.ErrorResponse
	if errors.As(err, &gerr) && gerr.Response != nil && gerr.Response.StatusCode == http.StatusNotFound {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("getting package %s/%s: %w", pkg.Owner, pkg.Name, err)
	}
	return State{Exists: true, LinkedTo: p.GetRepository().GetFullName(), Visibility: p.GetVisibility()}, nil
}

// Options bound the wait for a link to appear.
type Options struct {
	// Wait is how long to keep asking: GitHub links a package shortly after
	// the push, not at once. Zero means 20 seconds.
	Wait time.Duration
	// Interval is the first pause between tries, doubled each time. Zero
	// means one second.
	Interval time.Duration
}

// NotLinkedError says a package is not linked to the repository that
// published it, and how to fix that.
type NotLinkedError struct {
	Package Package
	State   State
	Want    string // the repository, OWNER/REPO
	Source  string // the org.opencontainers.image.source value written
}

func (e *NotLinkedError) Error() string {
	where := "to no repository"
	if e.State.LinkedTo != "" {
		where = "to " + e.State.LinkedTo
	}
	if !e.State.Exists {
		where = "to no repository (the API does not list it yet)"
	}
	fix := fmt.Sprintf("connect it in %s (Manage Actions access: add %s with the Write role)", e.Package.SettingsURL, e.Want)
	if e.Source != "" {
		fix += fmt.Sprintf("; the image says org.opencontainers.image.source=%s, which links it on the next push if it names %s", e.Source, e.Want)
	}
	return fmt.Sprintf("package %s/%s is linked %s, not to %s: %s", e.Package.Owner, e.Package.Name, where, e.Want, fix)
}

// Link waits for pkg to be linked to want (OWNER/REPO, compared without
// regard to case, as GitHub does). It returns a *NotLinkedError when the
// wait ends without the link, and another error when the API cannot say.
func Link(ctx context.Context, client *github.Client, pkg Package, want, source string, opts Options) (State, error) {
	wait, interval := opts.Wait, opts.Interval
	if wait == 0 {
		wait = 20 * time.Second
	}
	if interval == 0 {
		interval = time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		st, err := Lookup(ctx, client, pkg)
		if err != nil {
			return State{}, err
		}
		if st.Exists && strings.EqualFold(st.LinkedTo, want) {
			return st, nil
		}
		// A link to another repository will not change by waiting.
		if (st.Exists && st.LinkedTo != "") || time.Now().Add(interval).After(deadline) {
			return st, &NotLinkedError{Package: pkg, State: st, Want: want, Source: source}
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(interval):
		}
		interval *= 2
	}
}
