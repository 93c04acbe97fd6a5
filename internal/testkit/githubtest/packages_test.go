package githubtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// rawPage is one page of the listing as sent: its body's versions and its
// rel="next" link.
func rawPage(t *testing.T, api *githubtest.API, rawURL string) (versions []map[string]any, next string) {
	t.Helper()
	if rawURL == "" {
		rawURL = api.URL + "orgs/acme/packages/container/widget/versions"
	}
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&versions); err != nil {
		t.Fatal(err)
	}
	for _, part := range strings.Split(resp.Header.Get("Link"), ",") {
		if target, rel, ok := strings.Cut(part, ";"); ok && strings.TrimSpace(rel) == `rel="next"` {
			next = strings.Trim(strings.TrimSpace(target), "<>")
		}
	}
	return versions, next
}

// TestPackageHostileListings: each hostile mode does what it says, and
// nothing else (the listing's content is the registry's).
func TestPackageHostileListings(t *testing.T) {
	t.Parallel()
	t.Run("no created_at", func(t *testing.T) {
		t.Parallel()
		_, api, _, _ := packageWorld(t, githubtest.Package{NoCreatedAt: true})
		vs, _ := rawPage(t, api, "")
		if len(vs) != 5 {
			t.Fatalf("%d versions, want 5", len(vs))
		}
		for _, v := range vs {
			if _, ok := v["created_at"]; ok {
				t.Errorf("version %v has created_at", v["name"])
			}
		}
	})
	t.Run("next on another host", func(t *testing.T) {
		t.Parallel()
		_, api, _, _ := packageWorld(t, githubtest.Package{PageSize: 2, NextHost: "elsewhere.example:443"})
		_, next := rawPage(t, api, "")
		if !strings.HasPrefix(next, "http://elsewhere.example:443/orgs/acme/packages/container/widget/versions?") {
			t.Errorf("next = %q, want it on elsewhere.example:443", next)
		}
	})
	for _, tc := range []struct {
		loop     githubtest.Loop
		wantLast string // the last page's next link, after the API's URL
	}{
		{githubtest.LoopToFirst, "orgs/acme/packages/container/widget/versions?page=1&per_page=2"},
		{githubtest.LoopToSelf, "orgs/acme/packages/container/widget/versions?page=3&per_page=2"},
	} {
		t.Run(fmt.Sprintf("loop %d", tc.loop), func(t *testing.T) {
			t.Parallel()
			_, api, _, _ := packageWorld(t, githubtest.Package{PageSize: 2, Loop: tc.loop})
			next := ""
			for range 3 { // 5 versions, 3 pages
				_, next = rawPage(t, api, next)
			}
			if next != api.URL+tc.wantLast {
				t.Errorf("the last page links to %q, want %q", next, api.URL+tc.wantLast)
			}
		})
	}
}

// TestPackageLag: with the lag begun, a tag moved and a version pushed
// later do not show: tags as they were, new versions untagged or absent.
func TestPackageLag(t *testing.T) {
	t.Parallel()
	for _, lag := range []githubtest.Lag{{Tags: true}, {Versions: true}, {Tags: true, Versions: true}} {
		t.Run(fmt.Sprintf("%+v", lag), func(t *testing.T) {
			t.Parallel()
			reg, api, client, ix := packageWorld(t, githubtest.Package{})
			if err := api.LagPackage(true, "acme", "widget", lag); err != nil {
				t.Fatal(err)
			}
			img, err := sample.Image(sample.Options{Seed: "later"})
			if err != nil {
				t.Fatal(err)
			}
			tag, _ := name.NewTag(reg.Host() + "/acme/widget:1.0")
			if err := remote.Write(tag, img); err != nil {
				t.Fatal(err)
			}
			later, _ := img.Digest()
			got, _ := listAll(t, client)
			wantOld, wantNew := []string{}, []string{"1.0"}
			if lag.Tags {
				wantOld, wantNew = []string{"1.0"}, []string{}
			}
			if diff := cmp.Diff(wantOld, got[ix.Digest.String()]); diff != "" {
				t.Errorf("the old index's tags (-want +got):\n%s", diff)
			}
			tags, listed := got[later.String()]
			if listed == lag.Versions {
				t.Errorf("the later version listed: %v, want %v", listed, !lag.Versions)
			}
			if listed && !cmp.Equal(wantNew, tags) {
				t.Errorf("the later version's tags = %q, want %q", tags, wantNew)
			}
			if err := api.LagPackage(true, "acme", "widget", githubtest.Lag{}); err != nil {
				t.Fatal(err)
			}
			if got, _ := listAll(t, client); !cmp.Equal(got[later.String()], []string{"1.0"}) {
				t.Errorf("after the lag: %q, want [1.0]", got[later.String()])
			}
		})
	}
}
