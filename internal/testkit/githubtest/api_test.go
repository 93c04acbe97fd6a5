package githubtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
)

const (
	fixtureDir = "../../../testdata/github"
	commitSHA  = githubtest.SHA
	notFound   = `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/repos/repos#get-a-repository"}`
)

var fixtures = os.DirFS(fixtureDir)

// wantFixtures lists files the fixture tree must hold (it may hold more).
var wantFixtures = []string{
	"events/pull-request.json",
	"events/pull-request-dependabot.json",
	"events/pull-request-fork.json",
	"orgs/acme/packages/container/private-widget.json",
	"events/push-branch.json",
	"events/push-tag.json",
	"repos/acme/custom-license.json",
	"repos/acme/long-description.json",
	"repos/acme/widget.json",
	"repos/acme/widget/commits/" + commitSHA + ".json",
	"repos/octocat/hello-world.json",
}

func TestFixturesParse(t *testing.T) {
	t.Parallel()
	var got []string
	err := fs.WalkDir(fixtures, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got = append(got, name)
		if path.Ext(name) != ".json" {
			t.Errorf("%s: fixture is not a .json file", name)
			return nil
		}
		if name != strings.ToLower(name) {
			t.Errorf("%s: fixture name is not lower case; routes are matched lower-cased", name)
		}
		data, err := fs.ReadFile(fixtures, name)
		if err != nil {
			return err
		}
		if !utf8.Valid(data) {
			t.Errorf("%s: not valid UTF-8", name)
		}
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range wantFixtures {
		if !slices.Contains(got, name) {
			t.Errorf("fixture %s is missing; have %q", name, got)
		}
	}
}

// field walks a decoded JSON value along keys (object keys, or decimal
// indices into arrays).
func field(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				t.Fatalf("no key %q at %v", k, keys[:i])
			}
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(x) {
				t.Fatalf("bad index %q at %v", k, keys[:i])
			}
			v = x[n]
		default:
			t.Fatalf("cannot index %T with %q at %v", v, k, keys[:i])
		}
	}
	return v
}

func TestFixtureFacts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		path []string
		want any
	}{
		{"repos/acme/widget.json", []string{"full_name"}, "Acme/Widget"},
		{"repos/acme/widget.json", []string{"visibility"}, "public"},
		{"orgs/acme/packages/container/widget.json", []string{"visibility"}, "public"},
		{"orgs/acme/packages/container/private-widget.json", []string{"visibility"}, "private"},
		{"orgs/acme/packages/container/private-widget.json", []string{"repository", "full_name"}, "Acme/Widget"},
		{"events/pull-request-fork.json", []string{"pull_request", "head", "repo", "fork"}, true},
		{"events/pull-request-dependabot.json", []string{"sender", "login"}, "dependabot[bot]"},
		{"events/pull-request-dependabot.json", []string{"pull_request", "user", "type"}, "Bot"},
		{"events/pull-request-dependabot.json", []string{"pull_request", "head", "repo", "full_name"}, "Acme/Widget"},
		{"repos/acme/widget.json", []string{"owner", "login"}, "Acme"},
		{"repos/acme/widget.json", []string{"owner", "type"}, "Organization"},
		{"repos/acme/widget.json", []string{"description"}, "Widget builds and serves widgets for the Acme platform."},
		{"repos/acme/widget.json", []string{"license", "spdx_id"}, "MIT"},
		{"repos/acme/widget.json", []string{"homepage"}, "https://widget.acme.example"},
		{"repos/acme/widget.json", []string{"default_branch"}, "main"},
		{"repos/acme/widget.json", []string{"html_url"}, "https://github.com/Acme/Widget"},
		{"repos/octocat/hello-world.json", []string{"owner", "type"}, "User"},
		{"repos/octocat/hello-world.json", []string{"description"}, "My first repository on GitHub!"},
		{"repos/octocat/hello-world.json", []string{"license"}, nil},
		{"repos/acme/custom-license.json", []string{"description"}, ""},
		{"repos/acme/custom-license.json", []string{"license"}, map[string]any{
			"key": "other", "name": "Other", "spdx_id": "NOASSERTION", "url": nil, "node_id": "MDc6TGljZW5zZTA=",
		}},
		{"repos/acme/long-description.json", []string{"license", "spdx_id"}, "Apache-2.0"},
		{"repos/acme/widget/commits/" + commitSHA + ".json", []string{"sha"}, commitSHA},
		{"repos/acme/widget/commits/" + commitSHA + ".json", []string{"commit", "committer", "date"}, "2026-10-30T14:15:16Z"},
		{"repos/acme/widget/commits/" + commitSHA + ".json", []string{"files"}, []any{}},
		{"events/push-branch.json", []string{"ref"}, "refs/heads/main"},
		{"events/push-branch.json", []string{"after"}, commitSHA},
		{"events/push-branch.json", []string{"head_commit", "id"}, commitSHA},
		{"events/push-branch.json", []string{"head_commit", "timestamp"}, "2026-10-30T15:15:16+01:00"},
		{"events/push-branch.json", []string{"commits", "0", "id"}, commitSHA},
		{"events/push-branch.json", []string{"repository", "full_name"}, "Acme/Widget"},
		{"events/push-branch.json", []string{"repository", "owner", "type"}, "Organization"},
		{"events/push-tag.json", []string{"ref"}, "refs/tags/v1.2.3"},
		{"events/push-tag.json", []string{"head_commit", "id"}, commitSHA},
		{"events/pull-request.json", []string{"action"}, "synchronize"},
		{"events/pull-request.json", []string{"number"}, 42.0},
		{"events/pull-request.json", []string{"pull_request", "head", "repo", "full_name"}, "Acme/Widget"},
		{"events/pull-request.json", []string{"repository", "full_name"}, "Acme/Widget"},
	}
	docs := map[string]any{}
	for _, tt := range tests {
		if _, ok := docs[tt.file]; ok {
			continue
		}
		data, err := fs.ReadFile(fixtures, tt.file)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		docs[tt.file] = v
	}
	for _, tt := range tests {
		t.Run(tt.file+":"+strings.Join(tt.path, "."), func(t *testing.T) {
			t.Parallel()
			got := field(t, docs[tt.file], tt.path...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("pull request has no head commit timestamp", func(t *testing.T) {
		t.Parallel()
		ev := docs["events/pull-request.json"].(map[string]any)
		if _, ok := ev["head_commit"]; ok {
			t.Error("pull_request payload has head_commit; GitHub sends none")
		}
	})
}

func TestLongDescription(t *testing.T) {
	t.Parallel()
	data, err := fs.ReadFile(fixtures, "repos/acme/long-description.json")
	if err != nil {
		t.Fatal(err)
	}
	var repo struct{ Description string }
	if err := json.Unmarshal(data, &repo); err != nil {
		t.Fatal(err)
	}
	d := repo.Description
	if n := utf8.RuneCountInString(d); n != 600 {
		t.Errorf("description has %d characters, want 600", n)
	}
	// Byte 512 falls inside the 4-byte "🚀" at bytes 510–513: a byte cut
	// at 512 splits it.
	if got := d[510:514]; got != "🚀" {
		t.Errorf("bytes 510–513 = %q, want %q", got, "🚀")
	}
	if utf8.ValidString(d[:512]) {
		t.Error("the first 512 bytes are valid UTF-8; want a split character")
	}
	// The 512th character is a multi-byte "é".
	runes := []rune(d)
	if got := string(runes[511]); got != "é" {
		t.Errorf("character 512 = %q, want %q", got, "é")
	}
	if got := string(runes[:512]); !strings.HasSuffix(got, "🚀 Bon appé") {
		t.Errorf("first 512 characters end %q, want suffix %q", got[len(got)-20:], "🚀 Bon appé")
	}
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, u, auth string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	data, err := fs.ReadFile(fixtures, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestStart(t *testing.T) {
	t.Parallel()
	api := githubtest.Start(fixtures)
	defer api.Close()
	u, err := url.Parse(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Path != "/" {
		t.Errorf("URL = %q, want http://127.0.0.1:PORT/", api.URL)
	}
	if got := api.Requests(); len(got) != 0 {
		t.Errorf("Requests() before any request = %v, want none", got)
	}
	api.Close() // Close twice is fine
}

func TestRouting(t *testing.T) {
	t.Parallel()
	widget := "repos/acme/widget.json"
	commit := "repos/acme/widget/commits/" + commitSHA + ".json"
	tests := []struct {
		name       string
		method     string
		path       string // relative to API.URL
		wantStatus int
		wantFile   string // fixture served; "" means the 404 body
		wantBody   string // exact body when wantFile is ""; "-" means empty
	}{
		{"repo", "GET", "repos/acme/widget", 200, widget, ""},
		{"repo as GitHub spells it", "GET", "repos/Acme/Widget", 200, widget, ""},
		{"repo upper case", "GET", "repos/ACME/WIDGET", 200, widget, ""},
		{"user repo", "GET", "repos/octocat/Hello-World", 200, "repos/octocat/hello-world.json", ""},
		{"custom license", "GET", "repos/acme/custom-license", 200, "repos/acme/custom-license.json", ""},
		{"long description", "GET", "repos/Acme/long-description", 200, "repos/acme/long-description.json", ""},
		{"commit", "GET", "repos/Acme/Widget/commits/" + commitSHA, 200, commit, ""},
		{"commit upper-case sha", "GET", "repos/acme/widget/commits/" + strings.ToUpper(commitSHA), 200, commit, ""},
		{"enterprise repo", "GET", "api/v3/repos/Acme/Widget", 200, widget, ""},
		{"enterprise commit", "GET", "api/v3/repos/acme/widget/commits/" + commitSHA, 200, commit, ""},
		{"enterprise prefix upper case", "GET", "API/V3/repos/acme/widget", 200, widget, ""},
		{"head", "HEAD", "repos/acme/widget", 200, "", "-"},
		{"missing repo", "GET", "repos/acme/nope", 404, "", notFound},
		{"missing owner", "GET", "repos/nobody/widget", 404, "", notFound},
		{"missing commit", "GET", "repos/acme/widget/commits/89abcdef0123456789abcdef0123456789abcdef", 404, "", notFound},
		{"commit of other repo", "GET", "repos/octocat/hello-world/commits/" + commitSHA, 404, "", notFound},
		{"root", "GET", "", 404, "", notFound},
		{"owner only", "GET", "repos/acme", 404, "", notFound},
		{"trailing slash", "GET", "repos/acme/widget/", 404, "", notFound},
		{"double slash", "GET", "repos//acme/widget", 404, "", notFound},
		{"file name", "GET", "repos/acme/widget.json", 404, "", notFound},
		{"events are not routes", "GET", "events/push-branch", 404, "", notFound},
		{"dot-dot", "GET", "repos/acme/../../events/push-branch", 404, "", notFound},
		{"commits list", "GET", "repos/acme/widget/commits", 404, "", notFound},
		{"other route", "GET", "user", 404, "", notFound},
		{"enterprise prefix alone", "GET", "api/v3/", 404, "", notFound},
		{"enterprise prefix twice", "GET", "api/v3/api/v3/repos/acme/widget", 404, "", notFound},
		{"post", "POST", "repos/acme/widget", 404, "", notFound},
		{"patch", "PATCH", "repos/acme/widget", 404, "", notFound},
		{"delete", "DELETE", "repos/acme/widget", 404, "", notFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := githubtest.Start(fixtures)
			defer api.Close()
			c := newClient(t)

			got := do(t, c, tt.method, api.URL+tt.path, "Bearer ghs_routing")
			if got.status != tt.wantStatus {
				t.Errorf("%s %s: status = %d, want %d", tt.method, tt.path, got.status, tt.wantStatus)
			}
			want := tt.wantBody
			switch {
			case tt.wantFile != "":
				want = fixture(t, tt.wantFile)
			case want == "-":
				want = ""
			}
			if diff := cmp.Diff(want, got.body); diff != "" {
				t.Errorf("%s %s: body (-want +got):\n%s", tt.method, tt.path, diff)
			}
			if got, want := got.header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			for h, want := range map[string]string{
				"X-GitHub-Media-Type":   "github.v3; format=json",
				"X-RateLimit-Limit":     "5000",
				"X-RateLimit-Remaining": "4999",
				"X-RateLimit-Used":      "1",
				"X-RateLimit-Resource":  "core",
			} {
				if got := got.header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if reset, err := strconv.ParseInt(got.header.Get("X-RateLimit-Reset"), 10, 64); err != nil || reset < time.Now().Unix() {
				t.Errorf("X-RateLimit-Reset = %q, want a Unix time in the future", got.header.Get("X-RateLimit-Reset"))
			}

			wantReqs := []githubtest.Request{{Method: tt.method, Path: "/" + tt.path, Authorization: "Bearer ghs_routing"}}
			if diff := cmp.Diff(wantReqs, api.Requests()); diff != "" {
				t.Errorf("Requests() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		wantBody string
	}{
		{401, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`},
		{403, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}`},
		{404, notFound},
		{418, `{"message":"I'm a teapot","documentation_url":"https://docs.github.com/rest"}`},
		{422, `{"message":"Validation Failed","documentation_url":"https://docs.github.com/rest"}`},
		{500, `{"message":"Server Error","documentation_url":"https://docs.github.com/rest"}`},
		{503, `{"message":"Service Unavailable","documentation_url":"https://docs.github.com/rest"}`},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			api := githubtest.Start(fixtures)
			defer api.Close()
			c := newClient(t)

			api.Fail(tt.status)
			for _, p := range []string{"repos/acme/widget", "api/v3/repos/acme/widget/commits/" + commitSHA, "nowhere"} {
				got := do(t, c, "GET", api.URL+p, "token ghp_fail")
				if got.status != tt.status {
					t.Errorf("GET %s: status = %d, want %d", p, got.status, tt.status)
				}
				if diff := cmp.Diff(tt.wantBody, got.body); diff != "" {
					t.Errorf("GET %s: body (-want +got):\n%s", p, diff)
				}
				if got, want := got.header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
					t.Errorf("Content-Type = %q, want %q", got, want)
				}
			}

			api.Fail(0)
			got := do(t, c, "GET", api.URL+"repos/acme/widget", "")
			if got.status != 200 || got.body != fixture(t, "repos/acme/widget.json") {
				t.Errorf("after Fail(0): status %d, body %.40q…; want 200 and the fixture", got.status, got.body)
			}
			if got, want := got.header.Get("X-RateLimit-Limit"), "60"; got != want {
				t.Errorf("unauthenticated X-RateLimit-Limit = %q, want %q", got, want)
			}
			if n := len(api.Requests()); n != 4 {
				t.Errorf("recorded %d requests, want 4: failed requests are recorded too", n)
			}
		})
	}
}

func TestFailPanicsOnBadStatus(t *testing.T) {
	t.Parallel()
	for _, status := range []int{-1, 1, 99, 199, 600} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			api := githubtest.Start(fixtures)
			defer api.Close()
			defer func() {
				if recover() == nil {
					t.Errorf("Fail(%d) did not panic", status)
				}
			}()
			api.Fail(status)
		})
	}
}

func TestRequestsConcurrent(t *testing.T) {
	t.Parallel()
	api := githubtest.Start(fixtures)
	defer api.Close()
	c := newClient(t)

	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequest("GET", api.URL+"repos/acme/widget", nil)
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", fmt.Sprintf("Bearer ghs_%02d", i))
			resp, err := c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			_ = api.Requests() // read while others write
		})
		if i == n/2 {
			api.Fail(500) // race Fail against requests
		}
	}
	wg.Wait()
	api.Fail(0)

	reqs := api.Requests()
	var want []githubtest.Request
	for i := range n {
		want = append(want, githubtest.Request{Method: "GET", Path: "/repos/acme/widget", Authorization: fmt.Sprintf("Bearer ghs_%02d", i)})
	}
	sortReqs := cmpopts.SortSlices(func(a, b githubtest.Request) bool { return a.Authorization < b.Authorization })
	if diff := cmp.Diff(want, reqs, sortReqs); diff != "" {
		t.Errorf("Requests() (-want +got):\n%s", diff)
	}

	// Requests returns a copy.
	reqs[0].Path = "/changed"
	if got := api.Requests()[0].Path; got != "/repos/acme/widget" {
		t.Errorf("changing the result of Requests changed the record: Path = %q", got)
	}
}

func TestRequestsAfterClose(t *testing.T) {
	t.Parallel()
	api := githubtest.Start(fixtures)
	c := newClient(t)
	do(t, c, "GET", api.URL+"repos/acme/widget", "Bearer ghs_close")
	api.Close()
	want := []githubtest.Request{{Method: "GET", Path: "/repos/acme/widget", Authorization: "Bearer ghs_close"}}
	if diff := cmp.Diff(want, api.Requests()); diff != "" {
		t.Errorf("Requests() after Close (-want +got):\n%s", diff)
	}
}

func TestRequestStringRedacts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		req  githubtest.Request
		want string
	}{
		{githubtest.Request{Method: "GET", Path: "/repos/acme/widget"}, "GET /repos/acme/widget"},
		{githubtest.Request{Method: "GET", Path: "/x", Authorization: "Bearer ghs_secret"}, "GET /x (Authorization: Bearer [REDACTED])"},
		{githubtest.Request{Method: "GET", Path: "/x", Authorization: "ghs_secret"}, "GET /x (Authorization: [REDACTED])"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			for _, format := range []string{"%v", "%s", "%+v"} {
				got := fmt.Sprintf(format, tt.req)
				if got != tt.want {
					t.Errorf("Sprintf(%q) = %q, want %q", format, got, tt.want)
				}
				if strings.Contains(got, "secret") {
					t.Errorf("Sprintf(%q) = %q leaks the credentials", format, got)
				}
			}
		})
	}
}
