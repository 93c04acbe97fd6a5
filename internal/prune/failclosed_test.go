package prune_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/prune"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// hotfix pushes a new index listing the platform images of oldIndex (and
// no attestations), tagged tag: a re-publish that changed only the index.
// It returns every digest it wrote, the index first.
func (w *world) hotfix(t *testing.T, oldIndex, tag string) []string {
	t.Helper()
	old, err := remote.Index(w.repo.Digest(oldIndex), w.ropts...)
	if err != nil {
		t.Fatal(err)
	}
	om, _ := old.IndexManifest()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var children []string
	for _, d := range om.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" {
			img, err := old.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: d.Platform}})
			children = append(children, d.Digest.String())
		}
	}
	if err := remote.WriteIndex(w.repo.Tag(tag), idx, w.ropts...); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return append([]string{d.String()}, children...)
}

// runStopped runs a prune that must stop: it returns the error, and checks
// that nothing was deleted and every tag still reads back in full.
func (w *world) runStopped(t *testing.T, opts prune.Options, tags ...string) error {
	t.Helper()
	before := w.held(t)
	opts.Remote = w.ropts
	res, err := prune.Run(context.Background(), w.client, w.pkg, w.repo, opts)
	if err == nil {
		t.Errorf("Run() = nil error, pruned %q; want it to stop", res.Pruned)
	}
	if diff := cmp.Diff(before, w.held(t)); diff != "" {
		t.Errorf("a stopped prune deleted (-before +after):\n%s", diff)
	}
	for _, r := range w.api.Requests() {
		if r.Method == "DELETE" {
			t.Errorf("a stopped prune sent %s", r)
		}
	}
	w.readAll(t, tags...)
	return err
}

// TestLaggingListing: the Packages API lists what the registry holds late.
// Whatever this run wrote, and whatever a registry tag points at, is kept
// whatever the listing says; exactly the old release goes. Here the new
// index shares the old one's images and is not listed yet.
func TestLaggingListing(t *testing.T) {
	t.Parallel()
	for _, mode := range []inputs.Prune{inputs.PruneOrphans, inputs.PruneUntagged} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, githubtest.Package{})
			old := w.release(t, "old", "1.0")
			oldIndex := previousOf(t, w, "1.0")
			w.age(t, 48*time.Hour)
			if err := w.api.LagPackage(true, "acme", "widget", githubtest.Lag{Versions: true}); err != nil {
				t.Fatal(err)
			}
			wrote := w.hotfix(t, oldIndex, "1.0")
			pub := published(wrote[0], wrote, map[string][]string{oldIndex: {"1.0"}}, "1.0")
			res := w.run(t, prune.Options{Mode: mode, MinAge: 24 * time.Hour, Publish: pub})
			// The old attestations describe images the new index keeps.
			want := []string{oldIndex}
			if diff := cmp.Diff(want, res.Pruned); diff != "" {
				t.Errorf("pruned mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(sorted(append(minus(old, want), wrote[0])), w.held(t)); diff != "" {
				t.Errorf("the registry holds (-want +got):\n%s", diff)
			}
			w.readAll(t, "1.0")
		})
	}
}

// TestLaggingTagWritten: the tag this run wrote is not listed yet, and the
// listing still shows it on the old index.
func TestLaggingTagWritten(t *testing.T) {
	t.Parallel()
	w := newWorld(t, githubtest.Package{})
	w.release(t, "old", "1.0")
	oldIndex := previousOf(t, w, "1.0")
	w.age(t, 48*time.Hour)
	if err := w.api.LagPackage(true, "acme", "widget", githubtest.Lag{Tags: true}); err != nil {
		t.Fatal(err)
	}
	cur := w.release(t, "new", "1.0")
	pub := published(previousOf(t, w, "1.0"), cur, map[string][]string{oldIndex: {"1.0"}}, "1.0")
	// prune-min-age 0: nothing young is kept for being young.
	res := w.run(t, prune.Options{Mode: inputs.PruneUntagged, Publish: pub})
	if len(res.Pruned) != 0 {
		t.Errorf("pruned %q, want nothing: the listing still shows 1.0 on the old index", res.Pruned)
	}
	// The new index carries 1.0 at the registry: tagged, counted.
	got := outcomes(res)
	for _, d := range cur {
		if d != pub.Digest && got[d] != "kept: written by this run" {
			t.Errorf("%s this run wrote: %q, want kept as written by this run", d, got[d])
		}
	}
	if res.Tagged != 2 {
		t.Errorf("%d tagged versions, want 2 (1.0 listed on the old index, at the registry on the new)", res.Tagged)
	}
	w.readAll(t, "1.0")
}

// TestLaggingTagElsewhere: a tag at the registry the listing has not
// caught up with (a rollback by another tool) keeps the old index.
func TestLaggingTagElsewhere(t *testing.T) {
	t.Parallel()
	w := newWorld(t, githubtest.Package{})
	w.release(t, "old", "1.0")
	oldIndex := previousOf(t, w, "1.0")
	w.release(t, "new", "1.0")
	w.age(t, 48*time.Hour)
	if err := w.api.LagPackage(true, "acme", "widget", githubtest.Lag{Tags: true}); err != nil {
		t.Fatal(err)
	}
	// A rollback: another tool tags the old index again.
	desc, err := remote.Get(w.repo.Digest(oldIndex), w.ropts...)
	if err == nil {
		err = remote.Tag(w.repo.Tag("stable"), desc, w.ropts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	res := w.run(t, prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour})
	if len(res.Pruned) != 0 {
		t.Errorf("pruned %q, want nothing: stable points at the old index", res.Pruned)
	}
	w.readAll(t, "1.0", "stable")
}

// TestUnreadableManifest: a manifest the registry will not serve, whatever
// the status, stops the prune before any delete: nothing is known of what
// it needs. Before, a 404 dropped a tagged index and a 400 kept it but
// nothing it reaches, and its tag broke.
func TestUnreadableManifest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fault  registrytest.Fault
		status string
	}{
		{registrytest.StaleTag, "MANIFEST_UNKNOWN"},                 // 404, as for a manifest the registry lost
		{registrytest.ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN"}, // 400
		{registrytest.ServerError, "UNKNOWN"},                       // 500
	} {
		for _, which := range []string{"tagged index", "old image"} {
			t.Run(string(tc.fault)+" "+which, func(t *testing.T) {
				t.Parallel()
				w := newFaultyWorld(t, githubtest.Package{})
				old := w.release(t, "old", "1.0")
				oldIndex := previousOf(t, w, "1.0")
				w.release(t, "new", "1.0")
				w.age(t, 48*time.Hour)
				broken := previousOf(t, w, "1.0")
				if which == "old image" {
					broken = minus(old, []string{oldIndex})[0]
				}
				w.breakManifest(broken, tc.fault)
				err := w.runStopped(t, prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour}, "1.0")
				if err == nil || !strings.Contains(err.Error(), "reading the manifest of "+broken) || !strings.Contains(err.Error(), tc.status) {
					t.Errorf("Run() = %v, want it to name %s and %s", err, broken, tc.status)
				}
			})
		}
	}
}

// TestEndlessListing: a listing that does not end, or that sends the next
// page elsewhere, stops the prune after a bounded number of requests.
func TestEndlessListing(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte("[]"))
	}))
	t.Cleanup(other.Close)
	for _, tc := range []struct {
		name      string
		pkg       githubtest.Package
		limits    prune.Limits
		wantErr   string
		wantLists int // GET …/versions requests
	}{
		// 15 versions in pages of two: 8 pages.
		{"last page links to the first", githubtest.Package{Loop: githubtest.LoopToFirst}, prune.Limits{}, "repeats an earlier page", 9},
		{"last page links to itself", githubtest.Package{Loop: githubtest.LoopToSelf}, prune.Limits{}, "links back to", 8},
		{"next page on another host", githubtest.Package{NextHost: strings.TrimPrefix(other.URL, "http://")}, prune.Limits{}, "the next page is linked on another host", 1},
		{"more pages than the limit", githubtest.Package{}, prune.Limits{Pages: 3}, "more than 3 pages", 3},
		{"more versions than the limit", githubtest.Package{}, prune.Limits{Versions: 5}, "more than 5 versions", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.pkg)
			w.release(t, "old", "1.0")
			w.release(t, "new", "1.0")
			w.release(t, "stale")
			w.age(t, 48*time.Hour)
			before := len(w.api.Requests())
			err := w.runStopped(t, prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour, Limits: tc.limits}, "1.0")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Run() = %v, want %q", err, tc.wantErr)
			}
			lists := 0
			for _, r := range w.api.Requests()[before:] {
				if r.Method == "GET" && strings.HasSuffix(r.Path, "/versions") {
					lists++
				}
			}
			if lists != tc.wantLists {
				t.Errorf("%d listing requests, want %d", lists, tc.wantLists)
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("%d requests went to the other host", n)
	}
}

// TestNoCreatedAt: a version whose age is unknown counts as young. What
// the publish moved a tag away from goes anyway.
func TestNoCreatedAt(t *testing.T) {
	t.Parallel()
	for _, mode := range []inputs.Prune{inputs.PruneUntagged, inputs.PruneOrphans} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, githubtest.Package{NoCreatedAt: true})
			stale := w.release(t, "stale")
			old := w.release(t, "old", "1.0")
			oldIndex := previousOf(t, w, "1.0")
			cur := w.release(t, "new", "1.0")
			pub := published(previousOf(t, w, "1.0"), cur, map[string][]string{oldIndex: {"1.0"}}, "1.0")
			res := w.run(t, prune.Options{Mode: mode, MinAge: 24 * time.Hour, Publish: pub})
			if diff := cmp.Diff(old, sorted(res.Pruned)); diff != "" {
				t.Errorf("pruned mismatch (-want +got):\n%s", diff)
			}
			got := outcomes(res)
			for _, d := range stale {
				if mode == inputs.PruneUntagged && !strings.HasPrefix(got[d], "kept: ") {
					t.Errorf("%s, of unknown age: %q, want kept", d, got[d])
				}
				if !slices.Contains(w.held(t), d) {
					t.Errorf("%s, of unknown age, was deleted", d)
				}
			}
			if !strings.Contains(got[sorted(stale)[0]]+got[sorted(stale)[1]], "no created_at") && mode == inputs.PruneUntagged {
				t.Errorf("no reason names the missing created_at: %q", got)
			}
			w.readAll(t, "1.0")
		})
	}
}

// TestMovedAtAnyAge: a tag re-published several times a day (edge). The
// index it moved from minutes ago goes with what hangs off it, whatever
// prune-min-age says; a young leg never tagged stays.
func TestMovedAtAnyAge(t *testing.T) {
	t.Parallel()
	w := newWorld(t, githubtest.Package{})
	first := w.release(t, "edge-1", "edge")
	firstIndex := previousOf(t, w, "edge")
	leg := w.release(t, "leg")
	cur := w.release(t, "edge-2", "edge")
	pub := published(previousOf(t, w, "edge"), cur, map[string][]string{firstIndex: {"edge"}}, "edge")
	res := w.run(t, prune.Options{Mode: inputs.PruneOrphans, MinAge: 24 * time.Hour, Publish: pub})
	if diff := cmp.Diff(first, sorted(res.Pruned)); diff != "" {
		t.Errorf("pruned mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sorted(append(slices.Clone(cur), leg...)), w.held(t)); diff != "" {
		t.Errorf("the registry holds (-want +got):\n%s", diff)
	}
	w.readAll(t, "edge")
}

// TestStaleTagRead: a tag at the registry reads as missing, as ghcr.io's
// tag reads do for a while after a push. One this run wrote points where
// the run put it, and the prune goes on; any other stops it.
func TestStaleTagRead(t *testing.T) {
	t.Parallel()
	for _, stale := range []string{"1.0", "stable"} {
		t.Run(stale, func(t *testing.T) {
			t.Parallel()
			w := newFaultyWorld(t, githubtest.Package{})
			old := w.release(t, "old", "1.0")
			oldIndex := previousOf(t, w, "1.0")
			cur := w.release(t, "new", "1.0", "stable")
			pub := published(previousOf(t, w, "1.0"), cur, map[string][]string{oldIndex: {"1.0"}}, "1.0")
			w.age(t, 48*time.Hour)
			w.breakManifest(stale, registrytest.StaleTag)
			opts := prune.Options{Mode: inputs.PruneUntagged, MinAge: 24 * time.Hour, Publish: pub}
			if stale == "stable" {
				err := w.runStopped(t, opts, "1.0", "stable")
				if err == nil || !strings.Contains(err.Error(), "reading tag stable at the registry") {
					t.Errorf("Run() = %v, want it to name the tag it could not read", err)
				}
				return
			}
			res := w.run(t, opts)
			if diff := cmp.Diff(old, sorted(res.Pruned)); diff != "" {
				t.Errorf("pruned mismatch (-want +got):\n%s", diff)
			}
			w.readAll(t, "1.0", "stable")
		})
	}
}
