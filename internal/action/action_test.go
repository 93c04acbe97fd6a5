package action

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

var update = flag.Bool("update", false, "rewrite golden files")

// token stands in for GITHUB_TOKEN; tests look for it in every byte the
// action writes and every request other hosts receive.
const token = "ghs_TestToken0123456789abcdefABCDEF"

// fixture is one test's world: a registry playing ghcr.io, the GitHub API
// serving recorded answers, and a workspace holding a built image.
type fixture struct {
	reg *registrytest.Registry
	api *githubtest.API
	ws  string
	img v1.Image
}

func newFixture(t *testing.T, opts registrytest.Options) *fixture {
	t.Helper()
	if opts.Passwords == nil {
		opts.Passwords = []string{token}
	}
	reg, err := registrytest.Start(opts)
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	// Before the registry closes (cleanups run last first): everything
	// the test had the action write meets the image-spec schemas.
	t.Cleanup(func() { checkSchemas(t, reg) })
	api := githubtest.Start(os.DirFS(filepath.Join("..", "..", "testdata", "github")))
	t.Cleanup(api.Close)

	ws := t.TempDir()
	img, err := sample.Image(sample.Options{Seed: "widget", Labels: map[string]string{"maintainer": "Acme"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.WriteLayout(filepath.Join(ws, "out"), img, ""); err != nil {
		t.Fatal(err)
	}
	return &fixture{reg: reg, api: api, ws: ws, img: img}
}

// env is what the runner would set for a push to main of Acme/Widget using
// this action with source: oci:out, plus extra on top ("" values unset).
func (f *fixture) env(extra map[string]string) map[string]string {
	event, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "github", "events", "push-branch.json"))
	vars := map[string]string{
		"GITHUB_REPOSITORY_OWNER": "Acme",
		"GITHUB_REF_NAME":         "main",
		"GITHUB_REF_TYPE":         "branch",
		"GITHUB_EVENT_NAME":       "push",
		"GITHUB_EVENT_PATH":       event,
		"GITHUB_ACTOR":            "octocat",
		"GITHUB_WORKSPACE":        f.ws,
		// action.yml defaults, which the runner fills in.
		"INPUT_TOKEN":    token,
		"INPUT_USERNAME": "octocat",
		"INPUT_PUSH":     "auto",
		"INPUT_SOURCE":   "oci:out",
		"INPUT_IMAGE":    f.reg.Host() + "/acme/widget",
	}
	for k, v := range extra {
		vars[k] = v
	}
	return f.api.RunnerEnv(vars)
}

func (f *fixture) run(t *testing.T, extra map[string]string) result {
	t.Helper()
	r := runAction(t, f.env(extra), f.options())
	assertNoSecret(t, r)
	return r
}

// options treat the test registry as GitHub's, and keep the wait for a
// package link short: the recorded API answers at once.
func (f *fixture) options() Options {
	return Options{GitHubRegistries: []string{f.reg.Host()}, Link: linkcheck.Options{Wait: 300 * time.Millisecond, Interval: 20 * time.Millisecond}}
}

// writes are the requests that changed something in the registry.
func (f *fixture) writes() []registrytest.Request {
	var out []registrytest.Request
	for _, r := range f.reg.Requests() {
		if r.Method != "GET" && r.Method != "HEAD" {
			out = append(out, r)
		}
	}
	return out
}

// assertNoSecret fails if the token shows anywhere the action wrote, other
// than the ::add-mask:: commands that tell the runner to hide it.
func assertNoSecret(t *testing.T, r result) {
	t.Helper()
	log := withoutMasks(r.log)
	for where, s := range map[string]string{"log": log, "outputs": r.raw, "summary": r.summary} {
		if strings.Contains(s, token) {
			t.Errorf("the token appears in the %s", where)
		}
	}
	if r.err != nil && strings.Contains(r.err.Error(), token) {
		t.Errorf("the token appears in the error")
	}
}

func TestPublishOCILayout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	r := f.run(t, map[string]string{"INPUT_TAGS": "1.2.3\nlatest"})
	if r.err != nil {
		t.Fatalf("Run() = %v\n%s", r.err, r.log)
	}
	host := f.reg.Host()
	digest := r.outputs["digest"]
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("digest output = %q", digest)
	}
	wantOutputs := map[string]string{
		"digest": digest,
		"image":  host + "/acme/widget@" + digest,
		"tags":   host + "/acme/widget:1.2.3\n" + host + "/acme/widget:latest",
		"labels": strings.Join([]string{
			"org.opencontainers.image.created=2026-10-30T14:15:16Z",
			"org.opencontainers.image.description=Widget builds and serves widgets for the Acme platform.",
			"org.opencontainers.image.licenses=MIT",
			"org.opencontainers.image.revision=" + githubtest.SHA,
			"org.opencontainers.image.source=https://github.com/Acme/Widget",
			"org.opencontainers.image.title=Widget",
			"org.opencontainers.image.url=https://github.com/Acme/Widget",
			"org.opencontainers.image.version=1.2.3",
		}, "\n"),
	}
	wantOutputs["annotations"] = wantOutputs["labels"]
	got := map[string]string{}
	for k := range wantOutputs {
		got[k] = r.outputs[k]
	}
	if diff := cmp.Diff(wantOutputs, got); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	var j struct {
		Digest string            `json:"digest"`
		Image  string            `json:"image"`
		Tags   []string          `json:"tags"`
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(r.outputs["json"]), &j); err != nil {
		t.Fatalf("json output %q: %v", r.outputs["json"], err)
	}
	if j.Digest != digest || j.Image != wantOutputs["image"] || len(j.Tags) != 2 || j.Labels[specs.AnnotationLicenses] != "MIT" {
		t.Errorf("json output = %s, disagrees with the other outputs", r.outputs["json"])
	}

	// Read back with separate clients: what the registry serves must agree
	// with the outputs, under every tag.
	for _, tag := range []string{"1.2.3", "latest"} {
		ref := host + "/acme/widget:" + tag
		m := readBack(t, ref)
		if m.digest != digest {
			t.Errorf("%s has digest %s, outputs say %s", ref, m.digest, digest)
		}
		wantLabels := map[string]string{"maintainer": "Acme"}
		wantAnnotations := map[string]string{}
		for _, line := range strings.Split(wantOutputs["labels"], "\n") {
			k, v, _ := strings.Cut(line, "=")
			wantLabels[k], wantAnnotations[k] = v, v
		}
		if diff := cmp.Diff(wantLabels, m.labels); diff != "" {
			t.Errorf("%s config labels mismatch (-want +got):\n%s", ref, diff)
		}
		if diff := cmp.Diff(wantAnnotations, m.annotations); diff != "" {
			t.Errorf("%s manifest annotations mismatch (-want +got):\n%s", ref, diff)
		}
	}

	// Layers are the source's, byte for byte.
	srcManifest, _ := f.img.Manifest()
	pushed := readBack(t, host+"/acme/widget:1.2.3")
	var srcLayers []string
	for _, l := range srcManifest.Layers {
		srcLayers = append(srcLayers, l.Digest.String())
	}
	if diff := cmp.Diff(srcLayers, pushed.layers); diff != "" {
		t.Errorf("layers were rewritten (-source +pushed):\n%s", diff)
	}

	// The golden summary, with the registry's random port masked.
	golden(t, "summary-published.md", strings.ReplaceAll(r.summary, host, "REGISTRY"))
}

func TestPublishIsReproducible(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	first := f.run(t, map[string]string{"INPUT_TAGS": "1.0"})
	if first.err != nil {
		t.Fatalf("first Run() = %v", first.err)
	}
	f.reg.ResetRequests()
	second := f.run(t, map[string]string{"INPUT_TAGS": "1.0"})
	if second.err != nil {
		t.Fatalf("second Run() = %v", second.err)
	}
	if first.outputs["digest"] != second.outputs["digest"] {
		t.Errorf("digests differ between runs: %s then %s", first.outputs["digest"], second.outputs["digest"])
	}
	// The second run uploads no blob: the registry has them all. (The
	// push-access probe starts and cancels one upload, sending nothing.)
	for _, w := range f.writes() {
		if strings.Contains(w.Path, "/blobs/") && (w.Method == "PATCH" || w.Method == "PUT" || w.BodyBytes > 0) {
			t.Errorf("second run wrote a blob: %s %s", w.Method, w.Path)
		}
	}

	// An image stamped already comes back unchanged when republished from
	// the registry: same digest, no new manifest content.
	// The same version: the run's version replaces the image's (it describes
	// this build), so another first tag would be another digest.
	third := f.run(t, map[string]string{"INPUT_SOURCE": f.reg.Host() + "/acme/widget:1.0", "INPUT_TAGS": "1.0\nagain"})
	if third.err != nil {
		t.Fatalf("republishing Run() = %v", third.err)
	}
	if third.outputs["digest"] != first.outputs["digest"] {
		t.Errorf("republishing changed the digest: %s, want %s", third.outputs["digest"], first.outputs["digest"])
	}
	if !strings.Contains(third.summary, "published unchanged") {
		t.Errorf("summary does not say the image was unchanged:\n%s", third.summary)
	}
}

func TestPublishPrecedence(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	// The image's own labels: a Dockerfile LABEL for the description.
	img, err := sample.Image(sample.Options{Seed: "labelled", Labels: map[string]string{
		specs.AnnotationDescription: "Set in the Dockerfile",
		specs.AnnotationTitle:       "Dockerfile title",
		"maintainer":                "Acme",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.WriteLayout(filepath.Join(f.ws, "labelled"), img, ""); err != nil {
		t.Fatal(err)
	}
	r := f.run(t, map[string]string{
		"INPUT_SOURCE":      "oci:labelled",
		"INPUT_TAGS":        "p",
		"INPUT_LICENSES":    "Apache-2.0",
		"INPUT_LABELS":      "maintainer=\nvendor=Acme Corp",
		"INPUT_ANNOTATIONS": "com.example.note=hello",
		"SOURCE_DATE_EPOCH": "1700000000",
	})
	if r.err != nil {
		t.Fatalf("Run() = %v\n%s", r.err, r.log)
	}
	m := readBack(t, f.reg.Host()+"/acme/widget:p")
	checks := []struct{ what, got, want string }{
		{"Dockerfile description kept over the API's", m.labels[specs.AnnotationDescription], "Set in the Dockerfile"},
		{"Dockerfile title kept", m.labels[specs.AnnotationTitle], "Dockerfile title"},
		{"licenses input wins over the API", m.labels[specs.AnnotationLicenses], "Apache-2.0"},
		{"SOURCE_DATE_EPOCH gives created", m.labels[specs.AnnotationCreated], "2023-11-14T22:13:20Z"},
		{"labels input adds", m.labels["vendor"], "Acme Corp"},
		{"labels key= removes", m.labels["maintainer"], ""},
		{"annotation input", m.annotations["com.example.note"], "hello"},
		{"annotation mirrors the kept label", m.annotations[specs.AnnotationDescription], "Set in the Dockerfile"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
	}
	if _, ok := m.labels["maintainer"]; ok {
		t.Errorf("maintainer label still present: %v", m.labels)
	}
	if !strings.Contains(r.summary, "| `org.opencontainers.image.description` | Set in the Dockerfile | image |") {
		t.Errorf("summary does not credit the image for the description:\n%s", r.summary)
	}
}

func TestPublishDockerArchiveConvertsToOCI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	img, err := sample.Image(sample.Options{Seed: "docker", Docker: true})
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("widget:built")
	if err := tarball.WriteToFile(filepath.Join(f.ws, "image.tar"), tag, img); err != nil {
		t.Fatal(err)
	}
	r := f.run(t, map[string]string{"INPUT_SOURCE": "docker-archive:image.tar:widget:built", "INPUT_TAGS": "d"})
	if r.err != nil {
		t.Fatalf("Run() = %v\n%s", r.err, r.log)
	}
	m := readBack(t, f.reg.Host()+"/acme/widget:d")
	if m.mediaType != string(specs.MediaTypeImageManifest) {
		t.Errorf("pushed media type = %s, want OCI (annotations need it)", m.mediaType)
	}
	if m.annotations[specs.AnnotationSource] != "https://github.com/Acme/Widget" {
		t.Errorf("annotations = %v, want the source", m.annotations)
	}
	if !strings.Contains(r.log, "::notice::") || !strings.Contains(r.summary, "OCI media types") {
		t.Errorf("the conversion is not announced:\n%s\n%s", r.log, r.summary)
	}
}

func TestDryRunAndMetadataOnlyWriteNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	dry := f.run(t, map[string]string{"INPUT_PUSH": "false", "INPUT_TAGS": "dry"})
	if dry.err != nil {
		t.Fatalf("dry Run() = %v", dry.err)
	}
	if !strings.HasPrefix(dry.outputs["digest"], "sha256:") {
		t.Errorf("dry run digest output = %q, want the digest it would push", dry.outputs["digest"])
	}
	meta := f.run(t, map[string]string{"INPUT_SOURCE": "", "INPUT_TAGS": "meta"})
	if meta.err != nil {
		t.Fatalf("metadata-only Run() = %v", meta.err)
	}
	if meta.outputs["digest"] != "" || meta.outputs["image"] != "" {
		t.Errorf("metadata-only digest, image = %q, %q; want empty", meta.outputs["digest"], meta.outputs["image"])
	}
	if !strings.Contains(meta.outputs["labels"], "org.opencontainers.image.licenses=MIT") {
		t.Errorf("metadata-only labels = %q, want the derived set", meta.outputs["labels"])
	}
	if got := f.reg.Requests(); len(got) != 0 {
		t.Errorf("the registry got %d requests, want none: %+v", len(got), got)
	}
	// The push: true run after them yields the digest the dry run promised.
	real := f.run(t, map[string]string{"INPUT_TAGS": "dry"})
	if real.err != nil || real.outputs["digest"] != dry.outputs["digest"] {
		t.Errorf("push after dry run = %v, digest %s; want %s", real.err, real.outputs["digest"], dry.outputs["digest"])
	}
}

func TestBadInputsWriteNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	if err := sample.WriteLayout(filepath.Join(f.ws, "two"), f.img, "a"); err != nil {
		t.Fatal(err)
	}
	other, _ := sample.Image(sample.Options{Seed: "other"})
	if err := sampleAppend(filepath.Join(f.ws, "two"), other, "b"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		vars  map[string]string
		input string
		want  string
	}{
		{"malformed image", map[string]string{"INPUT_IMAGE": f.reg.Host() + "/acme/wid get"}, "image", "not a valid repository name"},
		{"invalid tag", map[string]string{"INPUT_TAGS": "v1.0+build"}, "tags", "not a valid tag"},
		{"label line without =", map[string]string{"INPUT_LABELS": "just text"}, "labels", "has no '='"},
		{"annotation line without =", map[string]string{"INPUT_ANNOTATIONS": "just text"}, "annotations", "has no '='"},
		{"unknown transport", map[string]string{"INPUT_SOURCE": "dir:out"}, "source", "transport dir"},
		{"missing path", map[string]string{"INPUT_SOURCE": "oci:missing"}, "source", "does not exist"},
		{"several images and no REF", map[string]string{"INPUT_SOURCE": "oci:two"}, "source", "add :REF"},
		{"unknown REF", map[string]string{"INPUT_SOURCE": "oci:two:c"}, "source", `no image named "c"`},
		{"description too long", map[string]string{"INPUT_DESCRIPTION": strings.Repeat("x", 513)}, "description", "at most 512"},
		{"licenses too long", map[string]string{"INPUT_LICENSES": strings.Repeat("MIT OR ", 40) + "MIT"}, "licenses", "at most 256"},
		{"licenses not SPDX", map[string]string{"INPUT_LICENSES": "GPL maybe"}, "licenses", "SPDX"},
		{"push not a mode", map[string]string{"INPUT_PUSH": "yes please"}, "push", "auto, true or false"},
		{"fine-grained token", map[string]string{"INPUT_TOKEN": "github_pat_11AAAAAAA0abcdefghijklm_nopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ"}, "token", "classic personal access token"},
		{"no token", map[string]string{"INPUT_TOKEN": ""}, "token", "packages: write"},
		{"tag rule without pattern", map[string]string{"INPUT_TAGS": "type=sha\ntype=semver"}, "tags", `line 2 "type=semver": type=semver needs a pattern`},
		{"tag rule with a bad regex", map[string]string{"INPUT_TAGS": "type=match,pattern=(v"}, "tags", "not a regular expression"},
		{"tag rule with a bad enable", map[string]string{"INPUT_TAGS": "type=raw,value=x,enable=yes"}, "tags", "enable=yes is not true, false"},
		{"tag rule making an invalid tag", map[string]string{"INPUT_TAGS": "type=ref,event=branch,prefix=."}, "tags", `makes the tag ".main"`},
		{"reference to another repository", map[string]string{"INPUT_TAGS": "ghcr.io/acme/other:1.0"}, "tags", "but image is"},
		{"bad flavor", map[string]string{"INPUT_FLAVOR": "latest=maybe"}, "flavor", "latest=maybe is not auto, true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.run(t, tt.vars)
			if r.err == nil {
				t.Fatalf("Run() succeeded, want an error naming %s", tt.input)
			}
			msg := r.err.Error()
			if !strings.HasPrefix(msg, tt.input+": ") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("Run() = %q, want one line naming %q and saying %q", msg, tt.input, tt.want)
			}
		})
	}
	// A bad rule is reported with the other bad inputs, not after them.
	r := f.run(t, map[string]string{"INPUT_TAGS": "type=foo", "INPUT_LICENSES": "GPL maybe"})
	if r.err == nil || !strings.Contains(r.err.Error(), "licenses: ") || !strings.Contains(r.err.Error(), `tags: line 1 "type=foo": unknown type`) {
		t.Errorf("Run() = %v, want the licenses and the tags errors together", r.err)
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("bad inputs led to %d registry writes: %+v", len(w), w)
	}
	assertNoTags(t, f.reg.Host()+"/acme/widget")
}

// TestLatestOnlyForTheHighestRelease publishes releases out of order with
// type=semver rules: latest=auto reads the registry's tags and leaves latest
// on the highest release, where metadata-action would move it to a backport.
func TestLatestOnlyForTheHighestRelease(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	rules := "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}"
	repo := f.reg.Host() + "/acme/widget"
	for _, step := range []struct {
		ref, tags, latestVersion string
		notice                   bool
	}{
		{"refs/tags/v2.0.0", "2.0.0 2.0 latest", "2.0.0", false},
		{"refs/tags/v1.9.1", "1.9.1 1.9", "2.0.0", true},
		{"refs/tags/v2.1.0-rc.1", "2.1.0-rc.1", "2.0.0", false},
		{"refs/tags/v2.1.0", "2.1.0 2.1 latest", "2.1.0", false},
	} {
		r := f.run(t, map[string]string{"GITHUB_REF": step.ref, "INPUT_TAGS": rules})
		if r.err != nil {
			t.Fatalf("%s: Run() = %v\n%s", step.ref, r.err, r.log)
		}
		want := repo + ":" + strings.ReplaceAll(step.tags, " ", "\n"+repo+":")
		if r.outputs["tags"] != want {
			t.Errorf("%s: tags output = %q, want %q", step.ref, r.outputs["tags"], want)
		}
		if got := strings.Contains(r.log, "::notice::tags: latest stays where it is"); got != step.notice {
			t.Errorf("%s: notice about latest = %v, want %v:\n%s", step.ref, got, step.notice, r.log)
		}
		if v := readBack(t, repo+":latest").labels[specs.AnnotationVersion]; v != step.latestVersion {
			t.Errorf("after %s, latest is version %q, want %q", step.ref, v, step.latestVersion)
		}
	}
}

func TestRegistryDenials(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{ReadOnly: []string{"acme/locked"}})
	denied := f.run(t, map[string]string{"INPUT_IMAGE": f.reg.Host() + "/acme/locked", "INPUT_TAGS": "x"})
	if denied.err == nil || !strings.Contains(denied.err.Error(), "DENIED") || !strings.Contains(denied.err.Error(), "packages: write") {
		t.Errorf("push to a read-only package = %v, want a DENIED error with the fix", denied.err)
	}
	assertNoTags(t, f.reg.Host()+"/acme/locked")

	wrong := runAction(t, f.env(map[string]string{"INPUT_TOKEN": "ghs_wrong", "INPUT_TAGS": "x"}), f.options())
	if wrong.err == nil || !strings.Contains(wrong.err.Error(), "UNAUTHORIZED") || !strings.Contains(wrong.err.Error(), "refused the token") {
		t.Errorf("push with a wrong token = %v, want UNAUTHORIZED with the fix", wrong.err)
	}
	assertNoTags(t, f.reg.Host()+"/acme/widget")
}

func TestAPIFailureWarnsAndContinues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	f.api.Fail(403)
	r := f.run(t, map[string]string{"INPUT_TAGS": "x", "GITHUB_EVENT_PATH": ""})
	if r.err != nil {
		t.Fatalf("Run() = %v, want success without the API", r.err)
	}
	if n := strings.Count(r.log, "::warning"); n < 1 || !strings.Contains(r.log, "Resource not accessible by integration") {
		t.Errorf("log has %d warnings, want one about the API:\n%s", n, r.log)
	}
	if strings.Count(r.log, "GitHub API") != 1 {
		t.Errorf("the API failure is reported %d times, want once:\n%s", strings.Count(r.log, "GitHub API"), r.log)
	}
	labels := r.outputs["labels"]
	for _, want := range []string{"org.opencontainers.image.source=https://github.com/Acme/Widget", "org.opencontainers.image.revision=" + githubtest.SHA} {
		if !strings.Contains(labels, want) {
			t.Errorf("labels %q lack %q from the context", labels, want)
		}
	}
	if strings.Contains(labels, "licenses") || strings.Contains(labels, "created") {
		t.Errorf("labels %q have values the context cannot know", labels)
	}
}

func TestTokenGoesOnlyToGitHubHosts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	other, err := registrytest.Start(registrytest.Options{Passwords: []string{"other-password"}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r := f.run(t, map[string]string{
		"INPUT_IMAGE":    other.Host() + "/acme/widget",
		"INPUT_PASSWORD": "other-password",
		"INPUT_TAGS":     "1",
	})
	if r.err != nil {
		t.Fatalf("Run() to a non-GitHub registry = %v", r.err)
	}
	for _, req := range other.Requests() {
		if strings.Contains(req.Authorization, token) || strings.Contains(decodeBasic(req.Authorization), token) {
			t.Errorf("%s %s carried the GitHub token to a registry that is not GitHub's", req.Method, req.Path)
		}
	}
	if !strings.Contains(r.log, "::add-mask::other-password") {
		t.Errorf("the password was not masked")
	}
	// And the API, which is GitHub's, did get it.
	sawToken := false
	for _, req := range f.api.Requests() {
		sawToken = sawToken || req.Authorization == "Bearer "+token
	}
	if !sawToken {
		t.Errorf("the GitHub API never received the token")
	}
	// A non-GitHub destination without a password gets no credentials.
	anon, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if r := f.run(t, map[string]string{"INPUT_IMAGE": anon.Host() + "/acme/widget", "INPUT_TAGS": "1"}); r.err != nil {
		t.Fatalf("Run() to an anonymous registry = %v", r.err)
	}
	for _, req := range anon.Requests() {
		if req.Authorization != "" {
			t.Errorf("%s %s carried credentials %q to an anonymous registry", req.Method, req.Path, req.Authorization)
		}
	}
}

func TestDerivedTagsAndImage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	tagEvent, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "github", "events", "push-tag.json"))
	prEvent, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "github", "events", "pull-request.json"))
	tests := []struct {
		name string
		vars map[string]string
		tags string
	}{
		{"branch", map[string]string{"GITHUB_REF": "refs/heads/feature/new-ui"}, "feature-new-ui"},
		// metadata-action's defaults: a tag push also gets latest, since
		// the registry holds no higher release.
		{"tag", map[string]string{"GITHUB_REF": "refs/tags/v1.2.3", "GITHUB_EVENT_PATH": tagEvent}, "v1.2.3\n" + f.reg.Host() + "/acme/widget:latest"},
		{"pull request", map[string]string{"GITHUB_REF": "refs/pull/42/merge", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": prEvent}, "pr-42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.run(t, tt.vars)
			if r.err != nil {
				t.Fatalf("Run() = %v", r.err)
			}
			if want := f.reg.Host() + "/acme/widget:" + tt.tags; r.outputs["tags"] != want {
				t.Errorf("tags output = %q, want %q", r.outputs["tags"], want)
			}
		})
	}
	// With no image input the default is the lower-cased repository on the
	// GitHub registry, announced with a notice.
	r := runAction(t, f.env(map[string]string{"INPUT_IMAGE": "", "INPUT_SOURCE": ""}), Options{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.outputs["tags"], "ghcr.io/acme/widget:main") || !strings.Contains(r.log, "::notice::image defaults to ghcr.io/acme/widget") {
		t.Errorf("default image: tags %q, log:\n%s", r.outputs["tags"], r.log)
	}
}

// sampleAppend adds img to an existing layout under ref.
func sampleAppend(dir string, img v1.Image, ref string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{specs.AnnotationRefName: ref}))
}

func assertNoTags(t *testing.T, repo string) {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r, remote.WithAuth(&authn.Basic{Username: "reader", Password: token}))
	if err == nil && len(tags) > 0 {
		t.Errorf("%s has tags %v, want none", repo, tags)
	}
}

func decodeBasic(h string) string {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h, "Basic "))
	if err != nil {
		return ""
	}
	return string(b)
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestRegistrySourceIsMountedNotCopied(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	if r := f.run(t, map[string]string{"INPUT_TAGS": "1.0"}); r.err != nil {
		t.Fatalf("first Run() = %v", r.err)
	}
	f.reg.ResetRequests()
	// Promote the published image into another repository of the same
	// registry, with a description of its own: only config and manifest
	// are new, every layer is mounted.
	r := f.run(t, map[string]string{
		"INPUT_SOURCE":      "docker://" + f.reg.Host() + "/acme/widget:1.0",
		"INPUT_IMAGE":       f.reg.Host() + "/acme/promoted",
		"INPUT_TAGS":        "stable",
		"INPUT_DESCRIPTION": "Promoted build",
	})
	if r.err != nil {
		t.Fatalf("promoting Run() = %v\n%s", r.err, r.log)
	}
	src, _ := f.img.Manifest()
	var uploadedBytes int64
	mounts := 0
	for _, w := range f.writes() {
		if strings.Contains(w.RawQuery, "mount=") {
			mounts++
		}
		if w.Method == "PATCH" || (w.Method == "PUT" && strings.Contains(w.Path, "/blobs/")) {
			uploadedBytes += w.BodyBytes
		}
	}
	if mounts < len(src.Layers) {
		t.Errorf("%d mount requests, want one per layer (%d)", mounts, len(src.Layers))
	}
	var layerBytes int64
	for _, l := range src.Layers {
		layerBytes += l.Size
	}
	if uploadedBytes >= layerBytes {
		t.Errorf("uploaded %d bytes, as much as the layers (%d): they were copied, not mounted", uploadedBytes, layerBytes)
	}
	if m := readBack(t, f.reg.Host()+"/acme/promoted:stable"); m.labels[specs.AnnotationDescription] != "Promoted build" {
		t.Errorf("promoted description = %q", m.labels[specs.AnnotationDescription])
	}
}

// withoutMasks is log without its ::add-mask:: commands, which the runner
// never shows.
func withoutMasks(log string) string {
	var keep []string
	for _, line := range strings.SplitAfter(log, "\n") {
		if !strings.HasPrefix(line, "::add-mask::") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}
