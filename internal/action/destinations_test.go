package action

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/testkit/need"
	"github.com/ghcr-publish/publish-action/internal/testkit/readback"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// hubPassword is the password of the registry that wants credentials,
// given through registry-auth.
const hubPassword = "hub-Password-0123456789"

// threeRegistries is a publish to three registries: the fixture's
// registry playing ghcr.io (the primary, which gets the token), an open
// one (anonymous pull and push, as a self-hosted registry may be), and one
// that wants Basic credentials at its token service, as Docker Hub does,
// behind a fault proxy that refuses manifest writes while refuse is set.
type threeRegistries struct {
	*fixture
	open, hub *registrytest.Registry
	proxy     *registrytest.FaultProxy
	refuse    atomic.Bool
}

func newThreeRegistries(t *testing.T) *threeRegistries {
	t.Helper()
	w := &threeRegistries{fixture: newFixture(t, registrytest.Options{})}
	var err error
	if w.open, err = registrytest.Start(registrytest.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.open.Close() })
	if w.hub, err = registrytest.Start(registrytest.Options{Passwords: []string{hubPassword}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.hub.Close() })
	schedule := func(_ int, r *http.Request) registrytest.Fault {
		if w.refuse.Load() && registrytest.ManifestWrites(r) {
			return registrytest.ManifestInvalid
		}
		return ""
	}
	// The token exchange goes through the proxy too: the password is the
	// proxy host's, and may go nowhere else.
	w.proxy = registrytest.NewFaultProxy(w.hub.Host(), schedule, registrytest.WithTokenRequests())
	t.Cleanup(w.proxy.Close)
	return w
}

// images are the three destinations, the primary first.
func (w *threeRegistries) images() []string {
	return []string{w.reg.Host() + "/acme/widget", w.open.Host() + "/acme/widget", w.proxy.Host() + "/acme/widget"}
}

// registryAuth is the registry-auth input: the hub's login.
func (w *threeRegistries) registryAuth() string {
	return fmt.Sprintf("- registry: %s\n  username: hubuser\n  password: %s\n", w.proxy.Host(), hubPassword)
}

// publish runs the action with the three destinations and extra inputs.
func (w *threeRegistries) publish(t *testing.T, extra map[string]string) result {
	t.Helper()
	vars := map[string]string{
		"INPUT_IMAGE":         "",
		"INPUT_IMAGES":        strings.Join(w.images(), "\n"),
		"INPUT_REGISTRY-AUTH": w.registryAuth(),
	}
	for k, v := range extra {
		vars[k] = v
	}
	r := w.run(t, vars)
	for _, s := range []string{hubPassword, base64.StdEncoding.EncodeToString([]byte("hubuser:" + hubPassword))} {
		if strings.Contains(withoutMasks(r.log), s) || strings.Contains(r.raw, s) || strings.Contains(r.summary, s) {
			t.Errorf("the hub's password appears in what the action wrote")
		}
	}
	return r
}

// keychainFor reads each destination back with its own credentials.
func (w *threeRegistries) auth(repo string) authn.Authenticator {
	switch {
	case strings.HasPrefix(repo, w.reg.Host()+"/"):
		return &authn.Basic{Username: "reader", Password: token}
	case strings.HasPrefix(repo, w.proxy.Host()+"/"):
		return &authn.Basic{Username: "hubuser", Password: hubPassword}
	}
	return authn.Anonymous
}

// tagged is where every tag at every destination points now, read from
// the registries themselves; a tag that is not there is left out.
func (w *threeRegistries) tagged(t *testing.T, tags ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, image := range w.images() {
		for _, tag := range tags {
			ref, err := name.NewTag(image+":"+tag, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Head(ref, remote.WithAuth(w.auth(image)))
			if err != nil {
				continue
			}
			out[ref.String()] = desc.Digest.String()
		}
	}
	return out
}

// basicPassword is the password a request's Basic credentials carry, ""
// for none.
func basicPassword(authorization string) string {
	scheme, value, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, "basic") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return ""
	}
	_, password, _ := strings.Cut(string(raw), ":")
	return password
}

// passwordsSent counts, per password, the requests that carried it.
func passwordsSent(reqs []registrytest.Request) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		if p := basicPassword(r.Authorization); p != "" {
			out[p]++
		}
		if strings.Contains(r.Authorization, token) || strings.Contains(r.Authorization, hubPassword) {
			out["raw secret in "+r.Method+" "+r.Path]++
		}
	}
	return out
}

// TestPublishToSeveralRegistries: one step publishes the same digest to
// GitHub's registry, an open registry and one wanting credentials given in
// registry-auth; each credential goes to its own registry only; the
// outputs name every destination, the primary first.
func TestPublishToSeveralRegistries(t *testing.T) {
	t.Parallel()
	w := newThreeRegistries(t)
	r := w.publish(t, map[string]string{"INPUT_TAGS": "1.2.3\nlatest"})
	if r.err != nil {
		t.Fatalf("Run() = %v\n%s", r.err, r.log)
	}
	digest := r.outputs["digest"]

	// Where each credential went, request by request: the token to
	// GitHub's registry only, the hub's password to the hub only (its
	// token service), nothing to the open registry.
	sent := map[string]map[string]int{
		"ghcr": passwordsSent(w.reg.Requests()),
		"open": passwordsSent(w.open.Requests()),
		"hub":  passwordsSent(w.hub.Requests()),
	}
	if sent["ghcr"][token] == 0 || sent["hub"][hubPassword] == 0 {
		t.Errorf("credentials sent = %v: want the token at ghcr and the password at the hub", sent)
	}
	want := map[string]map[string]int{"ghcr": {token: sent["ghcr"][token]}, "open": {}, "hub": {hubPassword: sent["hub"][hubPassword]}}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("credentials sent, by registry and password (-want +got):\n%s", diff)
	}
	for _, req := range w.open.Requests() {
		if req.Authorization != "" {
			t.Errorf("the open registry got credentials: %s %s", req.Method, req.Path)
		}
	}

	var all []string
	wantTagged := map[string]string{}
	for _, image := range w.images() {
		for _, tag := range []string{"1.2.3", "latest"} {
			all = append(all, image+":"+tag)
			wantTagged[image+":"+tag] = digest
		}
	}
	if diff := cmp.Diff(wantTagged, w.tagged(t, "1.2.3", "latest")); diff != "" {
		t.Errorf("tags at the destinations (-want +got):\n%s", diff)
	}
	checkOutputs(t, r, w.images(), all, digest)
	for _, image := range w.images()[1:] {
		if !strings.Contains(r.summary, "| `"+image+"` | `"+image+":1.2.3`<br>`"+image+":latest` |") {
			t.Errorf("the summary does not show %s:\n%s", image, r.summary)
		}
	}
	readBackAll(t, w, all, digest)
}

// checkOutputs: tags lists every destination's, the primary's first;
// image and digest name the primary; json has one entry per destination.
func checkOutputs(t *testing.T, r result, images, all []string, digest string) {
	t.Helper()
	if got, want := r.outputs["tags"], strings.Join(all, "\n"); got != want {
		t.Errorf("tags output = %q, want %q", got, want)
	}
	if got, want := r.outputs["image"], images[0]+"@"+digest; got != want {
		t.Errorf("image output = %q, want %q", got, want)
	}
	type destination struct {
		Repository, Image, Digest string
		Tags                      []string
	}
	var j struct {
		Image        string
		Destinations []destination
	}
	if err := json.Unmarshal([]byte(r.outputs["json"]), &j); err != nil {
		t.Fatalf("json output: %v", err)
	}
	var want []destination
	for i, image := range images {
		want = append(want, destination{image, image + "@" + digest, digest, all[2*i : 2*i+2]})
	}
	if diff := cmp.Diff(want, j.Destinations); diff != "" {
		t.Errorf("json destinations (-want +got):\n%s", diff)
	}
	if j.Image != r.outputs["image"] {
		t.Errorf("json image = %q, want the image output %q", j.Image, r.outputs["image"])
	}
}

// readBackAll reads every tag back with skopeo, each registry with its
// own credentials, and checks the manifest hashes to digest.
func readBackAll(t *testing.T, w *threeRegistries, refs []string, digest string) {
	t.Helper()
	need.WithTool(t, "skopeo", func(t *testing.T, skopeo string) {
		for _, ref := range refs {
			args := []string{"inspect", "--raw", "--tls-verify=false"}
			switch a := w.auth(ref).(type) {
			case *authn.Basic:
				args = append(args, "--creds", a.Username+":"+a.Password)
			default:
				args = append(args, "--no-creds")
			}
			out, err := readback.Run(skopeo, append(args, "docker://"+ref)...)
			if err != nil {
				t.Fatalf("skopeo inspect %s: %v", ref, err)
			}
			if got := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(strings.TrimSuffix(string(out), "\n")))); got != digest {
				t.Errorf("skopeo reads %s as %s, want %s", ref, got, digest)
			}
		}
	})
}

// TestSeveralRegistriesFailureMovesNoTag: when one destination refuses the
// manifest mid-publish, the run fails naming it, and no tag moves at any
// destination: each still points where the publish before left it.
func TestSeveralRegistriesFailureMovesNoTag(t *testing.T) {
	t.Parallel()
	w := newThreeRegistries(t)
	first := w.publish(t, map[string]string{"INPUT_TAGS": "1.0\nlatest"})
	if first.err != nil {
		t.Fatalf("first publish: %v\n%s", first.err, first.log)
	}
	before := w.tagged(t, "1.0", "latest")
	if len(before) != 6 {
		t.Fatalf("after the first publish, tags = %v, want 6", before)
	}
	w.refuse.Store(true)
	// Other labels: another digest, which the tags would move to.
	second := w.publish(t, map[string]string{"INPUT_TAGS": "1.0\nlatest\n1.1", "INPUT_LABELS": "com.example.run=2"})
	if second.err == nil {
		t.Fatalf("second publish succeeded with the hub refusing manifests\n%s", second.log)
	}
	if n := w.proxy.Injected()[registrytest.ManifestInvalid]; n == 0 {
		t.Errorf("the hub refused no manifest write; the publish failed otherwise: %v", second.err)
	}
	if want := "publishing to " + w.proxy.Host() + "/acme/widget"; !strings.Contains(second.err.Error(), want) {
		t.Errorf("error = %v, want it to name the destination (%q)", second.err, want)
	}
	if diff := cmp.Diff(before, w.tagged(t, "1.0", "latest", "1.1")); diff != "" {
		t.Errorf("a failed publish moved tags (-before +after):\n%s", diff)
	}
	if len(second.outputs) != 0 {
		t.Errorf("a failed publish wrote outputs: %v", second.outputs)
	}
}

// TestSeveralRegistriesInputErrors: a registry that answers 401 and was
// given no credentials gets advice naming registry-auth; images and image
// together are an input error before anything is written anywhere.
func TestSeveralRegistriesInputErrors(t *testing.T) {
	t.Parallel()
	t.Run("no credentials for a registry that wants them", func(t *testing.T) {
		t.Parallel()
		w := newThreeRegistries(t)
		r := w.publish(t, map[string]string{"INPUT_REGISTRY-AUTH": ""})
		want := fmt.Sprintf("%s wants credentials and this run has none for it: add an entry for %s to registry-auth", w.proxy.Host(), w.proxy.Host())
		if r.err == nil || !strings.Contains(r.err.Error(), want) {
			t.Fatalf("Run() = %v, want %q", r.err, want)
		}
		if strings.Contains(r.err.Error(), "\n") {
			t.Errorf("error is more than one line: %q", r.err)
		}
		if got := w.tagged(t, "main"); len(got) != 0 {
			t.Errorf("tags written: %v", got)
		}
	})
	t.Run("images and image", func(t *testing.T) {
		t.Parallel()
		w := newThreeRegistries(t)
		r := w.publish(t, map[string]string{"INPUT_IMAGE": w.images()[0]})
		want := "images: is set, and so is image"
		if r.err == nil || !strings.Contains(r.err.Error(), want) {
			t.Fatalf("Run() = %v, want %q", r.err, want)
		}
		for name, reqs := range map[string][]registrytest.Request{"ghcr": w.reg.Requests(), "open": w.open.Requests(), "hub": w.hub.Requests()} {
			if len(reqs) != 0 {
				t.Errorf("%s got %d requests from a run with bad inputs", name, len(reqs))
			}
		}
		if len(r.outputs) != 0 || r.summary != "" {
			t.Errorf("a run with bad inputs wrote outputs %v or a summary %q", r.outputs, r.summary)
		}
	})
}

// TestSeveralRegistriesByDigestAndRerun: push-by-digest writes the
// manifest at every destination and no tag; a re-run of a publish that
// is complete everywhere uploads nothing anywhere and moves no tag.
func TestSeveralRegistriesByDigestAndRerun(t *testing.T) {
	t.Parallel()
	w := newThreeRegistries(t)
	byDigest := w.publish(t, map[string]string{"INPUT_PUSH-BY-DIGEST": "true"})
	if byDigest.err != nil {
		t.Fatalf("push-by-digest: %v\n%s", byDigest.err, byDigest.log)
	}
	digest := byDigest.outputs["digest"]
	for _, image := range w.images() {
		ref, err := name.NewDigest(image+"@"+digest, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(ref, remote.WithAuth(w.auth(image))); err != nil {
			t.Errorf("push-by-digest: %s is not there: %v", ref, err)
		}
	}
	if got := w.tagged(t, "main", "latest"); len(got) != 0 {
		t.Errorf("push-by-digest wrote tags: %v", got)
	}
	if byDigest.outputs["tags"] != "" {
		t.Errorf("push-by-digest tags output = %q, want none", byDigest.outputs["tags"])
	}

	if first := w.publish(t, map[string]string{"INPUT_TAGS": "1.0"}); first.err != nil {
		t.Fatalf("publish: %v\n%s", first.err, first.log)
	}
	before := w.tagged(t, "1.0")
	for _, reg := range []*registrytest.Registry{w.reg, w.open, w.hub} {
		reg.ResetRequests()
	}
	if again := w.publish(t, map[string]string{"INPUT_TAGS": "1.0"}); again.err != nil {
		t.Fatalf("re-run: %v\n%s", again.err, again.log)
	}
	for name, reg := range map[string]*registrytest.Registry{"ghcr": w.reg, "open": w.open, "hub": w.hub} {
		for _, r := range reg.Requests() {
			if strings.Contains(r.Path, "/blobs/") && r.Method != http.MethodGet && r.Method != http.MethodHead {
				t.Errorf("the re-run wrote a blob at %s: %s %s", name, r.Method, r.Path)
			}
		}
	}
	if diff := cmp.Diff(before, w.tagged(t, "1.0")); diff != "" {
		t.Errorf("the re-run moved tags (-before +after):\n%s", diff)
	}
}

// TestLinkCheckAtGitHubSecondary: the package link is checked at each
// destination on GitHub's registry, a secondary one too when the primary
// is another registry's; package-url names it.
func TestLinkCheckAtGitHubSecondary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, image, wantErr, wantURL string
	}{
		{name: "linked", image: "acme/widget", wantURL: "https://github.com/orgs/acme/packages/container/package/widget"},
		{name: "unlinked fails with error", image: "acme/unlinked", wantErr: "link-check: package acme/unlinked is linked to no repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newThreeRegistries(t)
			images := w.open.Host() + "/acme/widget\n" + w.reg.Host() + "/" + tt.image
			r := w.publish(t, map[string]string{"INPUT_IMAGES": images, "INPUT_REGISTRY-AUTH": "", "INPUT_TAGS": "1", "INPUT_LINK-CHECK": "error"})
			switch {
			case tt.wantErr == "" && r.err != nil:
				t.Fatalf("Run() = %v\n%s", r.err, r.log)
			case tt.wantErr != "":
				if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
					t.Fatalf("Run() = %v, want %q", r.err, tt.wantErr)
				}
				return
			}
			if r.outputs["package-url"] != tt.wantURL {
				t.Errorf("package-url = %q, want %q", r.outputs["package-url"], tt.wantURL)
			}
			if want := w.open.Host() + "/acme/widget@"; !strings.HasPrefix(r.outputs["image"], want) {
				t.Errorf("image output = %q, want the primary, %s…", r.outputs["image"], want)
			}
		})
	}
}
