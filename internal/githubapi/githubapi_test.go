package githubapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-github/v60/github"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
)

const sha = githubtest.SHA

// startAPI serves the recorded responses under testdata/github.
func startAPI(t *testing.T) *githubtest.API {
	t.Helper()
	a := githubtest.Start(os.DirFS("../../testdata/github"))
	t.Cleanup(a.Close)
	return a
}

func commitTime() *time.Time {
	t := time.Date(2026, 10, 30, 14, 15, 16, 0, time.UTC)
	return &t
}

// widget is what repos/acme/widget.json and its commit say.
func widget() githubapi.Info {
	return githubapi.Info{
		Name:        "Widget",
		FullName:    "Acme/Widget",
		Description: "Widget builds and serves widgets for the Acme platform.",
		HTMLURL:     "https://github.com/Acme/Widget",
		License:     "MIT",
		OwnerType:   "Organization",
		// type=edge's default branch.
		DefaultBranch: "main",
		Visibility:    "public",
		CommitTime:    commitTime(),
	}
}

func paths(reqs []githubtest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

func TestFetch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		owner, repo string
		sha         string
		want        githubapi.Info
		// wantErr are what the error must mention; none means no error.
		wantErr  []string
		wantReqs []string
	}{{
		name:  "repository and commit",
		owner: "Acme", repo: "Widget", sha: sha,
		want:     widget(),
		wantReqs: []string{"GET /repos/Acme/Widget", "GET /repos/Acme/Widget/commits/" + sha},
	}, {
		name:  "no sha: no commit asked for",
		owner: "Acme", repo: "Widget",
		want: func() githubapi.Info {
			i := widget()
			i.CommitTime = nil
			return i
		}(),
		wantReqs: []string{"GET /repos/Acme/Widget"},
	}, {
		name:  "NOASSERTION license is no license",
		owner: "Acme", repo: "custom-license",
		want: githubapi.Info{
			Name:          "custom-license",
			FullName:      "Acme/custom-license",
			HTMLURL:       "https://github.com/Acme/custom-license",
			OwnerType:     "Organization",
			DefaultBranch: "main",
			Visibility:    "public",
		},
		wantReqs: []string{"GET /repos/Acme/custom-license"},
	}, {
		name:  "null license",
		owner: "octocat", repo: "Hello-World",
		want: githubapi.Info{
			Name:          "Hello-World",
			FullName:      "octocat/Hello-World",
			Description:   "My first repository on GitHub!",
			HTMLURL:       "https://github.com/octocat/Hello-World",
			OwnerType:     "User",
			DefaultBranch: "master",
			Visibility:    "public",
		},
		wantReqs: []string{"GET /repos/octocat/Hello-World"},
	}, {
		name:  "unknown repository",
		owner: "Acme", repo: "missing", sha: sha,
		wantErr:  []string{"Acme/missing", "404", "Not Found"},
		wantReqs: []string{"GET /repos/Acme/missing", "GET /repos/Acme/missing/commits/" + sha},
	}, {
		name:  "unknown commit keeps the repository",
		owner: "Acme", repo: "Widget", sha: "ffffffffffffffffffffffffffffffffffffffff",
		want: func() githubapi.Info {
			i := widget()
			i.CommitTime = nil
			return i
		}(),
		wantErr:  []string{"ffffffffffffffffffffffffffffffffffffffff", "404"},
		wantReqs: []string{"GET /repos/Acme/Widget", "GET /repos/Acme/Widget/commits/ffffffffffffffffffffffffffffffffffffffff"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := startAPI(t)
			got, err := githubapi.Fetch(context.Background(), tc.owner, tc.repo, tc.sha, githubapi.Options{APIURL: a.URL})
			checkErr(t, err, tc.wantErr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Fetch(%q, %q, %q) mismatch (-want +got):\n%s", tc.owner, tc.repo, tc.sha, diff)
			}
			// The repository and the commit are asked for at once: sorted,
			// not in order.
			reqs := paths(a.Requests())
			slices.Sort(reqs)
			if diff := cmp.Diff(tc.wantReqs, reqs); diff != "" {
				t.Errorf("Fetch(%q, %q, %q) requests mismatch (-want +got):\n%s", tc.owner, tc.repo, tc.sha, diff)
			}
		})
	}
}

// checkErr fails unless err mentions each of want, or is nil when want is.
func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("Fetch() error = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Fetch() error = nil, want one mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Fetch() error = %q, want it to mention %q", err, w)
		}
	}
}

func TestFetchCommitTimeIsUTC(t *testing.T) {
	t.Parallel()
	a := startAPI(t)
	got, err := githubapi.Fetch(context.Background(), "Acme", "Widget", sha, githubapi.Options{APIURL: a.URL})
	if err != nil {
		t.Fatalf("Fetch() error = %v", err)
	}
	if got.CommitTime == nil || got.CommitTime.Location() != time.UTC {
		t.Errorf("Fetch() CommitTime = %v, want a time in UTC", got.CommitTime)
	}
}

func TestFetchToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"token", "ghs_16C7e42F292c6912E7710c838347Ae178B4a", "Bearer ghs_16C7e42F292c6912E7710c838347Ae178B4a"},
		{"anonymous", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := startAPI(t)
			if _, err := githubapi.Fetch(context.Background(), "Acme", "Widget", sha, githubapi.Options{APIURL: a.URL, Token: tc.token}); err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			reqs := a.Requests()
			if len(reqs) != 2 {
				t.Fatalf("Fetch() made %d requests (%v), want 2", len(reqs), reqs)
			}
			for _, r := range reqs {
				if r.Authorization != tc.want {
					// Not %q of the header: it may hold a token.
					t.Errorf("Fetch() sent %v, want Authorization %q", r, strings.SplitN(tc.want, " ", 2)[0])
				}
			}
		})
	}
}

func TestFetchAPIURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		url    func(base string) string // base has a trailing slash
		prefix string
	}{
		{"trailing slash", func(b string) string { return b }, ""},
		{"no trailing slash", func(b string) string { return strings.TrimSuffix(b, "/") }, ""},
		{"GitHub Enterprise Server", func(b string) string { return b + "api/v3" }, "/api/v3"},
		{"GitHub Enterprise Server, trailing slash", func(b string) string { return b + "api/v3/" }, "/api/v3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := startAPI(t)
			got, err := githubapi.Fetch(context.Background(), "Acme", "Widget", sha, githubapi.Options{APIURL: tc.url(a.URL)})
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			if diff := cmp.Diff(widget(), got); diff != "" {
				t.Errorf("Fetch() mismatch (-want +got):\n%s", diff)
			}
			// Both at once, so in either order.
			want := []string{
				"GET " + tc.prefix + "/repos/Acme/Widget",
				"GET " + tc.prefix + "/repos/Acme/Widget/commits/" + sha,
			}
			reqs := paths(a.Requests())
			slices.Sort(reqs)
			if diff := cmp.Diff(want, reqs); diff != "" {
				t.Errorf("Fetch() requests mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFetchBadAPIURL(t *testing.T) {
	t.Parallel()
	got, err := githubapi.Fetch(context.Background(), "Acme", "Widget", sha, githubapi.Options{APIURL: "http://[::1"})
	checkErr(t, err, []string{"GITHUB_API_URL", "http://[::1"})
	if diff := cmp.Diff(githubapi.Info{}, got); diff != "" {
		t.Errorf("Fetch() mismatch (-want +got):\n%s", diff)
	}
}

func TestFetchFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  int
		wantErr []string
	}{
		{http.StatusUnauthorized, []string{"401", "Bad credentials"}},
		{http.StatusForbidden, []string{"403", "Resource not accessible by integration"}},
		{http.StatusInternalServerError, []string{"500", "Server Error"}},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			a := startAPI(t)
			a.Fail(tc.status)
			got, err := githubapi.Fetch(context.Background(), "Acme", "Widget", sha, githubapi.Options{APIURL: a.URL, Token: "ghs_token"})
			checkErr(t, err, append([]string{"Acme/Widget", sha}, tc.wantErr...))
			if diff := cmp.Diff(githubapi.Info{}, got); diff != "" {
				t.Errorf("Fetch() mismatch (-want +got):\n%s", diff)
			}
			// describe shortens go-github's errors, which repeat the URL.
			if err != nil && strings.Contains(err.Error(), a.URL) {
				t.Errorf("Fetch() error = %q, want it without the request URL", err)
			}
			// ...and keeps go-github's typed error for callers to branch on.
			var gerr *github.ErrorResponse
			if !errors.As(err, &gerr) || gerr.Response.StatusCode != tc.status {
				t.Errorf("Fetch() error = %#v, want it to unwrap to a *github.ErrorResponse with status %d", err, tc.status)
			}
		})
	}
}

// hangingServer answers no request until the client gives up, as an API
// behind a stalled proxy would.
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	// Cleanups run last-in first-out: release any handler still waiting,
	// then close.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}

func TestFetchTimeout(t *testing.T) {
	t.Parallel()
	srv := hangingServer(t)
	// The parent deadline only bounds the test should Timeout be ignored;
	// the elapsed time below then fails it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	got, err := githubapi.Fetch(ctx, "Acme", "Widget", sha, githubapi.Options{APIURL: srv.URL, Timeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Fetch() error = %v, want context.DeadlineExceeded", err)
	}
	if elapsed > time.Second {
		t.Errorf("Fetch() took %v with a Timeout of 200ms", elapsed)
	}
	if diff := cmp.Diff(githubapi.Info{}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Fetch() mismatch (-want +got):\n%s", diff)
	}
}

func TestFetchCancelled(t *testing.T) {
	t.Parallel()
	srv := hangingServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := githubapi.Fetch(ctx, "Acme", "Widget", sha, githubapi.Options{APIURL: srv.URL})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch() error = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Fetch() took %v after its context was cancelled at 100ms", elapsed)
	}
}

// TestRedirectKeepsToken: an API that redirects to another host. The
// oauth2 transport sets the token on the redirected request too; the guard
// below it drops it, so the other host never sees it.
func TestRedirectKeepsToken(t *testing.T) {
	t.Parallel()
	other := startAPI(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.TrimSuffix(other.URL, "/")+r.URL.RequestURI(), http.StatusMovedPermanently)
	}))
	t.Cleanup(origin.Close)
	const token = "ghs_redirectTestToken012345"
	got, err := githubapi.Fetch(context.Background(), "Acme", "Widget", sha, githubapi.Options{APIURL: origin.URL, Token: token})
	if err != nil {
		t.Fatalf("Fetch = %v", err)
	}
	if got.FullName != "Acme/Widget" {
		t.Errorf("Fetch found %q through the redirect, want Acme/Widget", got.FullName)
	}
	reqs := other.Requests()
	if len(reqs) == 0 {
		t.Fatal("the other host saw no request: the redirect was not followed")
	}
	for _, r := range reqs {
		if r.Authorization != "" {
			t.Errorf("the other host received credentials: %s", r)
		}
	}
}
