package action

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// TestImageWithCapitalsIsLowerCased publishes with image written the way
// most workflows write it, ghcr.io/${{ github.repository }}: the run
// lower-cases it with a notice instead of failing, and the source label
// keeps the repository's own spelling, which is what links the package.
func TestImageWithCapitalsIsLowerCased(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	r := f.run(t, map[string]string{"INPUT_IMAGE": f.reg.Host() + "/Acme/Widget", "INPUT_TAGS": "caps"})
	if r.err != nil {
		t.Fatalf("Run() = %v", r.err)
	}
	want := f.reg.Host() + "/acme/widget"
	if !strings.Contains(r.log, "::notice::image: publishing to "+want+", the input lower-cased") {
		t.Errorf("log has no notice about lower-casing image:\n%s", r.log)
	}
	if !strings.HasPrefix(r.outputs["image"], want+"@sha256:") {
		t.Errorf("image output = %q, want %s@sha256:…", r.outputs["image"], want)
	}
	ref, err := name.ParseReference(want + ":caps")
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "x", Password: token}))
	if err != nil {
		t.Fatalf("reading back %s: %v", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Labels["org.opencontainers.image.source"]; got != "https://github.com/Acme/Widget" {
		t.Errorf("source label = %q, want the repository's own case, https://github.com/Acme/Widget", got)
	}
}

// TestFineGrainedTokenFailsBeforeAnyRequest: GitHub Packages refuses
// fine-grained personal access tokens, so one meant for GitHub's registry
// is refused by its prefix, before the registry or the API sees anything.
func TestFineGrainedTokenFailsBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	const pat = "github_pat_11ABCDEFG0abcdefghijklm_nopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ"
	r := f.run(t, map[string]string{"INPUT_TOKEN": pat, "INPUT_TAGS": "pat"})
	if r.err == nil {
		t.Fatal("Run() with a fine-grained token succeeded")
	}
	msg := r.err.Error()
	for _, want := range []string{"token: ", "fine-grained", "${{ github.token }}", "classic personal access token"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Run() = %q, want it to say %q", msg, want)
		}
	}
	if strings.Contains(msg, pat) || strings.Contains(r.log, "::error::"+pat) {
		t.Errorf("the token was printed: %q", msg)
	}
	if got := f.reg.Requests(); len(got) != 0 {
		t.Errorf("the registry got %d requests, want none: %+v", len(got), got)
	}
	if got := f.api.Requests(); len(got) != 0 {
		t.Errorf("the API got %d requests, want none: %v", len(got), got)
	}
}

// TestRenamedOwnerAdvice: the old name of a renamed owner answers ghcr's
// DENIED "not_found: owner not found"; the advice says what happened and
// which image to use, and nothing is tagged.
func TestRenamedOwnerAdvice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{GoneOwners: []string{"old-acme"}})
	r := f.run(t, map[string]string{"INPUT_IMAGE": f.reg.Host() + "/old-acme/widget", "INPUT_TAGS": "1"})
	if r.err == nil {
		t.Fatal("Run() to a renamed owner succeeded")
	}
	for _, want := range []string{"not_found: owner not found", `no owner named "old-acme"`, "renamed", "does not redirect", "image: " + f.reg.Host() + "/acme/widget"} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("Run() = %q, want it to say %q", r.err, want)
		}
	}
	if strings.Contains(r.err.Error(), "packages: write") {
		t.Errorf("Run() = %q, gives the permissions advice for a missing owner", r.err)
	}
	for _, w := range f.writes() {
		if w.Method == "PUT" || w.Method == "PATCH" {
			t.Errorf("a refused push sent %s %s", w.Method, w.Path)
		}
	}
	assertNoTags(t, f.reg.Host()+"/old-acme/widget")
}

// TestReadOnlyTokenAdvice: with push: true, a Dependabot run whose token is
// read-only fails at the probe with advice naming the cause and push: auto.
func TestReadOnlyTokenAdvice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{ReadOnly: []string{"acme/widget"}})
	event, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "github", "events", "pull-request-dependabot.json"))
	r := f.run(t, map[string]string{"INPUT_PUSH": "true", "GITHUB_EVENT_PATH": event, "GITHUB_EVENT_NAME": "pull_request",
		"GITHUB_REF": "refs/pull/57/merge", "GITHUB_ACTOR": "dependabot[bot]", "INPUT_USERNAME": "dependabot[bot]"})
	if r.err == nil {
		t.Fatal("Run() with a read-only token succeeded")
	}
	for _, want := range []string{"DENIED", "triggered by Dependabot", "read-only", "push at auto"} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("Run() = %q, want it to say %q", r.err, want)
		}
	}
	assertNoTags(t, f.reg.Host()+"/acme/widget")
}

// privateWidget serves the versions of acme/private-widget, a package the
// recorded API reports as private and linked to the public Acme/Widget,
// from the test registry's real content.
func privateWidget(f *fixture) string {
	f.api.ServePackage(githubtest.Package{Org: true, Owner: "acme", Name: "private-widget", Repository: "acme/private-widget", Content: f.reg})
	return f.reg.Host() + "/acme/private-widget"
}

// TestPrivatePackageNoticeOnce: a public repository's package that the API
// reports as private gets a notice with its settings URL at its first
// publish, and not at the next one; the visibility output says private
// every time.
func TestPrivatePackageNoticeOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	image := privateWidget(f)
	settings := "https://github.com/orgs/acme/packages/container/private-widget/settings"

	first := f.run(t, map[string]string{"INPUT_IMAGE": image, "INPUT_TAGS": "1"})
	if first.err != nil {
		t.Fatalf("first publish: %v", first.err)
	}
	if got := first.outputs["visibility"]; got != "private" {
		t.Errorf("visibility output = %q, want private", got)
	}
	for _, want := range []string{"::notice title=package visibility::The package is private, while Acme/Widget is public", settings, "Change visibility, Public"} {
		if !strings.Contains(first.log, want) {
			t.Errorf("first publish's log lacks %q:\n%s", want, first.log)
		}
	}
	for _, want := range []string{"| Visibility | private |", "> The package is private, while Acme/Widget is public", settings} {
		if !strings.Contains(first.summary, want) {
			t.Errorf("first publish's summary lacks %q:\n%s", want, first.summary)
		}
	}
	if !strings.Contains(first.outputs["json"], `"visibility":"private"`) {
		t.Errorf("json output = %s, want visibility private", first.outputs["json"])
	}

	// Different content (another label), so a new version beside the
	// first publish's.
	second := f.run(t, map[string]string{"INPUT_IMAGE": image, "INPUT_TAGS": "2", "INPUT_LABELS": "build=2"})
	if second.err != nil {
		t.Fatalf("second publish: %v", second.err)
	}
	if second.outputs["visibility"] != "private" || !strings.Contains(second.summary, "| Visibility | private |") {
		t.Errorf("second publish: visibility output %q, summary:\n%s; want private in both", second.outputs["visibility"], second.summary)
	}
	if strings.Contains(second.log, "::notice title=package visibility::") || strings.Contains(second.summary, "The package is private") {
		t.Errorf("second publish repeats the notice:\n%s", second.log)
	}
	// What the visibility costs: the package itself comes from the link
	// check, and each run lists one page of versions.
	var packageGets, versionLists int
	for _, req := range f.api.Requests() {
		switch {
		case strings.HasSuffix(req.Path, "/packages/container/private-widget/versions"):
			versionLists++
		case strings.HasSuffix(req.Path, "/packages/container/private-widget"):
			packageGets++
		}
	}
	if packageGets != 2 || versionLists != 2 {
		t.Errorf("two publishes asked for the package %d times and its versions %d times, want 2 and 2", packageGets, versionLists)
	}
	// Nothing was asked anonymously: never without require-public.
	for _, r := range f.reg.Requests() {
		if r.Path == "/token" && r.Authorization == "" {
			t.Errorf("an anonymous token request without require-public: %+v", r)
		}
	}
}

// TestPublicPackage: a public package's visibility is reported, with no
// notice; require-public trusts the API's public and pulls nothing.
func TestPublicPackage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	r := f.run(t, map[string]string{"INPUT_TAGS": "1", "INPUT_REQUIRE-PUBLIC": "true"})
	if r.err != nil {
		t.Fatalf("Run() = %v", r.err)
	}
	if r.outputs["visibility"] != "public" || !strings.Contains(r.summary, "| Visibility | public |") {
		t.Errorf("visibility output %q, summary:\n%s; want public", r.outputs["visibility"], r.summary)
	}
	if strings.Contains(r.log, "title=package visibility") {
		t.Errorf("a public package got a visibility notice:\n%s", r.log)
	}
	for _, req := range f.reg.Requests() {
		if req.Path == "/token" && req.Authorization == "" {
			t.Errorf("an anonymous token request for a package the API reports public: %+v", req)
		}
	}
	// The link check's answer serves the visibility too: one request for
	// the package, no version list.
	var packageGets int
	for _, req := range f.api.Requests() {
		if strings.Contains(req.Path, "/versions") {
			t.Errorf("a public package's versions were listed: %s", req)
		}
		if strings.HasSuffix(req.Path, "/packages/container/widget") {
			packageGets++
		}
	}
	if packageGets != 1 {
		t.Errorf("asked for the package %d times, want 1", packageGets)
	}
}

// TestRequirePublic: with require-public, a package the API reports as
// private is pulled anonymously, as docker pull does (a token request with
// no credentials, then the manifest); a refusal fails the step with the
// settings URL, after the publish; an anonymous pull that works passes.
func TestRequirePublic(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		public  []string // repositories the registry serves anonymously
		wantErr []string // none: success
	}{
		{"refused", nil, []string{"require-public: the package is private and cannot be pulled anonymously",
			"the token request (GET /token) answered 401 UNAUTHORIZED", "is published and tagged",
			"https://github.com/orgs/acme/packages/container/private-widget/settings"}},
		{"pullable although the API says private", []string{"acme/private-widget"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, registrytest.Options{Public: tt.public})
			image := privateWidget(f)
			r := f.run(t, map[string]string{"INPUT_IMAGE": image, "INPUT_TAGS": "1", "INPUT_REQUIRE-PUBLIC": "true"})
			var anonymous int
			for _, req := range f.reg.Requests() {
				if req.Path == "/token" && req.Authorization == "" {
					anonymous++
				}
			}
			if anonymous != 1 {
				t.Errorf("%d anonymous token requests, want 1", anonymous)
			}
			if tt.wantErr == nil {
				if r.err != nil {
					t.Fatalf("Run() = %v", r.err)
				}
				if !strings.Contains(r.summary, "reports the package as private, yet an anonymous pull of") {
					t.Errorf("summary does not say the pull worked despite the API:\n%s", r.summary)
				}
				return
			}
			if r.err == nil {
				t.Fatal("Run() succeeded for a package that cannot be pulled anonymously")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(r.err.Error(), want) {
					t.Errorf("Run() = %q, want it to say %q", r.err, want)
				}
			}
			if strings.Contains(r.err.Error(), "\n") {
				t.Errorf("Run() error spans lines: %q", r.err)
			}
			// The publish itself completed: the tag is there.
			ref, _ := name.ParseReference(image + ":1")
			if _, err := remote.Head(ref, remote.WithAuth(&authn.Basic{Username: "x", Password: token})); err != nil {
				t.Errorf("tag 1 after require-public failed: %v", err)
			}
		})
	}
}

// TestPushAutoReadOnlyToken: with push: auto (the default), a pull request
// from a fork and a Dependabot run do everything but the registry writes,
// and say so; the registry sees nothing at all.
func TestPushAutoReadOnlyToken(t *testing.T) {
	t.Parallel()
	events := filepath.Join("..", "..", "testdata", "github", "events")
	fork, _ := filepath.Abs(filepath.Join(events, "pull-request-fork.json"))
	dependabot, _ := filepath.Abs(filepath.Join(events, "pull-request-dependabot.json"))
	for _, tt := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"pull request from a fork", map[string]string{"GITHUB_EVENT_PATH": fork, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/42/merge"},
			"this is a pull request from a fork, whose GITHUB_TOKEN is read-only"},
		{"Dependabot", map[string]string{"GITHUB_EVENT_PATH": dependabot, "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/57/merge",
			"GITHUB_ACTOR": "dependabot[bot]", "INPUT_USERNAME": "dependabot[bot]"},
			"this run was triggered by Dependabot, whose GITHUB_TOKEN is read-only"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, registrytest.Options{})
			r := f.run(t, tt.vars)
			if r.err != nil {
				t.Fatalf("Run() = %v", r.err)
			}
			if !strings.Contains(r.log, "::notice title=nothing pushed::push: auto wrote nothing: "+tt.want) {
				t.Errorf("log lacks the notice:\n%s", r.log)
			}
			for _, want := range []string{"(push: auto, nothing written: the token is read-only)", "> push: auto wrote nothing: " + tt.want} {
				if !strings.Contains(r.summary, want) {
					t.Errorf("summary lacks %q:\n%s", want, r.summary)
				}
			}
			if !strings.HasPrefix(r.outputs["digest"], "sha256:") || r.outputs["visibility"] != "" || !strings.Contains(r.outputs["json"], `"mode":"dry-run"`) {
				t.Errorf("outputs = %v, want a dry run's digest and no visibility", r.outputs)
			}
			if got := f.reg.Requests(); len(got) != 0 {
				t.Errorf("the registry got %d requests, want none: %+v", len(got), got)
			}
			// push: true keeps today's behaviour: it tries, and fails with
			// the advice (TestReadOnlyTokenAdvice); false is a plain dry run.
			vars := map[string]string{"INPUT_PUSH": "false"}
			for k, v := range tt.vars {
				vars[k] = v
			}
			dry := f.run(t, vars)
			if dry.err != nil || !strings.Contains(dry.summary, "(push: false, nothing written)") || strings.Contains(dry.log, "nothing pushed") {
				t.Errorf("push: false = %v, summary:\n%s", dry.err, dry.summary)
			}
		})
	}
}
