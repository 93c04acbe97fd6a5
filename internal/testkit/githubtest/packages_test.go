package githubtest_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-github/v60/github"

	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// packageWorld is a registry holding a buildx-shaped index tagged 1.0 in
// acme/widget, and the API serving the package's versions from it.
func packageWorld(t *testing.T, p githubtest.Package) (*registrytest.Registry, *githubtest.API, *github.Client, *sample.Index) {
	t.Helper()
	reg, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ix, err := sample.NewIndex(sample.IndexOptions{Seed: "versions", Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ix.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(reg.Host() + "/acme/widget:1.0")
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	api := githubtest.Start(fixtures)
	t.Cleanup(api.Close)
	p.Org, p.Owner, p.Name, p.Repository, p.Content = true, "acme", "widget", "acme/widget", reg
	api.ServePackage(p)
	client := github.NewClient(nil)
	client.BaseURL, _ = client.BaseURL.Parse(api.URL)
	return reg, api, client, ix
}

func listAll(t *testing.T, client *github.Client) (digests map[string][]string, pages int) {
	t.Helper()
	digests = map[string][]string{}
	opts := &github.PackageListOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		vs, resp, err := client.Organizations.PackageGetAllVersions(context.Background(), "acme", "container", "widget", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, v := range vs {
			digests[v.GetName()] = v.GetMetadata().GetContainer().Tags
		}
		if resp.NextPage == 0 {
			return digests, pages
		}
		opts.Page = resp.NextPage
	}
}

func TestPackageVersionsMirrorRegistry(t *testing.T) {
	t.Parallel()
	reg, api, client, ix := packageWorld(t, githubtest.Package{PageSize: 2})
	got, pages := listAll(t, client)
	want := map[string][]string{ix.Digest.String(): {"1.0"}}
	for _, img := range append(append(ix.Images[:0:0], ix.Images...), ix.Attestations...) {
		d, _ := img.Digest()
		want[d.String()] = []string{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("versions mismatch (-registry +api):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("5 versions came in %d pages of at most 2, want 3", pages)
	}
	// Ids are stable; an aged package lists older created_at.
	before, _ := api.PackageVersions(true, "acme", "widget")
	if err := api.AgePackage(true, "acme", "widget", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	after, _ := api.PackageVersions(true, "acme", "widget")
	for i := range before {
		if before[i].ID != after[i].ID || before[i].Created.Sub(after[i].Created) != 48*time.Hour {
			t.Errorf("version %d: %+v aged to %+v", i, before[i], after[i])
		}
	}

	// Deleting an untagged version removes the manifest from the registry.
	child, _ := ix.Images[0].Digest()
	id := idOf(t, api, child.String())
	if _, err := client.Organizations.PackageDeleteVersion(context.Background(), "acme", "container", "widget", id); err != nil {
		t.Fatalf("deleting %s: %v", child, err)
	}
	ref, _ := name.NewDigest(reg.Host() + "/acme/widget@" + child.String())
	if _, err := remote.Head(ref); err == nil {
		t.Errorf("%s is still in the registry after its version was deleted", child)
	}
	if _, _, err := client.Organizations.PackageGetVersion(context.Background(), "acme", "container", "widget", id); status(err) != http.StatusNotFound {
		t.Errorf("reading a deleted version = %v, want 404", err)
	}
	// The only tagged version cannot go.
	_, err := client.Organizations.PackageDeleteVersion(context.Background(), "acme", "container", "widget", idOf(t, api, ix.Digest.String()))
	if status(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "last tagged version") {
		t.Errorf("deleting the last tagged version = %v, want 400", err)
	}
}

func TestPackageVersionRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		pkg    githubtest.Package
		status int
		msg    string
	}{
		{"not admin", githubtest.Package{NotAdmin: true}, http.StatusNotFound, "Package not found."},
		{"downloads", githubtest.Package{Public: true, Downloads: map[string]int{"*": 0}}, http.StatusBadRequest, "more than 5000 downloads"},
		{"rate limit", githubtest.Package{DeleteLimit: 1}, http.StatusForbidden, "secondary rate limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, api, client, ix := packageWorld(t, tc.pkg)
			first, _ := ix.Attestations[0].Digest()
			second, _ := ix.Attestations[1].Digest()
			if tc.pkg.Downloads != nil {
				tc.pkg.Downloads[first.String()] = 5001
			}
			var err error
			for _, d := range []string{second.String(), first.String()} {
				if tc.name == "downloads" && d == second.String() {
					continue
				}
				_, err = client.Organizations.PackageDeleteVersion(context.Background(), "acme", "container", "widget", idOf(t, api, d))
				if tc.name == "not admin" {
					break
				}
			}
			if status(err) != tc.status || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("DELETE = %v, want %d %q", err, tc.status, tc.msg)
			}
		})
	}
}

func TestPackageVersionsUserNestedEnterprise(t *testing.T) {
	t.Parallel()
	reg, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	img, _ := sample.Image(sample.Options{Seed: "nested"})
	tag, _ := name.NewTag(reg.Host() + "/octocat/tools/cli:v1")
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	api := githubtest.Start(fixtures)
	t.Cleanup(api.Close)
	api.ServePackage(githubtest.Package{Owner: "octocat", Name: "tools/cli", Repository: "octocat/tools/cli", Content: reg})
	client := github.NewClient(nil)
	client.BaseURL, _ = client.BaseURL.Parse(api.URL + "api/v3/")
	// Users.* does not escape a nested name (go-github v60): the caller does.
	vs, _, err := client.Users.PackageGetAllVersions(context.Background(), "octocat", "container", "tools%2Fcli", nil)
	if err != nil || len(vs) != 1 || !slices.Equal(vs[0].GetMetadata().GetContainer().Tags, []string{"v1"}) {
		t.Fatalf("versions = %v, %v", vs, err)
	}
	reqs := api.Requests()
	if got := reqs[len(reqs)-1].Path; got != "/api/v3/users/octocat/packages/container/tools%2Fcli/versions" {
		t.Errorf("path = %s", got)
	}
}

func idOf(t *testing.T, api *githubtest.API, digest string) int64 {
	t.Helper()
	vs, err := api.PackageVersions(true, "acme", "widget")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Digest == digest {
			return v.ID
		}
	}
	t.Fatalf("no version for %s", digest)
	return 0
}

func status(err error) int {
	var gerr *github.ErrorResponse
	if errors.As(err, &gerr) && gerr.Response != nil {
		return gerr.Response.StatusCode
	}
	var aerr *github.AbuseRateLimitError
	if errors.As(err, &aerr) && aerr.Response != nil {
		return aerr.Response.StatusCode
	}
	return 0
}
