package inputs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
)

// env is a workflow environment for Read: a map, with GitHub's usual context.
func env(t *testing.T, vars map[string]string) *githubactions.Action {
	t.Helper()
	base := githubtest.RunnerEnv(map[string]string{
		"GITHUB_API_URL": "https://api.github.com",
		"GITHUB_ACTOR":   "octocat",
		"INPUT_TOKEN":    "ghs_secret",
	})
	for k, v := range vars {
		base[k] = v
	}
	return githubactions.New(
		githubactions.WithGetenv(func(k string) string { return base[k] }),
		githubactions.WithWriter(&strings.Builder{}),
	)
}

func TestReadDefaults(t *testing.T) {
	t.Parallel()
	in, err := Read(env(t, nil))
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	if got, want := in.Image.String(), "ghcr.io/acme/widget"; got != want {
		t.Errorf("Image = %q, want %q", got, want)
	}
	if !in.ImageDerived || !in.ImageLowercased {
		t.Errorf("ImageDerived, ImageLowercased = %v, %v, want true, true", in.ImageDerived, in.ImageLowercased)
	}
	if !in.Push || in.Sources != nil || in.Tags != "" || in.PushByDigest || in.Attestations != Preserve || in.Platforms != nil {
		t.Errorf("Read() = %+v, want the defaults", in)
	}
	if in.Username != "octocat" {
		t.Errorf("Username = %q, want the actor", in.Username)
	}
}

func TestReadValues(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.Mkdir(filepath.Join(ws, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := Read(env(t, map[string]string{
		"GITHUB_WORKSPACE":    ws,
		"SOURCE_DATE_EPOCH":   "1700000000",
		"INPUT_SOURCE":        "oci:out:app",
		"INPUT_IMAGE":         "ghcr.io/acme/other",
		"INPUT_TAGS":          "1.2.3, latest\n1.2.3\n",
		"INPUT_LABELS":        "a=1\nb=x=y\n\nc=\na=2",
		"INPUT_ANNOTATIONS":   "k=v",
		"INPUT_DESCRIPTION":   "Hello",
		"INPUT_LICENSES":      "Apache-2.0 OR MIT",
		"INPUT_SOURCE-URL":    "https://github.com/acme/other",
		"INPUT_PUSH":          "False",
		"INPUT_ATTESTATIONS":  "repoint",
		"INPUT_LINK-CHECK":    "ERROR",
		"INPUT_PRUNE":         "Orphans",
		"INPUT_PRUNE-MIN-AGE": "2d",
		"INPUT_PLATFORMS":     "linux/amd64,\nlinux/arm/v7",
		"GITHUB_EVENT_PATH":   filepath.Join("..", "..", "testdata", "github", "events", "push-branch.json"),
		"GITHUB_EVENT_NAME":   "push",
		"INPUT_USERNAME":      "bot",
	}))
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	want := Inputs{
		Sources:      []*Source{{Line: "oci:out:app", Transport: OCILayout, Path: filepath.Join(ws, "out"), Ref: "app"}},
		Attestations: Repoint,
		LinkCheck:    LinkError,
		Prune:        PruneOrphans,
		PruneMinAge:  48 * time.Hour,
		Platforms:    []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}},
		Tags:         "1.2.3, latest\n1.2.3",
		Labels:       []KeyValue{{"a", "2"}, {"b", "x=y"}, {"c", ""}},
		Annotations:  []KeyValue{{"k", "v"}},
		Description:  Optional{"Hello", true},
		Licenses:     Optional{"Apache-2.0 OR MIT", true},
		SourceURL:    Optional{"https://github.com/acme/other", true},
		Token:        "ghs_secret",
		Username:     "bot",
		PushMode:     PushFalse,
	}
	got := in
	got.Image, got.Context = want.Image, want.Context
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Inputs{}), cmpopts.EquateComparable(name.Repository{})); diff != "" {
		t.Errorf("Read() mismatch (-want +got):\n%s", diff)
	}
	if in.Image.String() != "ghcr.io/acme/other" {
		t.Errorf("Image = %s", in.Image)
	}
	if want := time.Unix(1700000000, 0).UTC(); in.Context.SourceDateEpoch == nil || !in.Context.SourceDateEpoch.Equal(want) {
		t.Errorf("SourceDateEpoch = %v, want %v", in.Context.SourceDateEpoch, want)
	}
	if want := time.Date(2026, 10, 30, 14, 15, 16, 0, time.UTC); in.Context.CommitTime == nil || !in.Context.CommitTime.Equal(want) {
		t.Errorf("CommitTime = %v, want %v (head_commit.timestamp in UTC)", in.Context.CommitTime, want)
	}
	if in.Context.OwnerType != "Organization" {
		t.Errorf("OwnerType = %q, want Organization from the event", in.Context.OwnerType)
	}
}

func TestReadBadInputs(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	for _, dir := range []string{"out"} {
		if err := os.Mkdir(filepath.Join(ws, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		vars  map[string]string
		input string // the input the error must name
		want  string // a phrase of the fix
	}{
		{"malformed image", map[string]string{"INPUT_IMAGE": "ghcr.io/acme/wid get"}, "image", "not a valid repository name"},
		{"image with tag", map[string]string{"INPUT_IMAGE": "ghcr.io/acme/widget:1.0"}, "image", `put "1.0" in tags`},
		{"image with digest", map[string]string{"INPUT_IMAGE": "ghcr.io/acme/widget@sha256:abc"}, "image", "repository only"},
		{"image without owner", map[string]string{"INPUT_IMAGE": "ghcr.io/widget"}, "image", "OWNER/NAME"},
		{"image with a leading slash", map[string]string{"INPUT_IMAGE": "/acme/widget"}, "image", "empty path component"},
		{"image with a doubled slash", map[string]string{"INPUT_IMAGE": "ghcr.io/acme//widget"}, "image", "empty path component"},
		{"image with a trailing slash", map[string]string{"INPUT_IMAGE": "ghcr.io/acme/widget/"}, "image", "empty path component"},
		{"no repository to derive image", map[string]string{"GITHUB_REPOSITORY": ""}, "image", "give the destination"},
		{"label without =", map[string]string{"INPUT_LABELS": "a=1\nnonsense"}, "labels", `line 2 "nonsense" has no '='`},
		{"label without key", map[string]string{"INPUT_LABELS": "=v"}, "labels", "no key"},
		{"label key with space", map[string]string{"INPUT_LABELS": "a b=v"}, "labels", "spaces"},
		{"label value with control character", map[string]string{"INPUT_LABELS": "a=b\x00c"}, "labels", "control characters"},
		{"annotation without =", map[string]string{"INPUT_ANNOTATIONS": "oops"}, "annotations", "has no '='"},
		{"annotation without value", map[string]string{"INPUT_ANNOTATIONS": "k="}, "annotations", "has no value"},
		{"unknown transport", map[string]string{"INPUT_SOURCE": "ftp://example.com/x"}, "source", `unknown transport "ftp"`},
		{"unknown transport without slashes", map[string]string{"INPUT_SOURCE": "foo:bar/baz"}, "source", `unknown transport "foo"`},
		{"docker-daemon by registry digest", map[string]string{"INPUT_SOURCE": "docker-daemon:app@sha256:" + strings.Repeat("a", 64)}, "source", "not by registry digest"},
		{"docker-daemon without a name", map[string]string{"INPUT_SOURCE": "docker-daemon:"}, "source", "docker-daemon:NAME[:TAG]"},
		{"bad second source line", map[string]string{"INPUT_SOURCE": "oci:out\nftp://x", "GITHUB_WORKSPACE": ws}, "source", `unknown transport "ftp"`},
		{"push-by-digest not boolean", map[string]string{"INPUT_PUSH-BY-DIGEST": "1"}, "push-by-digest", "true or false"},
		{"platform malformed", map[string]string{"INPUT_PLATFORMS": "linux/amd64,amd64"}, "platforms", `"amd64" is not a platform`},
		{"platform twice", map[string]string{"INPUT_PLATFORMS": "linux/arm64,linux/arm64/v8"}, "platforms", "twice"},
		{"legacy registry", map[string]string{"INPUT_IMAGE": "docker.pkg.github.com/acme/widget/app"}, "image", "use ghcr.io/acme/app"},
		{"legacy enterprise registry", map[string]string{"INPUT_IMAGE": "docker.ghe.example.com/acme/widget/app", "GITHUB_SERVER_URL": "https://ghe.example.com"}, "image", "use containers.ghe.example.com/acme/app"},
		{"unknown link-check mode", map[string]string{"INPUT_LINK-CHECK": "strict"}, "link-check", "warn, error or off"},
		{"unknown attestation policy", map[string]string{"INPUT_ATTESTATIONS": "keep"}, "attestations", "preserve, repoint or drop"},
		{"missing path", map[string]string{"INPUT_SOURCE": "oci:nowhere", "GITHUB_WORKSPACE": ws}, "source", "does not exist"},
		{"path leaving the workspace", map[string]string{"INPUT_SOURCE": "oci:../../etc", "GITHUB_WORKSPACE": ws}, "source", "leaves the workspace"},
		{"upper-case registry source", map[string]string{"INPUT_SOURCE": "ghcr.io/Acme/App:1"}, "source", `use "ghcr.io/acme/app:1"`},
		{"description too long", map[string]string{"INPUT_DESCRIPTION": strings.Repeat("é", 513)}, "description", "513 characters"},
		{"licenses too long", map[string]string{"INPUT_LICENSES": strings.Repeat("MIT OR ", 40) + "MIT"}, "licenses", "at most 256"},
		{"licenses not SPDX", map[string]string{"INPUT_LICENSES": "MIT and more"}, "licenses", "not an SPDX license expression"},
		{"licenses unknown id", map[string]string{"INPUT_LICENSES": "Totally-Made-Up-1.0"}, "licenses", "not an SPDX license expression"},
		{"push not a mode", map[string]string{"INPUT_PUSH": "yes"}, "push", "not auto, true or false"},
		{"require-public not boolean", map[string]string{"INPUT_REQUIRE-PUBLIC": "yes"}, "require-public", "true or false"},
		{"fine-grained token for GitHub registry", map[string]string{"INPUT_TOKEN": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "INPUT_SOURCE": "oci:out", "GITHUB_WORKSPACE": ws}, "token", "classic personal access token"},
		{"fine-grained token for a GitHub registry source", map[string]string{"INPUT_TOKEN": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "INPUT_SOURCE": "ghcr.io/acme/base:1", "INPUT_IMAGE": "registry.example.com/acme/widget"}, "token", "${{ github.token }}"},
		{"no token for GitHub registry", map[string]string{"INPUT_TOKEN": "", "INPUT_SOURCE": "oci:out", "GITHUB_WORKSPACE": ws}, "token", "permissions: packages: write"},
		{"source-url not a URL", map[string]string{"INPUT_SOURCE-URL": "github.com/acme/widget"}, "source-url", "not an http(s) URL"},
		{"bad SOURCE_DATE_EPOCH", map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, "SOURCE_DATE_EPOCH", "seconds since 1970"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Read(env(t, tt.vars))
			errs := Errors(err)
			if len(errs) != 1 {
				t.Fatalf("Read() = %v, want one input error", err)
			}
			if errs[0].Input != tt.input || !strings.Contains(errs[0].Msg, tt.want) {
				t.Errorf("Read() = %q, want an error naming %q that says %q", errs[0], tt.input, tt.want)
			}
			if strings.Contains(errs[0].Error(), "\n") {
				t.Errorf("error %q spans several lines, want one", errs[0])
			}
		})
	}
}

func TestReadReportsAllBadInputsAtOnce(t *testing.T) {
	t.Parallel()
	_, err := Read(env(t, map[string]string{
		"INPUT_IMAGE":    "ghcr.io/acme/wid get",
		"INPUT_LABELS":   "nokey",
		"INPUT_PUSH":     "maybe",
		"INPUT_LICENSES": "not a license",
	}))
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Input)
	}
	want := []string{"image", "labels", "licenses", "push"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inputs named by Read() errors mismatch (-want +got):\n%s", diff)
	}
}

// TestReadReportsEveryGroupInOrder gives every input that can be wrong a
// bad value at once: each is reported, in action.yml's reading order, so a
// user fixes them all in one round.
func TestReadReportsEveryGroupInOrder(t *testing.T) {
	t.Parallel()
	_, err := Read(env(t, map[string]string{
		"INPUT_SOURCE":         "ghcr.io/acme/base:1",
		"INPUT_IMAGE":          "ghcr.io/acme/wid get",
		"INPUT_LABELS":         "nokey",
		"INPUT_ANNOTATIONS":    "k=",
		"INPUT_DESCRIPTION":    strings.Repeat("d", 513) + "\x00",
		"INPUT_LICENSES":       "not a license",
		"INPUT_SOURCE-URL":     "github.com/acme/widget",
		"INPUT_PUSH":           "maybe",
		"INPUT_REQUIRE-PUBLIC": "yes",
		"INPUT_PUSH-BY-DIGEST": "1",
		"INPUT_PLATFORMS":      "amd64",
		"INPUT_ATTESTATIONS":   "keep",
		"INPUT_LINK-CHECK":     "strict",
		"INPUT_PRUNE":          "all",
		"INPUT_PRUNE-MIN-AGE":  "soon",
		"INPUT_TOKEN":          "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
	}))
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Input)
	}
	want := []string{"image", "labels", "annotations", "description", "description", "licenses", "source-url", "push", "require-public", "push-by-digest", "platforms", "attestations", "link-check", "prune", "prune-min-age", "token"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inputs named by Read() errors mismatch (-want +got):\n%s", diff)
	}
}

func TestReadNoTokenNeededWithoutPush(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.Mkdir(filepath.Join(ws, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, vars := range []map[string]string{
		{"INPUT_TOKEN": "", "INPUT_SOURCE": "oci:out", "GITHUB_WORKSPACE": ws, "INPUT_PUSH": "false"},
		{"INPUT_TOKEN": ""}, // metadata-only
		{"INPUT_TOKEN": "", "INPUT_SOURCE": "oci:out", "GITHUB_WORKSPACE": ws, "INPUT_IMAGE": "registry.example.com/acme/widget"},
	} {
		if _, err := Read(env(t, vars)); err != nil {
			t.Errorf("Read(%v) = %v, want no error", vars, err)
		}
	}
}

func TestEnterpriseRegistry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		server string
		want   string
		hosts  credentials.Hosts
	}{
		{"https://github.com", "ghcr.io", credentials.Hosts{"ghcr.io", "docker.pkg.github.com"}},
		// An Enterprise's token goes to that Enterprise's hosts only, never
		// to github.com's registries.
		{"https://github.example.com", "containers.github.example.com", credentials.Hosts{"containers.github.example.com", "docker.github.example.com"}},
		{"https://acme.ghe.com/", "containers.acme.ghe.com", credentials.Hosts{"containers.acme.ghe.com", "docker.acme.ghe.com"}},
	}
	for _, tt := range tests {
		in, err := Read(env(t, map[string]string{"GITHUB_SERVER_URL": tt.server}))
		if err != nil {
			t.Fatalf("Read(%s) = %v", tt.server, err)
		}
		if got := in.Image.RegistryStr(); got != tt.want {
			t.Errorf("registry for %s = %q, want %q", tt.server, got, tt.want)
		}
		if diff := cmp.Diff(tt.hosts, in.GitHubRegistries()); diff != "" {
			t.Errorf("GitHubRegistries() for %s mismatch (-want +got):\n%s", tt.server, diff)
		}
		if in.IsGitHubRegistry("containers.evil.example") {
			t.Errorf("IsGitHubRegistry(containers.evil.example) = true for %s", tt.server)
		}
		if tt.want != "ghcr.io" && in.IsGitHubRegistry("ghcr.io") {
			t.Errorf("IsGitHubRegistry(ghcr.io) = true on Enterprise %s: its token would go to github.com", tt.server)
		}
	}
}

func TestParseSource(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	for _, f := range []string{"out", "img.tar"} {
		if err := os.WriteFile(filepath.Join(ws, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		line string
		want Source
	}{
		{"oci:out", Source{Transport: OCILayout, Path: filepath.Join(ws, "out")}},
		{"oci:./out:v1", Source{Transport: OCILayout, Path: filepath.Join(ws, "out"), Ref: "v1"}},
		{"oci:" + filepath.Join(ws, "out"), Source{Transport: OCILayout, Path: filepath.Join(ws, "out")}},
		{"oci-archive:img.tar", Source{Transport: OCIArchive, Path: filepath.Join(ws, "img.tar")}},
		{"docker-archive:img.tar:app:latest", Source{Transport: DockerArchive, Path: filepath.Join(ws, "img.tar"), Ref: "app:latest"}},
	}
	for _, tt := range tests {
		got, err := ParseSource(tt.line, ws)
		if err != nil {
			t.Errorf("ParseSource(%q) = %v", tt.line, err)
			continue
		}
		tt.want.Line = tt.line
		if *got != tt.want {
			t.Errorf("ParseSource(%q) = %+v, want %+v", tt.line, *got, tt.want)
		}
	}
	for line, want := range map[string]string{"docker-daemon:widget:dev": "widget:dev", "docker-daemon:widget": "widget", "docker-daemon:sha256:" + strings.Repeat("0", 64): "sha256:" + strings.Repeat("0", 64)} {
		got, err := ParseSource(line, ws)
		if err != nil || got.Transport != DockerDaemon || got.Daemon != want {
			t.Errorf("ParseSource(%q) = %+v, %v; want docker-daemon %s", line, got, err, want)
		}
	}
	for _, line := range []string{"docker://ghcr.io/acme/app:1", "ghcr.io/acme/app@sha256:" + strings.Repeat("a", 64), "alpine:3.20", "localhost:5000/app"} {
		got, err := ParseSource(line, ws)
		if err != nil || got.Transport != Registry || got.Reference == nil {
			t.Errorf("ParseSource(%q) = %+v, %v; want a registry reference", line, got, err)
		}
	}
}

func TestReadForkPullRequest(t *testing.T) {
	t.Parallel()
	event := filepath.Join("..", "..", "testdata", "github", "events", "pull-request.json")
	in, err := Read(env(t, map[string]string{"GITHUB_EVENT_PATH": event, "GITHUB_EVENT_NAME": "pull_request"}))
	if err != nil {
		t.Fatal(err)
	}
	if in.Context.FromFork {
		t.Errorf("FromFork = true for a pull request within the repository")
	}
	fork := filepath.Join("..", "..", "testdata", "github", "events", "pull-request-fork.json")
	in, err = Read(env(t, map[string]string{"GITHUB_EVENT_PATH": fork, "GITHUB_EVENT_NAME": "pull_request"}))
	if err != nil {
		t.Fatal(err)
	}
	if !in.Context.FromFork {
		t.Errorf("FromFork = false for a pull request from a fork")
	}
}

func TestReadImageLowercased(t *testing.T) {
	t.Parallel()
	// How most workflows write it: ghcr.io/${{ github.repository }}.
	in, err := Read(env(t, map[string]string{"INPUT_IMAGE": "ghcr.io/Acme/Widget"}))
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	if got, want := in.Image.String(), "ghcr.io/acme/widget"; got != want {
		t.Errorf("Image = %q, want %q", got, want)
	}
	if in.ImageDerived || !in.ImageLowercased {
		t.Errorf("ImageDerived, ImageLowercased = %v, %v, want false, true", in.ImageDerived, in.ImageLowercased)
	}
	if in.Context.Repository() != "Acme/Widget" {
		t.Errorf("Context.Repository() = %q, want the original case kept for the source URL", in.Context.Repository())
	}
	in, err = Read(env(t, map[string]string{"INPUT_IMAGE": "ghcr.io/acme/widget"}))
	if err != nil || in.ImageLowercased {
		t.Errorf("Read(lower-case image) = %v, ImageLowercased %v; want no error and false", err, in.ImageLowercased)
	}
}

// TestReadPushAuto decides, for each run the push input meets, whether the
// run writes: push: auto skips the writes exactly where GITHUB_TOKEN is
// read-only (a fork's pull request, a Dependabot run).
func TestReadPushAuto(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.Mkdir(filepath.Join(ws, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join("..", "..", "testdata", "github", "events")
	fork := map[string]string{"GITHUB_EVENT_PATH": filepath.Join(events, "pull-request-fork.json"), "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/42/merge"}
	dependabot := map[string]string{"GITHUB_EVENT_PATH": filepath.Join(events, "pull-request-dependabot.json"), "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/57/merge", "GITHUB_ACTOR": "dependabot[bot]"}
	inRepo := map[string]string{"GITHUB_EVENT_PATH": filepath.Join(events, "pull-request.json"), "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/42/merge"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{"INPUT_SOURCE": "oci:out", "GITHUB_WORKSPACE": ws}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		vars     map[string]string
		mode     PushMode
		push     bool
		skipped  string // a phrase of PushSkipped; "" means none
		readOnly string // a phrase of Context.ReadOnlyToken(); "" means none
	}{
		{"push event", with(nil), PushAuto, true, "", ""},
		{"pull request in the repository", with(inRepo), PushAuto, true, "", ""},
		{"pull request from a fork", with(fork), PushAuto, false, "from a fork", "from a fork"},
		{"Dependabot", with(dependabot), PushAuto, false, "Dependabot", "Dependabot"},
		{"fork with push: true", with(fork, "INPUT_PUSH", "true"), PushTrue, true, "", "from a fork"},
		{"fork with push: false", with(fork, "INPUT_PUSH", "false"), PushFalse, false, "", "from a fork"},
		{"Dependabot with a classic PAT", with(dependabot, "INPUT_TOKEN", "ghp_0123456789abcdefghijklmnopqrstuvwxyz"), PushAuto, true, "", "Dependabot"},
		{"fork publishing elsewhere", with(fork, "INPUT_IMAGE", "registry.example.com/acme/widget", "INPUT_PASSWORD", "pw"), PushAuto, true, "", "from a fork"},
		{"fork, metadata only", with(fork, "INPUT_SOURCE", ""), PushAuto, true, "", "from a fork"},
		{"fork with pull_request_target", with(fork, "GITHUB_EVENT_NAME", "pull_request_target"), PushAuto, true, "", ""},
		{"Dependabot, manual run", with(dependabot, "GITHUB_EVENT_NAME", "workflow_dispatch"), PushAuto, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, err := Read(env(t, tt.vars))
			if err != nil {
				t.Fatalf("Read() = %v", err)
			}
			if in.PushMode != tt.mode || in.Push != tt.push {
				t.Errorf("PushMode, Push = %q, %v; want %q, %v", in.PushMode, in.Push, tt.mode, tt.push)
			}
			if (tt.skipped == "") != (in.PushSkipped == "") || !strings.Contains(in.PushSkipped, tt.skipped) {
				t.Errorf("PushSkipped = %q, want one saying %q", in.PushSkipped, tt.skipped)
			}
			ro := in.Context.ReadOnlyToken()
			if (tt.readOnly == "") != (ro == "") || !strings.Contains(ro, tt.readOnly) {
				t.Errorf("ReadOnlyToken() = %q, want one saying %q", ro, tt.readOnly)
			}
		})
	}
}

func TestReadRepoVisibility(t *testing.T) {
	t.Parallel()
	in, err := Read(env(t, map[string]string{"GITHUB_EVENT_PATH": filepath.Join("..", "..", "testdata", "github", "events", "push-branch.json"), "GITHUB_EVENT_NAME": "push"}))
	if err != nil {
		t.Fatal(err)
	}
	if in.Context.RepoVisibility != "public" {
		t.Errorf("RepoVisibility = %q, want public from the event's repository", in.Context.RepoVisibility)
	}
}

func TestParsePruneInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode, age string
		want      Prune
		wantAge   time.Duration
		errs      []string
	}{
		{"", "", PruneOff, 24 * time.Hour, nil},
		{"untagged", "0", PruneUntagged, 0, nil},
		{"orphans", "90m", PruneOrphans, 90 * time.Minute, nil},
		{"ORPHANS", "2w", PruneOrphans, 14 * 24 * time.Hour, nil},
		{"all", "-1h", PruneOff, 0, []string{`prune: "all" is not a mode; use off, orphans or untagged`, `prune-min-age: "-1h" is not an age; write it like 1d, 2w, 12h or 90m`}},
		{"off", "1 day", PruneOff, 0, []string{`prune-min-age: "1 day" is not an age; write it like 1d, 2w, 12h or 90m`}},
	} {
		p, err := parsePrune(tc.mode)
		age, aerr := ParseAge("prune-min-age", tc.age)
		var got []string
		for _, e := range Errors(errors.Join(err, aerr)) {
			got = append(got, e.Error())
		}
		if diff := cmp.Diff(tc.errs, got); diff != "" {
			t.Errorf("prune %q, prune-min-age %q: errors mismatch (-want +got):\n%s", tc.mode, tc.age, diff)
		}
		if len(tc.errs) == 0 && (p != tc.want || age != tc.wantAge) {
			t.Errorf("prune %q, prune-min-age %q = %q, %v; want %q, %v", tc.mode, tc.age, p, age, tc.want, tc.wantAge)
		}
	}
}

// TestMetadataActionOutputLines checks that docker/metadata-action's labels
// and annotations outputs can be passed on as they are.
func TestMetadataActionOutputLines(t *testing.T) {
	t.Parallel()
	in, err := Read(env(t, map[string]string{
		"INPUT_LABELS": "org.opencontainers.image.title=Widget\norg.opencontainers.image.version=1.2.3",
		"INPUT_ANNOTATIONS": "manifest:org.opencontainers.image.title=Widget\nindex:org.opencontainers.image.title=Widget\n" +
			"manifest:org.opencontainers.image.description=\nindex:org.opencontainers.image.version=1.2.3\nmanifest-descriptor:com.example.k=v",
	}))
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	if diff := cmp.Diff([]KeyValue{{"org.opencontainers.image.title", "Widget"}, {"org.opencontainers.image.version", "1.2.3"}}, in.Labels); diff != "" {
		t.Errorf("labels mismatch (-want +got):\n%s", diff)
	}
	want := []KeyValue{{"org.opencontainers.image.title", "Widget"}, {"org.opencontainers.image.version", "1.2.3"}, {"com.example.k", "v"}}
	if diff := cmp.Diff(want, in.Annotations); diff != "" {
		t.Errorf("annotations mismatch (-want +got):\n%s", diff)
	}
}

// TestEventInfo checks what the tag rules read from real event payloads.
func TestEventInfo(t *testing.T) {
	t.Parallel()
	events := filepath.Join("..", "..", "testdata", "github", "events")
	for _, tc := range []struct {
		event, file string
		vars        map[string]string
		want        EventInfo
	}{
		{"push", "push-branch.json", nil, EventInfo{DefaultBranch: "main"}},
		{"pull_request", "pull-request.json", map[string]string{"DOCKER_METADATA_PR_HEAD_SHA": "true", "DOCKER_METADATA_SHORT_SHA_LENGTH": "12"}, EventInfo{
			DefaultBranch: "main", PRNumber: 42, PRBaseRef: "main", PRHeadRef: "feature/pr-images",
			PRHeadSHA: "fedcba9876543210fedcba9876543210fedcba98", UsePRHeadSHA: true, ShortSHALength: 12,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"GITHUB_EVENT_NAME": tc.event, "GITHUB_EVENT_PATH": filepath.Join(events, tc.file)}
			for k, v := range tc.vars {
				vars[k] = v
			}
			in, err := Read(env(t, vars))
			if err != nil {
				t.Fatalf("Read() = %v", err)
			}
			if diff := cmp.Diff(tc.want, in.Context.Event); diff != "" {
				t.Errorf("Event mismatch (-want +got):\n%s", diff)
			}
			if in.Context.Now.IsZero() {
				t.Errorf("Now is not set")
			}
		})
	}
}

func TestShortSHALengthMustBeANumber(t *testing.T) {
	t.Parallel()
	_, err := Read(env(t, map[string]string{"DOCKER_METADATA_SHORT_SHA_LENGTH": "seven"}))
	if errs := Errors(err); len(errs) != 1 || errs[0].Input != "DOCKER_METADATA_SHORT_SHA_LENGTH" {
		t.Errorf("Read() = %v, want one error naming DOCKER_METADATA_SHORT_SHA_LENGTH", err)
	}
}
