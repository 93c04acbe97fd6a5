package linkcheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

const password = "ghs_linkcheck"

// push writes a random image to repo:tag and returns its digest reference.
func push(t *testing.T, reg *registrytest.Registry, repo, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(reg.Host() + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "octocat", Password: password})); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(d.String())
}

// TestFirstPublish reads the package's versions, which the fake API serves
// from the registry's real content: a package holding only what one run
// wrote is new; after a second publish, it is not.
func TestFirstPublish(t *testing.T) {
	t.Parallel()
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{password}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	api := githubtest.Start(os.DirFS(filepath.Join("..", "..", "testdata", "github")))
	t.Cleanup(api.Close)
	api.ServePackage(githubtest.Package{Org: true, Owner: "acme", Name: "private-widget", Repository: "acme/private-widget", Content: reg})
	client, err := githubapi.NewClient(githubapi.Options{APIURL: api.URL, Token: password})
	if err != nil {
		t.Fatal(err)
	}
	pkg := Package{Owner: "acme", Name: "private-widget", Org: true}

	first := push(t, reg, "acme/private-widget", "1")
	got, err := FirstPublish(context.Background(), client, pkg, []string{first.DigestStr()})
	if err != nil || !got {
		t.Errorf("FirstPublish after the first push = %v, %v; want true", got, err)
	}
	second := push(t, reg, "acme/private-widget", "2")
	got, err = FirstPublish(context.Background(), client, pkg, []string{second.DigestStr()})
	if err != nil || got {
		t.Errorf("FirstPublish after a second push = %v, %v; want false (the first push's version is there)", got, err)
	}
	// A re-run of the first publish writes the same digests again.
	got, err = FirstPublish(context.Background(), client, pkg, []string{first.DigestStr(), second.DigestStr()})
	if err != nil || !got {
		t.Errorf("FirstPublish naming every version = %v, %v; want true", got, err)
	}
	api.Fail(403)
	if _, err := FirstPublish(context.Background(), client, pkg, nil); err == nil || !strings.Contains(err.Error(), "listing versions of package acme/private-widget") {
		t.Errorf("FirstPublish with the API refusing = %v, want an error naming the package", err)
	}
}

// TestPullAnonymously pulls as docker pull does before any login, from a
// registry that gives anonymous tokens for public repositories only.
func TestPullAnonymously(t *testing.T) {
	t.Parallel()
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{password}, Public: []string{"acme/widget"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	public := push(t, reg, "acme/widget", "1")
	private := push(t, reg, "acme/private-widget", "1")

	reg.ResetRequests()
	got, err := PullAnonymously(context.Background(), public, PullOptions{UserAgent: "linkcheck-test"})
	if err != nil || !got.Pullable || got.Refusal != "" {
		t.Errorf("PullAnonymously(public) = %+v, %v; want pullable", got, err)
	}
	for _, r := range reg.Requests() {
		if r.Authorization != "" && !strings.HasPrefix(r.Authorization, "Bearer ") {
			t.Errorf("%s %s sent credentials %q, want none", r.Method, r.Path, strings.Fields(r.Authorization)[0])
		}
	}

	reg.ResetRequests()
	got, err = PullAnonymously(context.Background(), private, PullOptions{})
	if err != nil || got.Pullable {
		t.Fatalf("PullAnonymously(private) = %+v, %v; want refused", got, err)
	}
	if want := "the token request (GET /token) answered 401 UNAUTHORIZED"; got.Refusal != want {
		t.Errorf("Refusal = %q, want %q", got.Refusal, want)
	}
	for _, r := range reg.Requests() {
		if r.Authorization != "" {
			t.Errorf("%s %s sent an Authorization header, want none", r.Method, r.Path)
		}
	}

	reg.Close()
	if _, err := PullAnonymously(context.Background(), public, PullOptions{}); err == nil {
		t.Error("PullAnonymously with the registry gone = nil error, want one")
	}
}

// TestVisibilityElsewhere: on a registry that is not GitHub's there is no
// API to ask, so require-public rests on the anonymous pull alone.
func TestVisibilityElsewhere(t *testing.T) {
	t.Parallel()
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{password}, Public: []string{"acme/open"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	open := push(t, reg, "acme/open", "1")
	closed := push(t, reg, "acme/closed", "1")
	var c Checker // no API client: not GitHub's registry

	res, err := c.Visibility(context.Background(), open.Context(), Result{}, Policy{RequirePublic: true, Digest: open.DigestStr()})
	if err != nil || res.Visibility != "" || len(res.Notes) != 0 {
		t.Errorf("Visibility(public elsewhere) = %+v, %v; want nothing to say", res, err)
	}
	_, err = c.Visibility(context.Background(), closed.Context(), Result{}, Policy{RequirePublic: true, Digest: closed.DigestStr()})
	if err == nil || !strings.Contains(err.Error(), "require-public: the package cannot be pulled anonymously (the token request (GET /token) answered 401 UNAUTHORIZED)") ||
		!strings.Contains(err.Error(), "make the package public in its settings on "+reg.Host()) {
		t.Errorf("Visibility(private elsewhere) = %v, want the refusal and where to fix it", err)
	}
	// Without require-public nothing is asked at all.
	reg.ResetRequests()
	if _, err := c.Visibility(context.Background(), closed.Context(), Result{}, Policy{Digest: closed.DigestStr()}); err != nil || len(reg.Requests()) != 0 {
		t.Errorf("Visibility without require-public = %v after %d registry requests, want none", err, len(reg.Requests()))
	}
}
