package linkcheck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-github/v60/github"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
)

func fakeAPI(t *testing.T) (*githubtest.API, *github.Client) {
	t.Helper()
	api := githubtest.Start(os.DirFS(filepath.Join("..", "..", "testdata", "github")))
	t.Cleanup(api.Close)
	client, err := githubapi.NewClient(githubapi.Options{APIURL: api.URL, Token: "ghs_verify"})
	if err != nil {
		t.Fatal(err)
	}
	return api, client
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		image, server string
		org           bool
		want          Package
	}{
		{"ghcr.io/acme/widget", "https://github.com", true, Package{Owner: "acme", Name: "widget", Org: true,
			URL:         "https://github.com/orgs/acme/packages/container/package/widget",
			SettingsURL: "https://github.com/orgs/acme/packages/container/widget/settings"}},
		{"ghcr.io/octocat/hello-world/sub", "https://github.com/", false, Package{Owner: "octocat", Name: "hello-world/sub",
			URL:         "https://github.com/users/octocat/packages/container/package/hello-world%2Fsub",
			SettingsURL: "https://github.com/users/octocat/packages/container/hello-world%2Fsub/settings"}},
		{"containers.ghe.example.com/acme/widget", "https://ghe.example.com", true, Package{Owner: "acme", Name: "widget", Org: true,
			URL:         "https://ghe.example.com/orgs/acme/packages/container/package/widget",
			SettingsURL: "https://ghe.example.com/orgs/acme/packages/container/widget/settings"}},
	}
	for _, tt := range tests {
		repo, err := name.NewRepository(tt.image)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, Describe(repo, tt.server, tt.org)); diff != "" {
			t.Errorf("Describe(%s) mismatch (-want +got):\n%s", tt.image, diff)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	api, client := fakeAPI(t)
	tests := []struct {
		pkg      Package
		want     State
		wantPath string
	}{
		{Package{Owner: "acme", Name: "widget", Org: true}, State{Exists: true, LinkedTo: "Acme/Widget", Visibility: "public"}, "/orgs/acme/packages/container/widget"},
		// A nested name is escaped once for both kinds of owner: go-github
		// escapes it for organizations and not for users.
		{Package{Owner: "acme", Name: "widget/sub", Org: true}, State{Exists: true, LinkedTo: "Acme/Widget", Visibility: "public"}, "/orgs/acme/packages/container/widget%2Fsub"},
		{Package{Owner: "octocat", Name: "hello-world", Org: false}, State{Exists: true, LinkedTo: "octocat/Hello-World", Visibility: "public"}, "/users/octocat/packages/container/hello-world"},
		{Package{Owner: "octocat", Name: "hello-world/sub", Org: false}, State{Exists: true, LinkedTo: "octocat/Hello-World", Visibility: "public"}, "/users/octocat/packages/container/hello-world%2Fsub"},
		{Package{Owner: "acme", Name: "unlinked", Org: true}, State{Exists: true, Visibility: "public"}, "/orgs/acme/packages/container/unlinked"},
		{Package{Owner: "acme", Name: "private-widget", Org: true}, State{Exists: true, LinkedTo: "Acme/Widget", Visibility: "private"}, "/orgs/acme/packages/container/private-widget"},
		{Package{Owner: "acme", Name: "new", Org: true}, State{}, "/orgs/acme/packages/container/new"},
	}
	for _, tt := range tests {
		got, err := Lookup(context.Background(), client, tt.pkg)
		if err != nil {
			t.Errorf("Lookup(%+v) = %v", tt.pkg, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Lookup(%+v) = %+v, want %+v", tt.pkg, got, tt.want)
		}
		reqs := api.Requests()
		if last := reqs[len(reqs)-1]; last.Path != tt.wantPath {
			t.Errorf("Lookup(%+v) asked for %s, want %s", tt.pkg, last.Path, tt.wantPath)
		}
	}
	api.Fail(403)
	if _, err := Lookup(context.Background(), client, Package{Owner: "acme", Name: "widget", Org: true}); err == nil {
		t.Error("Lookup() with the API refusing = nil error, want one")
	}
}

func TestIsOrg(t *testing.T) {
	t.Parallel()
	_, client := fakeAPI(t)
	for owner, want := range map[string]bool{"acme": true, "octocat": false} {
		got, err := IsOrg(context.Background(), client, owner)
		if err != nil || got != want {
			t.Errorf("IsOrg(%s) = %v, %v; want %v", owner, got, err, want)
		}
	}
	if _, err := IsOrg(context.Background(), client, "nobody"); err == nil {
		t.Error("IsOrg(nobody) = nil error, want 404")
	}
}

func TestLink(t *testing.T) {
	t.Parallel()
	fast := Options{Wait: 400 * time.Millisecond, Interval: 10 * time.Millisecond}
	widget := Package{Owner: "acme", Name: "widget", Org: true, SettingsURL: "https://github.com/orgs/acme/packages/container/widget/settings"}

	t.Run("linked", func(t *testing.T) {
		t.Parallel()
		_, client := fakeAPI(t)
		st, err := Link(context.Background(), client, widget, "acme/widget", "", fast)
		if err != nil || st.LinkedTo != "Acme/Widget" {
			t.Errorf("Link() = %+v, %v; want linked (case-insensitively)", st, err)
		}
	})
	t.Run("the link lags the push", func(t *testing.T) {
		t.Parallel()
		api, client := fakeAPI(t)
		api.Miss("orgs/acme/packages/container/widget.json", 3)
		st, err := Link(context.Background(), client, widget, "Acme/Widget", "", Options{Wait: 2 * time.Second, Interval: 10 * time.Millisecond})
		if err != nil || !st.Exists {
			t.Errorf("Link() = %+v, %v; want linked after retries", st, err)
		}
		if n := len(api.Requests()); n != 4 {
			t.Errorf("Link() asked %d times, want 4 (three misses, then found)", n)
		}
	})
	t.Run("linked elsewhere fails at once", func(t *testing.T) {
		t.Parallel()
		api, client := fakeAPI(t)
		locked := Package{Owner: "acme", Name: "locked", Org: true, SettingsURL: "https://github.com/orgs/acme/packages/container/locked/settings"}
		_, err := Link(context.Background(), client, locked, "Acme/Widget", "https://github.com/Acme/Widget", fast)
		var nl *NotLinkedError
		if !errors.As(err, &nl) || nl.State.LinkedTo != "Acme/Gadget" {
			t.Fatalf("Link() = %v, want a NotLinkedError naming Acme/Gadget", err)
		}
		for _, want := range []string{"linked to Acme/Gadget, not to Acme/Widget", locked.SettingsURL, "org.opencontainers.image.source=https://github.com/Acme/Widget"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Link() = %q, want it to say %q", err, want)
			}
		}
		if n := len(api.Requests()); n != 1 {
			t.Errorf("Link() asked %d times for a package linked elsewhere, want 1", n)
		}
	})
	t.Run("never linked", func(t *testing.T) {
		t.Parallel()
		api, client := fakeAPI(t)
		unlinked := Package{Owner: "acme", Name: "unlinked", Org: true, SettingsURL: "https://github.com/orgs/acme/packages/container/unlinked/settings"}
		start := time.Now()
		_, err := Link(context.Background(), client, unlinked, "Acme/Widget", "", fast)
		var nl *NotLinkedError
		if !errors.As(err, &nl) || !strings.Contains(err.Error(), "linked to no repository") {
			t.Fatalf("Link() = %v, want a NotLinkedError", err)
		}
		if len(api.Requests()) < 3 || time.Since(start) > 2*time.Second {
			t.Errorf("Link() asked %d times in %s, want several tries within the wait", len(api.Requests()), time.Since(start))
		}
	})
	t.Run("API error", func(t *testing.T) {
		t.Parallel()
		api, client := fakeAPI(t)
		api.Fail(403)
		_, err := Link(context.Background(), client, widget, "Acme/Widget", "", fast)
		var nl *NotLinkedError
		if err == nil || errors.As(err, &nl) {
			t.Errorf("Link() = %v, want an API error, not a NotLinkedError", err)
		}
	})
}
