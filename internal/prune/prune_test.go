package prune_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-github/v60/github"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/prune"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/readback"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

const token = "ghs_PruneTest0123456789abcdefABCDEF"

// world is a registry holding acme/widget and the recorded API serving the
// package's versions from it, two to a page.
type world struct {
	reg    *registrytest.Registry
	api    *githubtest.API
	client *github.Client
	repo   name.Repository
	pkg    linkcheck.Package
	p      githubtest.Package
	ropts  []remote.Option

	// prune reads the registry through a fault proxy; broken are the
	// manifests it answers with a fault.
	mu     sync.Mutex
	broken map[string]registrytest.Fault
}

func newWorld(t *testing.T, p githubtest.Package) *world {
	t.Helper()
	return startWorld(t, p, false)
}

// newFaultyWorld is a world whose registry prune reads through a fault
// proxy (see breakManifest). The registry takes no credentials then: a
// token realm must be the registry's own host, which the proxy is not.
func newFaultyWorld(t *testing.T, p githubtest.Package) *world {
	t.Helper()
	return startWorld(t, p, true)
}

func startWorld(t *testing.T, p githubtest.Package, faulty bool) *world {
	t.Helper()
	regOpts := registrytest.Options{Passwords: []string{token}}
	if faulty {
		regOpts.Passwords = nil
	}
	reg, err := registrytest.Start(regOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	api := githubtest.Start(os.DirFS(filepath.Join("..", "..", "testdata", "github")))
	t.Cleanup(api.Close)
	apiURL := api.URL
	if p.Owner == "" {
		p.Org, p.Owner, p.Name, p.Repository = true, "acme", "widget", "acme/widget"
	} else {
		apiURL += "api/v3" // as GITHUB_API_URL is on GitHub Enterprise Server
	}
	p.Content = reg
	if p.PageSize == 0 {
		p.PageSize = 2
	}
	api.ServePackage(p)
	client, err := githubapi.NewClient(githubapi.Options{APIURL: apiURL, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{
		reg: reg, api: api, client: client, p: p,
		pkg: linkcheck.Package{Owner: p.Owner, Name: p.Name, Org: p.Org},
		ropts: []remote.Option{
			remote.WithAuth(&authn.Basic{Username: "octocat", Password: token}),
			// go-containerregistry retries a 5xx; quickly, here.
			remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}),
		},
		broken: map[string]registrytest.Fault{},
	}
	w.repo, _ = name.NewRepository(reg.Host() + "/" + p.Repository)
	if !faulty {
		return w
	}
	proxy := registrytest.NewFaultProxy(reg.Host(), func(_ int, r *http.Request) registrytest.Fault {
		_, ref, ok := strings.Cut(r.URL.Path, "/manifests/")
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			return ""
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.broken[ref]
	})
	t.Cleanup(proxy.Close)
	w.repo, _ = name.NewRepository(proxy.Host() + "/" + p.Repository)
	return w
}

// breakManifest makes every read of the manifest at ref (a digest or a
// tag) get fault.
func (w *world) breakManifest(ref string, fault registrytest.Fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.broken[ref] = fault
}

// release pushes a buildx-shaped index (two platforms, two attestations)
// and points tags at it.
func (w *world) release(t *testing.T, seed string, tags ...string) []string {
	t.Helper()
	ix, err := sample.NewIndex(sample.IndexOptions{Seed: seed, Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ix.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(w.repo.Digest(ix.Digest.String()), idx, w.ropts...); err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if err := remote.Tag(w.repo.Tag(tag), idx, w.ropts...); err != nil {
			t.Fatal(err)
		}
	}
	all := []string{ix.Digest.String()}
	for _, img := range append(slices.Clone(ix.Images), ix.Attestations...) {
		d, _ := img.Digest()
		all = append(all, d.String())
	}
	slices.Sort(all)
	return all
}

// image pushes one image by digest, tagged with tags.
func (w *world) image(t *testing.T, img v1.Image, tags ...string) string {
	t.Helper()
	d, _ := img.Digest()
	if err := remote.Write(w.repo.Digest(d.String()), img, w.ropts...); err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if err := remote.Tag(w.repo.Tag(tag), img, w.ropts...); err != nil {
			t.Fatal(err)
		}
	}
	return d.String()
}

func (w *world) age(t *testing.T, d time.Duration) {
	t.Helper()
	if err := w.api.AgePackage(w.p.Org, w.p.Owner, w.p.Name, d); err != nil {
		t.Fatal(err)
	}
}

// held is every manifest digest the registry holds, sorted.
func (w *world) held(t *testing.T) []string {
	t.Helper()
	ms, err := w.reg.Manifests(context.Background(), w.p.Repository)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Digest)
	}
	return out
}

func (w *world) run(t *testing.T, opts prune.Options) prune.Result {
	t.Helper()
	opts.Remote = w.ropts
	res, err := prune.Run(context.Background(), w.client, w.pkg, w.repo, opts)
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	return res
}

// readAll reads every tag back in full with skopeo after a case.
func (w *world) readAll(t *testing.T, want ...string) {
	t.Helper()
	got := readback.AllTags(t, w.reg.Host(), w.p.Repository, "octocat:"+token)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tags mismatch (-want +got):\n%s", diff)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func minus(a []string, b ...[]string) []string {
	var out []string
	for _, x := range a {
		if !slices.ContainsFunc(b, func(bs []string) bool { return slices.Contains(bs, x) }) {
			out = append(out, x)
		}
	}
	return out
}

func outcomes(res prune.Result) map[string]string {
	out := map[string]string{}
	for _, d := range res.Decisions {
		out[d.Version.Digest] = string(d.Outcome) + ": " + d.Reason
	}
	return out
}

// TestRepublishedRelease: 1.0 is published, then published again with new
// content. Untagged mode deletes the old index, its platform images and its
// attestations — and nothing the new 1.0 needs.
func TestRepublishedRelease(t *testing.T) {
	t.Parallel()
	for _, mode := range []inputs.Prune{inputs.PruneUntagged, inputs.PruneOrphans} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, githubtest.Package{})
			stale := w.release(t, "stale") // another publish's orphan, untagged
			old := w.release(t, "old", "1.0", "latest")
			w.age(t, 48*time.Hour)
			// What orphans mode is told: what 1.0 and latest pointed at
			// before the publish moved them.
			previous, err := prune.Previous(context.Background(), []name.Tag{w.repo.Tag("1.0"), w.repo.Tag("latest"), w.repo.Tag("new")}, w.ropts)
			if err != nil || len(previous) != 1 || len(previous[slices.Collect(maps.Keys(previous))[0]]) != 2 {
				t.Fatalf("Previous() = %v, %v; want the old index once", previous, err)
			}
			cur := w.release(t, "new", "1.0", "latest")
			newIndex := cur[slices.IndexFunc(cur, func(d string) bool { return d == previousOf(t, w, "1.0") })]

			apiBefore := len(w.api.Requests())
			w.reg.ResetRequests()
			res := w.run(t, prune.Options{Mode: mode, MinAge: 24 * time.Hour, Publish: published(newIndex, cur, previous, "1.0", "latest")})
			// 15 versions in pages of two, listed twice (8 requests each);
			// each deleted version read again, then deleted.
			counts := map[string]int{}
			for _, r := range w.api.Requests()[apiBefore:] {
				counts[r.Method]++
			}
			wantGets := 2*8 + len(wantPrunedFor(mode, old, stale))
			if counts["GET"] != wantGets || counts["DELETE"] != len(wantPrunedFor(mode, old, stale)) {
				t.Errorf("API requests %v, want %d GET and %d DELETE", counts, wantGets, len(wantPrunedFor(mode, old, stale)))
			}
			manifestGets := 0
			for _, r := range w.reg.Requests() {
				if r.Method == "GET" && strings.Contains(r.Path, "/manifests/") && r.Status == 200 {
					manifestGets++
				}
			}
			if manifestGets != 15 {
				t.Errorf("%d manifests read from the registry, want each of the 15 versions once", manifestGets)
			}
			wantPruned := wantPrunedFor(mode, old, stale)
			if diff := cmp.Diff(wantPruned, sorted(res.Pruned)); diff != "" {
				t.Errorf("pruned mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(cur, res.Reachable); diff != "" {
				t.Errorf("reachable mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(minus(sorted(append(append(slices.Clone(cur), old...), stale...)), wantPruned), w.held(t)); diff != "" {
				t.Errorf("the registry holds (-want +got):\n%s", diff)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings: %q", res.Warnings)
			}
			w.readAll(t, "1.0", "latest")
		})
	}
}

func wantPrunedFor(mode inputs.Prune, old, stale []string) []string {
	if mode == inputs.PruneUntagged {
		return sorted(append(slices.Clone(old), stale...))
	}
	return old
}

// previousOf is the digest tag points at now.
func previousOf(t *testing.T, w *world, tag string) string {
	t.Helper()
	ds, err := prune.Previous(context.Background(), []name.Tag{w.repo.Tag(tag)}, w.ropts)
	if err != nil || len(ds) != 1 {
		t.Fatalf("reading %s: %v %v", tag, ds, err)
	}
	for d := range ds {
		return d
	}
	return ""
}

// published is what a run that wrote all (index and what it lists) and
// moved tags from moved tells prune.
func published(index string, all []string, moved map[string][]string, tags ...string) *prune.Published {
	m := map[string]prune.Manifest{}
	for _, d := range all {
		m[d] = prune.Manifest{}
	}
	return &prune.Published{Digest: index, Tags: tags, Manifests: m, Moved: moved}
}

// TestYoungLegKept: a matrix leg another run pushed by digest minutes ago
// looks like an orphan; prune-min-age keeps it, and what it needs.
func TestYoungLegKept(t *testing.T) {
	t.Parallel()
	w := newWorld(t, githubtest.Package{})
	old := w.release(t, "old")
	w.release(t, "cur", "1.0")
	w.age(t, 48*time.Hour)
	leg := w.release(t, "leg") // an index pushed by digest, in flight
	res := w.run(t, prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour})
	if diff := cmp.Diff(old, sorted(res.Pruned)); diff != "" {
		t.Errorf("pruned mismatch (-want +got):\n%s", diff)
	}
	got := outcomes(res)
	for _, d := range leg {
		if !strings.HasPrefix(got[d], "kept: ") {
			t.Errorf("leg manifest %s: %q, want kept", d, got[d])
		}
	}
	for _, d := range w.held(t) {
		if slices.Contains(old, d) {
			t.Errorf("%s is still held", d)
		}
	}
	w.readAll(t, "1.0")
}

// TestTagGainedBeforeDelete: between the listing and the delete, another
// run tags the old index (a rollback). The re-read sees the tag: the index
// is kept, and so is everything it needs, though the listing said orphan.
func TestTagGainedBeforeDelete(t *testing.T) {
	t.Parallel()
	w := newWorld(t, githubtest.Package{})
	old := w.release(t, "old", "1.0")
	oldIndex := previousOf(t, w, "1.0")
	w.release(t, "new", "1.0")
	w.age(t, 48*time.Hour)
	var id int64
	vs, _ := w.api.PackageVersions(true, "acme", "widget")
	for _, v := range vs {
		if v.Digest == oldIndex {
			id = v.ID
		}
	}
	var once sync.Once
	w.api.OnRequest(func(r githubtest.Request) {
		if r.Method == "GET" && strings.HasSuffix(r.Path, fmt.Sprintf("/versions/%d", id)) {
			once.Do(func() {
				desc, err := remote.Get(w.repo.Digest(oldIndex), w.ropts...)
				if err == nil {
					err = remote.Tag(w.repo.Tag("rollback"), desc, w.ropts...)
				}
				if err != nil {
					t.Errorf("tagging during the prune: %v", err)
				}
			})
		}
	})
	res := w.run(t, prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour})
	if len(res.Pruned) != 0 {
		t.Errorf("pruned %q, want nothing: the old index gained a tag", res.Pruned)
	}
	got := outcomes(res)
	if !strings.HasPrefix(got[oldIndex], "skipped: gained tag rollback") {
		t.Errorf("old index: %q", got[oldIndex])
	}
	for _, d := range old {
		if d != oldIndex && !strings.HasPrefix(got[d], "kept: ") {
			t.Errorf("%s: %q, want kept with the index that gained a tag", d, got[d])
		}
	}
	w.readAll(t, "1.0", "rollback")
}

// TestSignaturesKept: cosign's sha256-<hex>.sig tag and an OCI referrer
// with its sha256-<hex> fallback tag stay with the kept image they sign;
// the old release's signature goes with it.
func TestSignaturesKept(t *testing.T) {
	t.Parallel()
	w := newWorld(t, githubtest.Package{})
	old := w.release(t, "old", "1.0")
	oldIndex := previousOf(t, w, "1.0")
	oldSig := w.image(t, signature(t, "old-sig"), artifactTag(oldIndex, ".sig"))
	cur := w.release(t, "new", "1.0")
	newIndex := previousOf(t, w, "1.0")
	sig := w.image(t, signature(t, "new-sig"), artifactTag(newIndex, ".sig"))
	// An SBOM attached to a platform image as an OCI 1.1 referrer, and the
	// fallback tag index that lists it (ghcr.io has no referrers API).
	child := cur[0]
	if child == newIndex {
		child = cur[1]
	}
	// go-containerregistry keeps the fallback tag up to date as it pushes
	// a manifest with a subject to a registry without the referrers API.
	ref := referrer(t, w, child, "sbom")
	firstIndex := previousOf(t, w, artifactTag(child, ""))
	ref2 := referrer(t, w, child, "vex")
	refIndex := previousOf(t, w, artifactTag(child, ""))
	if firstIndex == refIndex {
		t.Fatalf("the fallback tag index did not change with a second referrer")
	}
	w.age(t, 48*time.Hour)

	res := w.run(t, prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour, Publish: published(newIndex, cur, nil, "1.0")})
	// The first fallback index, which listed one referrer, is an orphan.
	if diff := cmp.Diff(sorted(append(slices.Clone(old), oldSig, firstIndex)), sorted(res.Pruned)); diff != "" {
		t.Errorf("pruned mismatch (-want +got):\n%s", diff)
	}
	got := outcomes(res)
	for d, why := range map[string]string{sig: "kept: tag sha256-", ref: "kept: ", ref2: "kept: ", refIndex: "kept: tag sha256-"} {
		if !strings.HasPrefix(got[d], why) {
			t.Errorf("%s: %q, want %q…", d, got[d], why)
		}
	}
	for _, d := range []string{sig, ref, ref2, refIndex} {
		if !slices.Contains(res.Reachable, d) {
			t.Errorf("reachable lacks %s, which hangs off what was published", d)
		}
	}
	w.readAll(t, "1.0", artifactTag(newIndex, ".sig"), artifactTag(child, ""))
}

// TestRefusals: GitHub refusing a delete is a warning naming the version
// and the reason; prune goes on where the next delete may work and stops
// where it cannot.
func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		pkg        githubtest.Package
		wantPruned int
		warnings   []string
	}{
		{"not admin", githubtest.Package{NotAdmin: true}, 0, []string{"404 Package not found.: the workflow's repository needs the Admin role", "4 more versions were not tried"}},
		{"rate limit", githubtest.Package{DeleteLimit: 2}, 2, []string{"secondary rate limit", "2 more versions were not tried"}},
		{"downloads", githubtest.Package{Public: true, Downloads: map[string]int{}}, 4, []string{"400 Publicly visible package versions with more than 5000 downloads cannot be deleted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.pkg)
			w.release(t, "old", "1.0")
			oldIndex := previousOf(t, w, "1.0")
			cur := w.release(t, "new", "1.0")
			w.age(t, 48*time.Hour)
			if tc.pkg.Downloads != nil {
				tc.pkg.Downloads[oldIndex] = 5001
			}
			pub := published(previousOf(t, w, "1.0"), cur, map[string][]string{oldIndex: {"1.0"}}, "1.0")
			res := w.run(t, prune.Options{Mode: inputs.PruneOrphans, MinAge: 24 * time.Hour, Publish: pub})
			if len(res.Pruned) != tc.wantPruned {
				t.Errorf("pruned %d, want %d: %q", len(res.Pruned), tc.wantPruned, res.Pruned)
			}
			if len(res.Warnings) != len(tc.warnings) {
				t.Fatalf("warnings = %q, want %d", res.Warnings, len(tc.warnings))
			}
			for i, want := range tc.warnings {
				if !strings.Contains(res.Warnings[i], want) {
					t.Errorf("warning %d = %q, want it to say %q", i, res.Warnings[i], want)
				}
			}
			if !strings.Contains(res.Warnings[0], "(version ") || !strings.Contains(res.Warnings[0], "sha256:") {
				t.Errorf("warning %q does not name the version", res.Warnings[0])
			}
			if tc.name == "downloads" && slices.Contains(res.Pruned, oldIndex) {
				t.Errorf("deleted the popular index")
			}
			w.readAll(t, "1.0")
		})
	}
}

// TestDryRun: nothing is deleted; the plan lists what would be, with the
// publish that did not happen taking its tags.
func TestDryRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, githubtest.Package{})
	old := w.release(t, "old", "1.0")
	w.age(t, 48*time.Hour)
	planned := &prune.Published{Digest: "sha256:" + strings.Repeat("e", 64), Tags: []string{"1.0"}, Manifests: map[string]prune.Manifest{}}
	before := w.held(t)
	res := w.run(t, prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour, DryRun: true, Publish: planned})
	var would []string
	for _, d := range res.Decisions {
		if d.Outcome == prune.WouldDelete {
			would = append(would, d.Version.Digest)
		}
	}
	if diff := cmp.Diff(old, sorted(would)); diff != "" {
		t.Errorf("would delete mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, w.held(t)); diff != "" || len(res.Pruned) != 0 {
		t.Errorf("a dry run deleted something: %q\n%s", res.Pruned, diff)
	}
	for _, r := range w.api.Requests() {
		if r.Method == "DELETE" {
			t.Errorf("a dry run sent %s", r)
		}
	}
}

func artifactTag(digest, suffix string) string {
	return "sha256-" + strings.TrimPrefix(digest, "sha256:") + suffix
}

// signature is shaped like cosign's: one simple-signing payload layer.
func signature(t *testing.T, seed string) v1.Image {
	t.Helper()
	img, err := sample.Image(sample.Options{Seed: seed, Layers: 1, LayerSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// referrer pushes an image-shaped artifact (as cosign attach writes) whose
// subject is subject.
func referrer(t *testing.T, w *world, subject, seed string) string {
	t.Helper()
	desc, err := remote.Head(w.repo.Digest(subject), w.ropts...)
	if err != nil {
		t.Fatal(err)
	}
	img, err := sample.Image(sample.Options{Seed: seed, Layers: 1, LayerSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	return w.image(t, mutate.Subject(img, *desc).(v1.Image))
}

// TestNestedPackageOnEnterprise: a nested package name, through GitHub
// Enterprise's /api/v3 base, for a user (Users.* do not escape the name in
// go-github v60, so prune does) and an organization (Organizations.* do):
// either way it reaches GitHub escaped once, as tools%2Fcli.
func TestNestedPackageOnEnterprise(t *testing.T) {
	t.Parallel()
	for _, p := range []githubtest.Package{
		{Owner: "octocat", Name: "tools/cli", Repository: "octocat/tools/cli"},
		{Org: true, Owner: "acme", Name: "tools/cli", Repository: "acme/tools/cli"},
	} {
		t.Run(p.Repository, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, p)
			old := w.release(t, "old", "v1")
			w.release(t, "new", "v1")
			w.age(t, 48*time.Hour)
			res := w.run(t, prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour})
			if diff := cmp.Diff(old, sorted(res.Pruned)); diff != "" {
				t.Errorf("pruned mismatch (-want +got):\n%s", diff)
			}
			kind := "users"
			if p.Org {
				kind = "orgs"
			}
			prefix := "/api/v3/" + kind + "/" + p.Owner + "/packages/container/tools%2Fcli/versions"
			for _, r := range w.api.Requests() {
				if !strings.HasPrefix(r.Path, prefix) {
					t.Errorf("request %s, want one under %s", r, prefix)
				}
			}
			w.readAll(t, "v1")
		})
	}
}

// TestNewIndexReusesCandidate: after the listing, another run tags a new
// index that reuses the old release's platform images (a hotfix that
// changed only the index). Those images gain no tag of their own, so the
// second listing before any delete is what keeps them.
func TestNewIndexReusesCandidate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, githubtest.Package{})
	w.release(t, "old", "1.0")
	oldIndex := previousOf(t, w, "1.0")
	w.release(t, "new", "1.0")
	w.age(t, 48*time.Hour)
	old, err := remote.Index(w.repo.Digest(oldIndex), w.ropts...)
	if err != nil {
		t.Fatal(err)
	}
	om, _ := old.IndexManifest()
	var images []string
	hotfix := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, d := range om.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" {
			img, err := old.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			hotfix = mutate.AppendManifests(hotfix, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: d.Platform}})
			images = append(images, d.Digest.String())
		}
	}
	vs, _ := w.api.PackageVersions(true, "acme", "widget")
	firstListing := (len(vs) + 1) / 2 // pages of two
	lists := 0
	w.api.OnRequest(func(r githubtest.Request) {
		if r.Method != "GET" || !strings.HasSuffix(r.Path, "/versions") {
			return
		}
		if lists++; lists == firstListing+1 {
			if err := remote.WriteIndex(w.repo.Tag("1.0-hotfix"), hotfix, w.ropts...); err != nil {
				t.Errorf("tagging the hotfix: %v", err)
			}
		}
	})
	res := w.run(t, prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour})
	if lists <= firstListing {
		t.Fatalf("the versions were listed %d times in pages of two; want a second listing", lists)
	}
	for _, d := range images {
		if slices.Contains(res.Pruned, d) {
			t.Errorf("deleted %s, which the hotfix index tagged after the listing needs", d)
		}
	}
	if !slices.Contains(res.Pruned, oldIndex) {
		t.Errorf("the old index was not pruned: %q", res.Pruned)
	}
	w.readAll(t, "1.0", "1.0-hotfix")
}
