package push

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/testkit/readback"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// fanoutWorld is two registries: open, anonymous pull and push as a
// self-hosted registry may be, and one that wants Basic credentials (as
// Docker Hub and Quay do) behind a fault proxy that refuses manifest
// writes while refuse matches. The open one holds two destinations, the
// other one.
type fanoutWorld struct {
	open, authed *registrytest.Registry
	proxy        *registrytest.FaultProxy
	refuse       atomic.Pointer[func(*http.Request) bool]
}

func newFanoutWorld(t *testing.T) *fanoutWorld {
	t.Helper()
	w := &fanoutWorld{}
	var err error
	if w.open, err = registrytest.Start(registrytest.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.open.Close() })
	if w.authed, err = registrytest.Start(registrytest.Options{Passwords: []string{"pw"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.authed.Close() })
	schedule := func(_ int, r *http.Request) registrytest.Fault {
		if refuse := w.refuse.Load(); refuse != nil && (*refuse)(r) {
			return registrytest.ManifestInvalid
		}
		return ""
	}
	// The token exchange goes through the proxy too: the credentials are
	// the proxy host's, and go nowhere else.
	w.proxy = registrytest.NewFaultProxy(w.authed.Host(), schedule, registrytest.WithTokenRequests())
	t.Cleanup(w.proxy.Close)
	return w
}

// destinations are the world's three, each tagged 1.0 and latest, with
// sessions for one publish: the open registry's two share theirs, as one
// registry's credentials do.
func (w *fanoutWorld) destinations() []Destination {
	open := registrytest.NewSessions(registrytest.SessionOptions{Retry: fastRetries})
	authed := registrytest.NewSessions(registrytest.SessionOptions{Keychain: registrytest.Keychain("pw", w.proxy.Host()), Retry: fastRetries})
	var ds []Destination
	for _, d := range []struct {
		repo     string
		sessions *registryhttp.Sessions
	}{
		{w.open.Host() + "/acme/widget", open},
		{w.open.Host() + "/acme/mirror", open},
		{w.proxy.Host() + "/acme/widget", authed},
	} {
		repo, err := name.NewRepository(d.repo)
		if err != nil {
			panic(err)
		}
		ds = append(ds, Destination{Repository: repo, Tags: []name.Tag{repo.Tag("1.0"), repo.Tag("latest")}, Sessions: d.sessions})
	}
	return ds
}

// tagged is where each destination's tags point now, read from the
// registries themselves.
func (w *fanoutWorld) tagged(t *testing.T, ds []Destination) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range ds {
		for _, tag := range d.Tags {
			desc, err := remote.Head(tag, remote.WithAuthFromKeychain(registrytest.Keychain("pw", w.proxy.Host())))
			if err != nil {
				t.Fatalf("reading %s: %v", tag, err)
			}
			out[tag.String()] = desc.Digest.String()
		}
	}
	return out
}

// blobsOf lists every blob an index's images reference: configs and
// layers.
func blobsOf(t *testing.T, ix *sample.Index) []string {
	t.Helper()
	var out []string
	for _, img := range ix.Images {
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Config.Digest.String())
		for _, l := range m.Layers {
			out = append(out, l.Digest.String())
		}
	}
	return out
}

// blobWrites tallies, per repository, the blobs committed by upload and
// the blobs mounted and where from.
type blobWrites struct {
	uploads map[string]map[string]int // repository → digest → commits
	mounts  map[string]map[string]int // repository → "digest from repo" → mounts
}

func writesOf(reqs []registrytest.Request) blobWrites {
	bw := blobWrites{uploads: map[string]map[string]int{}, mounts: map[string]map[string]int{}}
	add := func(m map[string]map[string]int, repo, key string) {
		if m[repo] == nil {
			m[repo] = map[string]int{}
		}
		m[repo][key]++
	}
	for _, r := range reqs {
		repo, _, ok := strings.Cut(strings.TrimPrefix(r.Path, "/v2/"), "/blobs/")
		if !ok || r.Status >= 300 {
			continue
		}
		q, _ := url.ParseQuery(r.RawQuery)
		switch {
		case r.Method == http.MethodPut && q.Get("digest") != "":
			add(bw.uploads, repo, q.Get("digest"))
		case r.Method == http.MethodPost && q.Get("mount") != "":
			add(bw.mounts, repo, q.Get("mount")+" from "+q.Get("from"))
		}
	}
	return bw
}

// A 2-platform image to three destinations in two registries: one digest
// everywhere; each blob sent once to each registry, the second repository
// of a registry mounting every blob from the first; every manifest in
// place by digest before any tag; every tag read back in full by skopeo.
func TestDestinationsSendEachBlobOncePerRegistry(t *testing.T) {
	t.Parallel()
	w := newFanoutWorld(t)
	ix, err := sample.NewIndex(sample.IndexOptions{Seed: "fanout"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := ix.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	ds := w.destinations()
	res, err := Destinations(context.Background(), img, ds, Options{ReadBack: true})
	if err != nil {
		t.Fatalf("Destinations() = %v", err)
	}
	// What the publish sent, before this test reads anything.
	openReqs, authedReqs := w.open.SettledRequests(), w.authed.SettledRequests()
	for i, r := range res {
		if r.Digest != ix.Digest || r.Ref.Context().Name() != ds[i].Repository.Name() || len(r.Tags) != 2 || len(r.Warnings) > 0 {
			t.Errorf("result %d = %+v, want %s at %s, both tags, no warning", i, r, ix.Digest, ds[i].Repository)
		}
	}
	want := map[string]string{}
	for _, d := range ds {
		for _, tag := range d.Tags {
			want[tag.String()] = ix.Digest.String()
		}
	}
	if diff := cmp.Diff(want, w.tagged(t, ds)); diff != "" {
		t.Errorf("tags mismatch (-want +got):\n%s", diff)
	}

	once := map[string]int{}
	mounted := map[string]int{}
	for _, b := range blobsOf(t, ix) {
		once[b] = 1
		mounted[b+" from acme/widget"] = 1
	}
	open := writesOf(openReqs)
	if diff := cmp.Diff(map[string]map[string]int{"acme/widget": once}, open.uploads); diff != "" {
		t.Errorf("uploads to the open registry mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]map[string]int{"acme/mirror": mounted}, open.mounts); diff != "" {
		t.Errorf("mounts in the open registry mismatch (-want +got):\n%s", diff)
	}
	authed := writesOf(authedReqs)
	if diff := cmp.Diff(map[string]map[string]int{"acme/widget": once}, authed.uploads); diff != "" {
		t.Errorf("uploads to the registry with credentials mismatch (-want +got):\n%s", diff)
	}
	if len(authed.mounts) > 0 {
		t.Errorf("mounts in the registry with credentials: %v, want none", authed.mounts)
	}
	for _, reqs := range [][]registrytest.Request{openReqs, authedReqs} {
		checkDigestsBeforeTags(t, reqs, ix)
	}
	// One token for the registry that wants one: the destination's
	// sessions authenticate once.
	if n := tally(authedReqs).tokens; n != 1 {
		t.Errorf("%d token requests to the registry with credentials, want 1", n)
	}

	for _, rb := range []struct{ host, repo string }{
		{w.open.Host(), "acme/widget"}, {w.open.Host(), "acme/mirror"}, {w.authed.Host(), "acme/widget"},
	} {
		if got := readback.AllTags(t, rb.host, rb.repo, "u:pw"); len(got) != 2 {
			t.Errorf("skopeo read tags %v of %s/%s, want 1.0 and latest", got, rb.host, rb.repo)
		}
	}
}

// checkDigestsBeforeTags checks, in one registry's requests, that every
// manifest of ix was written by digest, children first, before any tag.
func checkDigestsBeforeTags(t *testing.T, reqs []registrytest.Request, ix *sample.Index) {
	t.Helper()
	children := map[string]bool{}
	for _, img := range ix.Images {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		children[d.String()] = true
	}
	byRepo := map[string][]string{}
	for _, r := range reqs {
		repo, ref, ok := strings.Cut(strings.TrimPrefix(r.Path, "/v2/"), "/manifests/")
		if ok && r.Method == http.MethodPut {
			byRepo[repo] = append(byRepo[repo], ref)
		}
	}
	for repo, refs := range byRepo {
		var kinds []string
		for _, ref := range refs {
			switch {
			case children[ref]:
				kinds = append(kinds, "child")
			case ref == ix.Digest.String():
				kinds = append(kinds, "index")
			default:
				kinds = append(kinds, "tag "+ref)
			}
		}
		want := []string{"child", "child", "index", "tag 1.0", "tag latest"}
		if diff := cmp.Diff(want, kinds); diff != "" {
			t.Errorf("manifest writes to %s mismatch (-want +got):\n%s", repo, diff)
		}
	}
}

// One destination refuses the new manifest half way (its blobs and its
// children are in place, the index by digest is refused): no tag moves
// anywhere, not even at the destinations that hold everything by then,
// and the error names the destination and keeps the registry's answer.
// Once the registry takes it, a re-run moves every tag.
func TestDestinationsMoveNoTagWhenOneFails(t *testing.T) {
	t.Parallel()
	w := newFanoutWorld(t)
	ctx := context.Background()
	old, err := sample.NewIndex(sample.IndexOptions{Seed: "fanout-old"})
	if err != nil {
		t.Fatal(err)
	}
	oldImg, err := old.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Destinations(ctx, oldImg, w.destinations(), Options{}); err != nil {
		t.Fatalf("Destinations(old) = %v", err)
	}
	ds := w.destinations()
	before := w.tagged(t, ds)

	ix, err := sample.NewIndex(sample.IndexOptions{Seed: "fanout-new"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := ix.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	refuse := func(r *http.Request) bool {
		return registrytest.ManifestWrites(r) && strings.HasSuffix(r.URL.Path, "/manifests/"+ix.Digest.String())
	}
	w.refuse.Store(&refuse)
	w.open.ResetRequests()
	_, err = Destinations(ctx, img, ds, Options{ReadBack: true})
	var terr *transport.Error
	if err == nil || !errors.As(err, &terr) || !hasCode(terr, transport.ManifestInvalidErrorCode) {
		t.Fatalf("Destinations() = %v, want the registry's MANIFEST_INVALID", err)
	}
	if !strings.HasPrefix(err.Error(), "publishing to "+ds[2].Repository.String()+": ") {
		t.Errorf("error %q does not start by naming the destination %s", err, ds[2].Repository)
	}
	if n := w.proxy.Injected()[registrytest.ManifestInvalid]; n != 1 {
		t.Errorf("%d manifest writes refused, want 1 (a refusal is not retried)", n)
	}
	if diff := cmp.Diff(before, w.tagged(t, ds)); diff != "" {
		t.Errorf("tags moved by a failed publish (-before +after):\n%s", diff)
	}
	for _, r := range w.open.SettledRequests() {
		if r.Method == http.MethodPut && (strings.HasSuffix(r.Path, "/manifests/1.0") || strings.HasSuffix(r.Path, "/manifests/latest")) {
			t.Errorf("a tag was written by the failed publish: %s", r.Path)
		}
	}

	w.refuse.Store(nil)
	if _, err := Destinations(ctx, img, w.destinations(), Options{ReadBack: true}); err != nil {
		t.Fatalf("Destinations() once the registry takes it = %v", err)
	}
	for tag, digest := range w.tagged(t, ds) {
		if digest != ix.Digest.String() {
			t.Errorf("%s = %s after the re-run, want %s", tag, digest, ix.Digest)
		}
	}
}

// One destination is All: the same requests, one for one.
func TestDestinationsOfOneIsAll(t *testing.T) {
	t.Parallel()
	reg, _ := startRegistry(t)
	img, err := sample.Image(sample.Options{Seed: "one", Layers: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	counts := map[string]count{}
	for _, path := range []string{"all", "destinations"} {
		repo, _ := name.NewRepository(reg.Host() + "/acme/" + path)
		tags := []name.Tag{repo.Tag("1.0"), repo.Tag("latest")}
		opts := Options{Sessions: reg.Sessions("pw"), ReadBack: true}
		reg.ResetRequests()
		if path == "all" {
			_, err = All(ctx, img, repo, tags, opts)
		} else {
			_, err = Destinations(ctx, img, []Destination{{Repository: repo, Tags: tags, Sessions: opts.Sessions}}, Options{ReadBack: true})
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		counts[path] = tally(reg.SettledRequests())
	}
	if diff := cmp.Diff(counts["all"], counts["destinations"], cmp.AllowUnexported(count{})); diff != "" {
		t.Errorf("requests mismatch (-All +Destinations):\n%s", diff)
	}
}

// Lists Destinations cannot write as asked are refused before any request.
func TestDestinationsRefusesBadLists(t *testing.T) {
	t.Parallel()
	a, _ := name.NewRepository("registry.example/acme/a")
	b, _ := name.NewRepository("registry.example/acme/b")
	s := registrytest.NewSessions(registrytest.SessionOptions{})
	tests := []struct {
		name  string
		dests []Destination
		want  string
	}{
		{"none", nil, "no destination"},
		{"no sessions", []Destination{{Repository: a}}, "has no registry sessions"},
		{"twice", []Destination{{Repository: a, Sessions: s}, {Repository: a, Sessions: s}}, "named twice"},
		{"foreign tag", []Destination{{Repository: a, Tags: []name.Tag{b.Tag("1")}, Sessions: s}}, "is not in destination"},
	}
	img, err := sample.Image(sample.Options{Seed: "bad"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Destinations(context.Background(), img, tt.dests, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Destinations() = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
