package linkcheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-github/v60/github"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// Visibility values of the Packages API.
const (
	Public   = "public"
	Private  = "private"
	Internal = "internal"
)

// FirstPublish reports whether the package holds nothing but the manifests
// written (digests, sha256:…): then this run created it, or re-ran the run
// that did. It is how a notice about a private package is given once per
// package rather than on every run: a later publish finds versions of
// earlier ones. Its cost is one request, for the first page of versions.
//
// The package's created_at against the clock would need the runner's and
// GitHub's clocks to agree, and a matrix job racing another would each see
// a fresh package; the versions say it without either.
func FirstPublish(ctx context.Context, client *github.Client, pkg Package, written []string) (bool, error) {
	opts := &github.PackageListOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var versions []*github.PackageVersion
	var resp *github.Response
	var err error
	if pkg.Org {
		versions, resp, err = client.Organizations.PackageGetAllVersions(ctx, pkg.Owner, "container", pkg.Name, opts)
	} else {
		// Users.* does not path-escape a nested name (go-github v60).
		versions, resp, err = client.Users.PackageGetAllVersions(ctx, pkg.Owner, "container", url.PathEscape(pkg.Name), opts)
	}
	if err != nil {
		return false, fmt.Errorf("listing versions of package %s/%s: %w", pkg.Owner, pkg.Name, err)
	}
	if resp.NextPage != 0 {
		return false, nil
	}
	ours := make(map[string]bool, len(written))
	for _, d := range written {
		ours[d] = true
	}
	for _, v := range versions {
		if !ours[v.GetName()] {
			return false, nil
		}
	}
	return true, nil
}

// Policy is what the visibility check is asked to enforce, and about what.
type Policy struct {
	// RequirePublic fails the check unless an anonymous pull works.
	RequirePublic bool
	// Digest is the manifest published (sha256:…), and Written every
	// manifest the publish wrote, Digest included.
	Digest  string
	Written []string
	// Pull says how to reach the registry for the anonymous pull.
	Pull PullOptions
	// NoAPI asks the Packages API nothing (link-check: off promises it):
	// the visibility stays unknown, and only RequirePublic's pull checks.
	NoAPI bool
}

// Visibility reports the visibility of the package image landed in, after
// a publish, into res (as Check left it: its Visibility saves a request).
//
// A new package is private unless it inherits a public repository's
// visibility or an organisation default applies, and there is no API to
// change that: so a private package of a public repository gets a notice in
// res.Notes, once, at its first publish (see FirstPublish). With
// RequirePublic, a package the API does not report as public is pulled
// anonymously, and only a refused pull is an error: the API's word is not
// what users meet, the pull is. A registry that is not GitHub's (no Client)
// gets the anonymous pull alone.
func (c Checker) Visibility(ctx context.Context, image name.Repository, res Result, policy Policy) (Result, error) {
	var pkg *Package
	if c.Client != nil && !policy.NoAPI {
		p, err := c.PackageOf(ctx, image)
		if err == nil {
			pkg = &p
		}
		if err == nil && res.Visibility == "" {
			if st, lerr := Lookup(ctx, c.Client, p); lerr == nil {
				res.Visibility = st.Visibility
			}
		}
	}
	if res.Visibility == Public {
		return res, nil
	}
	if policy.RequirePublic {
		return c.requirePublic(ctx, image, res, pkg, policy)
	}
	if pkg == nil || res.Visibility == "" || c.RepositoryVisibility != Public {
		return res, nil
	}
	first, err := FirstPublish(ctx, c.Client, *pkg, policy.Written)
	if err != nil || !first {
		// A later publish: the first one gave the notice. Without an
		// answer, no notice either: better once too few than every run.
		return res, nil
	}
	res.Notes = append(res.Notes, fmt.Sprintf("The package is %s, while %s is public: only accounts with access can pull it (an anonymous docker pull is refused). To let anyone pull it, open %s, Danger Zone, Change visibility, Public; there is no API for it. This notice comes with the package's first publish only; require-public: true makes it a failure.",
		known(res.Visibility), c.Repository, pkg.SettingsURL))
	return res, nil
}

// known is a visibility as the sentences here say it: the API's word when
// it is one of the three the API documents, else words of our own. The
// value is the API's, not ours: a value it did not document is not
// repeated in a sentence that reaches the log and the summary (the
// Visibility field carries it, for report to escape where it prints it).
func known(visibility string) string {
	switch visibility {
	case Public, Private, Internal:
		return visibility
	}
	return "of a visibility the action does not know"
}

// requirePublic fails unless an anonymous pull of what was published works.
func (c Checker) requirePublic(ctx context.Context, image name.Repository, res Result, pkg *Package, policy Policy) (Result, error) {
	ref := image.Digest(policy.Digest)
	anon, err := PullAnonymously(ctx, ref, policy.Pull)
	if err != nil {
		return res, fmt.Errorf("require-public: cannot tell whether %s can be pulled anonymously: %w", ref, err)
	}
	if anon.Pullable {
		if res.Visibility != "" {
			res.Notes = append(res.Notes, fmt.Sprintf("The Packages API reports the package as %s, yet an anonymous pull of %s works.", known(res.Visibility), ref))
		}
		return res, nil
	}
	what := "the package"
	if res.Visibility != "" {
		what = "the package is " + known(res.Visibility) + " and"
	}
	fix := "make the package public in its settings on " + image.RegistryStr()
	if pkg != nil {
		fix = fmt.Sprintf("open %s, Danger Zone, Change visibility, Public (there is no API for it), then run again", pkg.SettingsURL)
	}
	return res, fmt.Errorf("require-public: %s cannot be pulled anonymously (%s); %s is published and tagged, but only accounts with access can pull it: %s", what, anon.Refusal, ref, fix)
}

// PullOptions say how to reach the registry for an anonymous pull.
type PullOptions struct {
	// Transport carries requests; nil means go-containerregistry's
	// default under registryhttp's stall clock.
	Transport http.RoundTripper
	// Retry retries the pull's requests, as every registry request of the
	// run is retried: under one budget, a stall given up after
	// registryhttp.StallTimeout. nil means each request is sent once.
	// go-containerregistry's own retries are off either way: they would
	// retry a stall again, past the stall rule and outside the budget.
	Retry     *registryhttp.Retrier
	UserAgent string
}

// OffHostError is an anonymous pull that the registry redirected to
// another host. What that host answers says nothing about the package on
// the registry (anyone can serve a 200), so it is not asked.
type OffHostError struct {
	Registry, Host string
}

func (e *OffHostError) Error() string {
	return fmt.Sprintf("%s redirected the manifest request to %s, another host, whose answer would not prove the package is public on %s", e.Registry, e.Host, e.Registry)
}

// onHost refuses to follow a redirect away from the registry's host.
type onHost struct {
	registry string
	base     http.RoundTripper
}

func (o onHost) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Response != nil && !strings.EqualFold(req.URL.Host, o.registry) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &OffHostError{Registry: o.registry, Host: req.URL.Host}
	}
	return o.base.RoundTrip(req)
}

// transport is how the pull reaches the registry of ref: on its host, and
// retried by the run's one retry policy.
func (opts PullOptions) transport(registry string) http.RoundTripper {
	base := opts.Transport
	if base == nil {
		base = registryhttp.Stalls(remote.DefaultTransport, 0)
	}
	if opts.Retry != nil {
		base = opts.Retry.Transport(base)
	}
	return onHost{registry: registry, base: base}
}

// Anonymous is what an anonymous pull of a manifest met.
type Anonymous struct {
	// Pullable is true when the manifest came back without credentials.
	Pullable bool
	// Refusal says which request the registry refused, and how, when it
	// did: e.g. "the token request (GET /token) answered 401 UNAUTHORIZED".
	Refusal string
}

// PullAnonymously asks for ref's manifest as docker pull does before any
// login: a token request with no credentials, then a HEAD of the manifest.
// ghcr.io gives anonymous tokens for public packages only and refuses the
// token request (401) for a private one, so a refusal at either step — or a
// manifest the registry will not admit to (404) — means the package cannot
// be pulled anonymously. An error means the registry could not be asked.
//
// A redirect to another host is not followed: it ends the pull with an
// *OffHostError, as an answer that cannot tell.
func PullAnonymously(ctx context.Context, ref name.Digest, opts PullOptions) (Anonymous, error) {
	ropts := []remote.Option{remote.WithAuth(authn.Anonymous), remote.WithContext(ctx),
		remote.WithTransport(opts.transport(ref.RegistryStr())), remote.WithRetryPredicate(func(error) bool { return false })}
	if opts.UserAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(opts.UserAgent))
	}
	_, err := remote.Head(ref, ropts...)
	if err == nil {
		return Anonymous{Pullable: true}, nil
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return Anonymous{}, fmt.Errorf("pulling %s anonymously: %w", ref, err)
	}
	switch terr.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
	default:
		return Anonymous{}, fmt.Errorf("pulling %s anonymously: %w", ref, err)
	}
	step := "the manifest request"
	if terr.Request != nil {
		if path := terr.Request.URL.Path; !strings.HasPrefix(path, "/v2/") {
			step = "the token request (GET " + path + ")"
		} else {
			step = "the manifest request (HEAD " + path + ")"
		}
	}
	answer := fmt.Sprintf("%d", terr.StatusCode)
	if len(terr.Errors) > 0 {
		answer += " " + string(terr.Errors[0].Code)
	}
	return Anonymous{Refusal: step + " answered " + answer}, nil
}
