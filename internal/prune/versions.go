package prune

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

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

// Limits bound a listing: GitHub's Link headers and the registry's are
// followed only this far, so that a server whose pages link to each
// other (a probe saw 26,113 requests in 60 s) cannot hold the job. Zero
// fields mean the defaults: 1,000 pages and 50,000 versions, a package
// far older than most at GitHub's 100 versions a page.
type Limits struct {
	Pages, Versions int
}

func (l Limits) withDefaults() Limits {
	if l.Pages <= 0 {
		l.Pages = 1000
	}
	if l.Versions <= 0 {
		l.Versions = 50000
	}
	return l
}

// list pages through every version, newest first as GitHub lists them,
// following each page's Link rel="next" itself rather than go-github's
// page number: a next page on another host (go-github would send the
// token there) or seen before (same URL or same content), or more pages
// or versions than the limits, stops the listing with an error.
func (vs versions) list(ctx context.Context, limits Limits) ([]Version, error) {
	limits = limits.withDefaults()
	what := fmt.Sprintf("the versions of package %s/%s", vs.pkg.Owner, vs.pkg.Name)
	opts := &github.PackageListOptions{State: github.String("active"), ListOptions: github.ListOptions{PerPage: 100}}
	var page []*github.PackageVersion
	var resp *github.Response
	var err error
	if vs.pkg.Org {
		page, resp, err = vs.client.Organizations.PackageGetAllVersions(ctx, vs.pkg.Owner, "container", vs.name(), opts)
	} else {
		page, resp, err = vs.client.Users.PackageGetAllVersions(ctx, vs.pkg.Owner, "container", vs.name(), opts)
	}
	var out []Version
	pg := pager{what: what, limits: limits, urls: map[string]bool{}, contents: map[string]bool{}}
	for {
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", what, describe(err))
		}
		if err := pg.check(resp.Request.URL, page); err != nil {
			return nil, err
		}
		for _, v := range page {
			out = append(out, toVersion(v))
		}
		if len(out) > limits.Versions {
			return nil, fmt.Errorf("listing %s: more than %d versions, the most prune reads", what, limits.Versions)
		}
		next, nerr := pg.next(resp.Request.URL, resp.Header.Get("Link"))
		switch {
		case nerr != nil:
			return nil, nerr
		case next == "":
			return out, nil
		}
		page = nil
		var req *http.Request
		if req, err = vs.client.NewRequest(http.MethodGet, next, nil); err == nil {
			resp, err = vs.client.Do(ctx, req, &page)
		}
	}
}

// pager holds what a listing has seen, to stop one that does not end.
type pager struct {
	what     string
	limits   Limits
	pages    int
	urls     map[string]bool
	contents map[string]bool
}

// check counts the page at u and refuses one whose content was seen
// before (the same versions in the same order under a new URL).
func (pg *pager) check(u *url.URL, page []*github.PackageVersion) error {
	pg.pages++
	pg.urls[u.String()] = true
	var ids strings.Builder
	for _, v := range page {
		fmt.Fprintf(&ids, "%d %s %q\n", v.GetID(), v.GetName(), v.GetMetadata().GetContainer().Tags)
	}
	if pg.contents[ids.String()] {
		return fmt.Errorf("listing %s: page %s repeats an earlier page (the pages link in a loop)", pg.what, u.Redacted())
	}
	pg.contents[ids.String()] = true
	return nil
}

// next is the page after the one at u, from its Link header (RFC 8288, as
// GitHub paginates: docs.github.com "Using pagination in the REST API"),
// or "" at the end.
func (pg *pager) next(u *url.URL, link string) (string, error) {
	target := nextLink(link)
	if target == "" {
		return "", nil
	}
	n, err := u.Parse(target)
	if err != nil {
		return "", fmt.Errorf("listing %s: the next page's link %q does not parse: %w", pg.what, target, err)
	}
	if n.Scheme != u.Scheme || n.Host != u.Host {
		return "", fmt.Errorf("listing %s: the next page is linked on another host (%s://%s, not %s://%s); not following it", pg.what, n.Scheme, n.Host, u.Scheme, u.Host)
	}
	if pg.urls[n.String()] {
		return "", fmt.Errorf("listing %s: the next page links back to %s, read already (the pages link in a loop)", pg.what, n.Redacted())
	}
	if pg.pages >= pg.limits.Pages {
		return "", fmt.Errorf("listing %s: more than %d pages, the most prune reads", pg.what, pg.limits.Pages)
	}
	return n.String(), nil
}

// nextLink is the target of rel="next" in a Link header, or "".
func nextLink(header string) string {
	for _, part := range strings.Split(header, ",") {
		target, params, ok := strings.Cut(part, ";")
		target = strings.TrimSpace(target)
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && slices.Contains(strings.Fields(strings.Trim(v, `"`)), "next") {
				return target[1 : len(target)-1]
			}
		}
	}
	return ""
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
