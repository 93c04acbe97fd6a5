package action

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

func TestLinkCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, image, mode string
		wantErr           string // empty: success
		wantLog           []string
		wantURL           string
		wantAPIPackages   bool
	}{
		{name: "linked", image: "acme/widget", mode: "warn", wantURL: "https://github.com/orgs/acme/packages/container/package/widget",
			wantLog: []string{"is linked to Acme/Widget"}, wantAPIPackages: true},
		{name: "nested and linked", image: "acme/widget/sub", mode: "error", wantURL: "https://github.com/orgs/acme/packages/container/package/widget%2Fsub",
			wantLog: []string{"is linked to Acme/Widget"}, wantAPIPackages: true},
		{name: "unlinked warns", image: "acme/unlinked", mode: "warn", wantURL: "https://github.com/orgs/acme/packages/container/package/unlinked",
			wantLog:         []string{"::warning title=package not linked::package acme/unlinked is linked to no repository, not to Acme/Widget", "https://github.com/orgs/acme/packages/container/unlinked/settings", "org.opencontainers.image.source=https://github.com/Acme/Widget"},
			wantAPIPackages: true},
		{name: "unlinked fails with error", image: "acme/unlinked", mode: "error", wantErr: "link-check: package acme/unlinked is linked to no repository", wantAPIPackages: true},
		{name: "off asks nothing", image: "acme/unlinked", mode: "off", wantURL: "https://github.com/orgs/acme/packages/container/package/unlinked"},
		{name: "user-owned package elsewhere", image: "octocat/hello-world", mode: "warn", wantURL: "https://github.com/users/octocat/packages/container/package/hello-world",
			wantLog: []string{"linked to octocat/Hello-World, not to Acme/Widget"}, wantAPIPackages: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, registrytest.Options{})
			r := f.run(t, map[string]string{"INPUT_IMAGE": f.reg.Host() + "/" + tt.image, "INPUT_TAGS": "1", "INPUT_LINK-CHECK": tt.mode})
			switch {
			case tt.wantErr == "" && r.err != nil:
				t.Fatalf("Run() = %v\n%s", r.err, r.log)
			case tt.wantErr != "" && (r.err == nil || !strings.HasPrefix(r.err.Error(), tt.wantErr)):
				t.Fatalf("Run() = %v, want %q", r.err, tt.wantErr)
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(r.log, want) {
					t.Errorf("log lacks %q:\n%s", want, r.log)
				}
			}
			if tt.wantErr == "" && r.outputs["package-url"] != tt.wantURL {
				t.Errorf("package-url = %q, want %q", r.outputs["package-url"], tt.wantURL)
			}
			asked := false
			for _, req := range f.api.Requests() {
				asked = asked || strings.Contains(req.Path, "/packages/")
			}
			if asked != tt.wantAPIPackages {
				t.Errorf("asked the Packages API: %v, want %v", asked, tt.wantAPIPackages)
			}
		})
	}
}

func TestDenialAdvice(t *testing.T) {
	t.Parallel()
	forkEvent, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "github", "events", "pull-request-fork.json"))
	tests := []struct {
		name string
		repo string
		vars map[string]string
		want []string
	}{
		{"new package without packages: write", "acme/brand-new", nil,
			[]string{"DENIED", "the package does not exist yet", "permissions: { contents: read, packages: write }"}},
		{"existing package of another repository", "acme/locked", nil,
			[]string{"DENIED", "already exists", "https://github.com/orgs/acme/packages/container/locked/settings", "add Acme/Widget with the Write role"}},
		{"pull request from a fork", "acme/locked", map[string]string{"GITHUB_EVENT_PATH": forkEvent, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/42/merge", "INPUT_PUSH": "true"},
			[]string{"pull request from a fork", "read-only", "workflow_run", "push at auto"}},
		{"API unreachable", "acme/locked", map[string]string{"GITHUB_API_URL": "http://127.0.0.1:1"},
			[]string{"permissions: { contents: read, packages: write }", "if the package already exists"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, registrytest.Options{ReadOnly: []string{tt.repo}})
			// Big layers, so that a push that got as far as uploading
			// would show in the byte count.
			vars := map[string]string{"INPUT_IMAGE": f.reg.Host() + "/" + tt.repo, "INPUT_TAGS": "1"}
			for k, v := range tt.vars {
				vars[k] = v
			}
			r := f.run(t, vars)
			if r.err == nil {
				t.Fatal("Run() succeeded against a read-only package")
			}
			for _, want := range tt.want {
				if !strings.Contains(r.err.Error(), want) {
					t.Errorf("Run() = %q, want it to say %q", r.err, want)
				}
			}
			if strings.Contains(r.err.Error(), "\n") {
				t.Errorf("Run() error spans lines: %q", r.err)
			}
			// Refused at the probe: no upload went further than its start.
			for _, w := range f.writes() {
				if w.Method == "PATCH" || w.Method == "PUT" || w.BodyBytes > 0 {
					t.Errorf("a denied push sent %s %s (%d bytes)", w.Method, w.Path, w.BodyBytes)
				}
			}
			assertNoTags(t, f.reg.Host()+"/"+tt.repo)
		})
	}

	// A wrong token is refused at the token exchange, with its own advice.
	f := newFixture(t, registrytest.Options{})
	r := runAction(t, f.env(map[string]string{"INPUT_TOKEN": "ghs_wrong", "INPUT_TAGS": "x"}), f.options())
	if r.err == nil || !strings.Contains(r.err.Error(), "refused the token, which is missing or invalid") {
		t.Errorf("wrong token = %v, want the 401 advice", r.err)
	}
	if strings.Contains(r.err.Error(), "ghs_wrong") {
		t.Errorf("the error shows the token: %v", r.err)
	}
}

func TestEnterpriseHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	r := f.run(t, map[string]string{
		"GITHUB_SERVER_URL": "https://ghe.example.com",
		// GitHub Enterprise Server's API lives under /api/v3.
		"GITHUB_API_URL": strings.TrimSuffix(f.api.URL, "/") + "/api/v3",
		"INPUT_IMAGE":    "",
		"INPUT_SOURCE":   "",
		"INPUT_TAGS":     "1.0",
	})
	if r.err != nil {
		t.Fatalf("Run() = %v", r.err)
	}
	if r.outputs["tags"] != "containers.ghe.example.com/acme/widget:1.0" {
		t.Errorf("tags = %q, want the Enterprise registry", r.outputs["tags"])
	}
	if !strings.Contains(r.outputs["labels"], "org.opencontainers.image.source=https://ghe.example.com/Acme/Widget") {
		t.Errorf("labels = %q, want the Enterprise source URL", r.outputs["labels"])
	}
	if !strings.Contains(r.outputs["labels"], "org.opencontainers.image.licenses=MIT") {
		t.Errorf("labels = %q: the API under /api/v3 was not asked", r.outputs["labels"])
	}
	for _, req := range f.api.Requests() {
		if !strings.HasPrefix(req.Path, "/api/v3/") {
			t.Errorf("API request %s outside /api/v3", req.Path)
		}
	}
}

func TestInputWarningsPointAtTheInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	r := f.run(t, map[string]string{"INPUT_SOURCE": "", "INPUT_TAGS": "1", "INPUT_SOURCE-URL": "https://github.com/Acme/Widget.git"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.log, "::warning title=input source-url::source-url: ") {
		t.Errorf("the .git warning is not titled with its input:\n%s", r.log)
	}
}
