package prune

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-github/v60/github"

	"github.com/ghcr-publish/publish-action/internal/linkcheck"
)

// versions reads and deletes a package's versions through the Packages
// REST API, for an organization's package or a user's.
type versions struct {
	client *github.Client
	pkg    linkcheck.Package
}

// name is the package name as each service wants it: Organizations.*
// path-escape it themselves, Users.* do not (go-github v60), so a nested
// name such as widget/sub must reach them as widget%2Fsub — escaped once.
func (vs versions) name() string {
	if vs.pkg.Org {
		return vs.pkg.Name
	}
	return url.PathEscape(vs.pkg.Name)
}

// list pages through every version, newest first as GitHub lists them.
func (vs versions) list(ctx context.Context) ([]Version, error) {
	opts := &github.PackageListOptions{State: github.String("active"), ListOptions: github.ListOptions{PerPage: 100}}
	var out []Version
	for {
		var page []*github.PackageVersion
		var resp *github.Response
		var err error
		if vs.pkg.Org {
			page, resp, err = vs.client.Organizations.PackageGetAllVersions(ctx, vs.pkg.Owner, "container", vs.name(), opts)
		} else {
			page, resp, err = vs.client.Users.PackageGetAllVersions(ctx, vs.pkg.Owner, "container", vs.name(), opts)
		}
		if err != nil {
			return nil, fmt.Errorf("listing the versions of package %s/%s: %w", vs.pkg.Owner, vs.pkg.Name, describe(err))
		}
		for _, v := range page {
			out = append(out, toVersion(v))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// get reads one version again; gone is true when it no longer exists.
func (vs versions) get(ctx context.Context, id int64) (v Version, gone bool, err error) {
	var pv *github.PackageVersion
	if vs.pkg.Org {
		pv, _, err = vs.client.Organizations.PackageGetVersion(ctx, vs.pkg.Owner, "container", vs.name(), id)
	} else {
		pv, _, err = vs.client.Users.PackageGetVersion(ctx, vs.pkg.Owner, "container", vs.name(), id)
	}
	if statusOf(err) == http.StatusNotFound {
		return Version{}, true, nil
	}
	if err != nil {
		return Version{}, false, describe(err)
	}
	return toVersion(pv), false, nil
}

func (vs versions) delete(ctx context.Context, id int64) error {
	var err error
	if vs.pkg.Org {
		_, err = vs.client.Organizations.PackageDeleteVersion(ctx, vs.pkg.Owner, "container", vs.name(), id)
	} else {
		_, err = vs.client.Users.PackageDeleteVersion(ctx, vs.pkg.Owner, "container", vs.name(), id)
	}
	return err
}

func toVersion(v *github.PackageVersion) Version {
	return Version{
		ID:      v.GetID(),
		Digest:  v.GetName(),
		Tags:    v.GetMetadata().GetContainer().Tags,
		Created: v.GetCreatedAt().Time,
	}
}

// refusal explains why GitHub would not delete a version, and whether
// trying the next one is pointless (the same answer would come back).
func refusal(err error) (reason string, stop bool) {
	var abuse *github.AbuseRateLimitError
	var rate *github.RateLimitError
	switch {
	case errors.As(err, &abuse):
		return "GitHub's secondary rate limit: " + abuse.Message + "; the next run deletes the rest", true
	case errors.As(err, &rate):
		return "GitHub's rate limit: " + rate.Message + "; the next run deletes the rest", true
	}
	msg := describe(err).Error()
	switch statusOf(err) {
	case http.StatusNotFound, http.StatusForbidden:
		// GitHub answers 404 "Package not found." (reported), or 403, when
		// the token may read the package but not delete from it.
		return msg + ": the workflow's repository needs the Admin role in the package's Manage Actions access (a package the workflow created has it) and the job needs permissions: packages: write", true
	case http.StatusUnauthorized:
		return msg + ": the token was refused", true
	case http.StatusTooManyRequests:
		return msg + ": rate limited; the next run deletes the rest", true
	}
	return msg, false
}

func statusOf(err error) int {
	var gerr *github.ErrorResponse
	if errors.As(err, &gerr) && gerr.Response != nil {
		return gerr.Response.StatusCode
	}
	return 0
}

// describe shortens go-github's errors, which repeat the method and URL,
// to the status and GitHub's message, keeping the typed error beneath.
func describe(err error) error {
	var gerr *github.ErrorResponse
	if errors.As(err, &gerr) && gerr.Response != nil {
		return &apiError{status: gerr.Response.StatusCode, msg: gerr.Message, err: err}
	}
	return err
}

type apiError struct {
	status int
	msg    string
	err    error
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }
func (e *apiError) Unwrap() error { return e.err }
