package action

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

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
