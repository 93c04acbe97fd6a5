// Package githubapi asks the GitHub REST API what the repository knows about
// itself (description, license, web address) and when the commit being built
// was made. Everything it returns is optional: the action still publishes,
// with less metadata, when the API is unreachable or denies access.
package githubapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/oauth2"

	"github.com/ghcr-publish/publish-action/internal/credentials"
)

// Info is what the API said. Zero fields mean "not known".
type Info struct {
	Name        string // e.g. "Widget"
	FullName    string // e.g. "Acme/Widget"
	Description string
	HTMLURL     string // e.g. https://github.com/Acme/Widget
	// License is the license's SPDX identifier, empty when GitHub could not
	// tell (it says NOASSERTION then) or the repository has none.
	License   string
	OwnerType string // "User" or "Organization"
	// Visibility is the repository's: "public", "private" or "internal".
	Visibility string
	// DefaultBranch is the repository's default branch, e.g. "main":
	// type=edge's branch when none is given (as docker/metadata-action).
	DefaultBranch string
	// CommitTime is the committer date of the commit asked for, in UTC.
	CommitTime *time.Time
}

// Options say where and how to reach the API.
type Options struct {
	// APIURL is GITHUB_API_URL, e.g. https://api.github.com or
	// https://HOST/api/v3 on GitHub Enterprise Server.
	APIURL string
	// Token authenticates; empty means anonymous (60 requests an hour).
	Token string
	// Transport carries the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds all requests together; zero means 15 seconds. A slow
	// API must not hold up a publish that can proceed without it.
	Timeout time.Duration
}

// Fetch asks for the repository owner/repo and, when sha is not empty, the
// commit's date. It returns what it could learn, and an error describing what
// it could not; callers warn and go on.
func Fetch(ctx context.Context, owner, repo, sha string, opts Options) (Info, error) {
	client, err := NewClient(opts)
	if err != nil {
		return Info{}, err
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The repository and the commit at once: each is a round trip to
	// the API, and neither needs the other.
	var info Info
	var commitErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if sha == "" {
			return
		}
		c, _, err := client.Repositories.GetCommit(ctx, owner, repo, sha, nil)
		if err != nil {
			commitErr = fmt.Errorf("getting commit %s: %w", sha, describe(err))
		} else if d := c.GetCommit().GetCommitter().GetDate(); !d.IsZero() {
			t := d.UTC()
			info.CommitTime = &t
		}
	}()
	var errs []error
	r, _, err := client.Repositories.Get(ctx, owner, repo)
	if err != nil {
		errs = append(errs, fmt.Errorf("getting repository %s/%s: %w", owner, repo, describe(err)))
	} else {
		info.Name = r.GetName()
		info.FullName = r.GetFullName()
		info.Description = r.GetDescription()
		info.HTMLURL = r.GetHTMLURL()
		info.OwnerType = r.GetOwner().GetType()
		info.Visibility = r.GetVisibility()
		info.DefaultBranch = r.GetDefaultBranch()
		// GitHub answers NOASSERTION when it sees a license file it cannot
		// classify: that is no license identifier to stamp.
		if id := r.GetLicense().GetSPDXID(); id != "" && !strings.EqualFold(id, "NOASSERTION") {
			info.License = id
		}
	}
	<-done
	if commitErr != nil {
		errs = append(errs, commitErr)
	}
	return info, errors.Join(errs...)
}

// NewClient is a go-github client for the API opts names, authenticated with
// its token when there is one.
func NewClient(opts Options) (*github.Client, error) {
	transport := opts.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	httpClient := &http.Client{Transport: transport}
	if opts.Token != "" {
		// The oauth2 transport sets the token on every request it carries,
		// redirected ones included; the guard below it keeps the token to
		// the API's host.
		httpClient.Transport = &oauth2.Transport{
			Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: opts.Token}),
			Base:   credentials.API(transport, opts.APIURL, opts.Token),
		}
	}
	client := github.NewClient(httpClient)
	if opts.APIURL != "" {
		// Not WithEnterpriseURLs: it appends api/v3/ to URLs that lack it,
		// while GITHUB_API_URL is already the full base on every host.
		base := strings.TrimSuffix(opts.APIURL, "/") + "/"
		u, err := client.BaseURL.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("parsing GITHUB_API_URL %q: %w", opts.APIURL, err)
		}
		client.BaseURL = u
	}
	return client, nil
}

// describe shortens go-github's errors, which repeat the method and URL, to
// the status and GitHub's message, keeping the typed error underneath for
// callers that branch on it.
func describe(err error) error {
	var gerr *github.ErrorResponse
	if errors.As(err, &gerr) && gerr.Response != nil {
		return &apiError{err: gerr}
	}
	return err
}

// apiError shows a *github.ErrorResponse as "STATUS MESSAGE" and unwraps to it.
type apiError struct{ err *github.ErrorResponse }

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s", e.err.Response.StatusCode, e.err.Message)
}

func (e *apiError) Unwrap() error { return e.err }
