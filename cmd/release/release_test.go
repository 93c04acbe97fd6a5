package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"gopkg.in/yaml.v3"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const digestRef = "ghcr.io/ghcr-publish/publish-action@sha256:376521895654701bad2f07a0c51aafd5cfd2b17e8eeebf58cc19fff33a248016"

func TestParseVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tag, want, err string
	}{
		{tag: "v1.2.3", want: "version=1.2.3\nimage-tags=1.2.3,1.2,1,latest\nmoving-tags=v1 v1.2\n"},
		{tag: "v0.10.0", want: "version=0.10.0\nimage-tags=0.10.0,0.10,0,latest\nmoving-tags=v0 v0.10\n"},
		{tag: "v2.0.0-rc.1", want: "version=2.0.0-rc.1\nimage-tags=2.0.0-rc.1\nmoving-tags=\n"},
		{tag: "v1", err: `tag "v1" is not a release: push vMAJOR.MINOR.PATCH`},
		{tag: "v1.2", err: `tag "v1.2" is not a release`},
		{tag: "1.2.3", err: `tag "1.2.3" is not a release`},
		{tag: "v1.2.3+build.5", err: `is not a release`},
		{tag: "v01.2.3", err: `is not a release`},
		{tag: "", err: `tag "" is not a release`},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"tags", "-ref", tc.tag}, &stdout, &stderr)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("tags -ref %q: error %v, want one containing %q", tc.tag, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("tags -ref %q: %v", tc.tag, err)
		case stdout.String() != tc.want:
			t.Errorf("tags -ref %q:\n%s\nwant:\n%s", tc.tag, stdout.String(), tc.want)
		}
	}
}

// TestPinGolden pins the fixture and compares with the reviewed result:
// only the image line changes, its comment stays.
func TestPinGolden(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Pin(raw, digestRef)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "action.pinned.yml")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	// Pinning again replaces the reference.
	other := strings.Replace(digestRef, "sha256:3765", "sha256:0000", 1)
	again, err := Pin(got, other)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(string(got), digestRef, other, 1); string(again) != want {
		t.Errorf("re-pinned:\n%s\nwant:\n%s", again, want)
	}
}

// TestPinRealActionYAML pins the repository's own action.yml, as the
// release does: one line differs, and the file means the same to a YAML
// reader apart from runs.image.
func TestPinRealActionYAML(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := Pin(raw, digestRef)
	if err != nil {
		t.Fatal(err)
	}
	before, after := strings.Split(string(raw), "\n"), strings.Split(string(pinned), "\n")
	if len(before) != len(after) {
		t.Fatalf("line count changed: %d → %d", len(before), len(after))
	}
	var changed []string
	for i := range before {
		if before[i] != after[i] {
			changed = append(changed, after[i])
		}
	}
	if diff := cmp.Diff([]string{"  image: docker://" + digestRef}, changed); diff != "" {
		t.Errorf("changed lines mismatch (-want +got):\n%s", diff)
	}
	var a, b map[string]any
	yaml.Unmarshal(raw, &a)
	yaml.Unmarshal(pinned, &b)
	b["runs"].(map[string]any)["image"] = a["runs"].(map[string]any)["image"]
	if !reflect.DeepEqual(a, b) {
		t.Error("pinning changed more than runs.image")
	}
}

func TestPinErrors(t *testing.T) {
	t.Parallel()
	docker := "runs:\n  using: docker\n  image: Dockerfile\n"
	for _, tc := range []struct{ name, yaml, image, want string }{
		{"tag, not digest", docker, "ghcr.io/acme/widget:v1", `-image "ghcr.io/acme/widget:v1": want the published image by digest`},
		{"no registry", docker, "acme/widget@sha256:376521895654701bad2f07a0c51aafd5cfd2b17e8eeebf58cc19fff33a248016", "want the published image by digest"},
		{"short digest", docker, "ghcr.io/acme/widget@sha256:3765", "want the published image by digest"},
		{"javascript action", "runs:\n  using: node20\n  main: index.js\n", digestRef, "runs.using is not docker"},
		{"no image", "runs:\n  using: docker\n", digestRef, "runs.image is missing"},
		{"no runs", "name: x\n", digestRef, "no runs: section"},
		{"block scalar", "runs:\n  using: docker\n  image: >-\n    Dockerfile\n", digestRef, "block scalar"},
	} {
		if _, err := Pin([]byte(tc.yaml), tc.image); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Pin = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// A quoted value is replaced whole.
	got, err := Pin([]byte("runs:\n  using: 'docker'\n  image: \"Dockerfile\" # built\n"), digestRef)
	if err != nil || string(got) != "runs:\n  using: 'docker'\n  image: docker://"+digestRef+"\n" {
		t.Errorf("quoted: %q, %v", got, err)
	}
}

// TestPinCommand runs the pin step as the workflow does, and checks the
// pinned action.yml with actionlint, which reads a local action's metadata
// for a `uses: ./` step.
func TestPinCommand(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(repo, "action.yml")
	os.WriteFile(file, raw, 0o644)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"pin", "-image", digestRef, "-f", file}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	pinned, _ := os.ReadFile(file)
	if !strings.Contains(string(pinned), "\n  image: docker://"+digestRef+"\n") {
		t.Fatalf("action.yml after pin:\n%s", pinned)
	}

	// actionlint finds the project (and so ./action.yml) by its .git.
	os.MkdirAll(filepath.Join(repo, ".git"), 0o755)
	workflows := filepath.Join(repo, ".github", "workflows")
	os.MkdirAll(workflows, 0o755)
	os.WriteFile(filepath.Join(workflows, "use.yml"), []byte(`name: use
on: push
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./
        with:
          source: oci:out
          link-check: error
`), 0o644)
	actionlint := func() ([]byte, error) {
		cmd := exec.Command("go", "run", "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12", "-no-color", ".github/workflows/use.yml")
		cmd.Dir = repo
		return cmd.CombinedOutput()
	}
	if out, err := actionlint(); err != nil {
		t.Fatalf("actionlint on the pinned action: %v\n%s", err, out)
	}
	// The check can fail: an input the pinned action.yml lacks is reported.
	os.WriteFile(filepath.Join(workflows, "use.yml"), []byte(`name: use
on: push
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        with:
          no-such-input: x
`), 0o644)
	if out, err := actionlint(); err == nil || !strings.Contains(string(out), "no-such-input") {
		t.Errorf("actionlint accepted an unknown input of the pinned action: %v\n%s", err, out)
	}
}

// TestCheckPublic asks the embedded registry as an anonymous client: a
// public repository passes, one that needs credentials fails with the
// package's settings URL, a digest that is not there fails too.
func TestCheckPublic(t *testing.T) {
	t.Parallel()
	img, err := sample.Image(sample.Options{Seed: "public"})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	const token = "ghs_release_test"
	for _, tc := range []struct {
		name string
		opts registrytest.Options
		ref  func(host string) string
		want string
	}{
		{"public", registrytest.Options{}, func(h string) string { return h + "/acme/widget@" + d.String() }, ""},
		{"private", registrytest.Options{Passwords: []string{token}}, func(h string) string { return h + "/acme/widget@" + d.String() },
			"/acme/widget cannot be pulled without credentials (the token request (GET /token) answered 401 UNAUTHORIZED), and runners pull a docker:// action image before any step can log in: make the package public at https://github.com/orgs/acme/packages/container/widget/settings"},
		{"missing", registrytest.Options{}, func(h string) string {
			return h + "/acme/widget@sha256:0000000000000000000000000000000000000000000000000000000000000000"
		}, "cannot be pulled without credentials (the manifest request (HEAD /v2/acme/widget/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000) answered 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, err := registrytest.Start(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			dst, _ := name.NewDigest(reg.Host() + "/acme/widget@" + d.String())
			auth := remote.WithAuth(authnFor(tc.opts, token))
			if err := remote.Write(dst, img, auth); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err = run(context.Background(), []string{"public", "-org", "-image", tc.ref(reg.Host())}, &stdout, &stderr)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("public: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("public: %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

func authnFor(opts registrytest.Options, token string) authn.Authenticator {
	if len(opts.Passwords) == 0 {
		return authn.Anonymous
	}
	return &authn.Basic{Username: "octocat", Password: token}
}
