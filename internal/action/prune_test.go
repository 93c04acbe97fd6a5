package action

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/readback"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// servePackage makes the recorded API serve acme/widget's versions from
// the fixture's registry, two to a page.
func (f *fixture) servePackage(p githubtest.Package) {
	p.Org, p.Owner, p.Name, p.Repository, p.Content, p.PageSize = true, "acme", "widget", "acme/widget", f.reg, 2
	f.api.ServePackage(p)
}

func (f *fixture) held(t *testing.T) []string {
	t.Helper()
	ms, err := f.reg.Manifests(context.Background(), "acme/widget")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Digest)
	}
	return out
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.Split(s, "\n")
	slices.Sort(out)
	return out
}

// TestPruneRepublishedRelease is the release that moves 1.0 to new
// content: the old index, its platform images and attestations go; the
// new 1.0 pulls completely; a matrix leg another run pushed by digest a
// minute ago stays.
func TestPruneRepublishedRelease(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"orphans", "untagged"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, registrytest.Options{})
			f.servePackage(githubtest.Package{})
			writeBuildx(t, f, "v1", sample.IndexOptions{Seed: "v1", Attestations: true})
			first := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v1", "INPUT_TAGS": "1.0", "INPUT_PRUNE": mode})
			if first.err != nil {
				t.Fatalf("first publish: %v\n%s", first.err, first.log)
			}
			if first.outputs["pruned"] != "" || len(lines(first.outputs["reachable"])) != 5 {
				t.Errorf("first publish: pruned %q, reachable %q; want nothing pruned and 5 manifests reachable", first.outputs["pruned"], first.outputs["reachable"])
			}
			if err := f.api.AgePackage(true, "acme", "widget", 48*time.Hour); err != nil {
				t.Fatal(err)
			}
			leg := f.run(t, map[string]string{"INPUT_SOURCE": "oci:out", "INPUT_PUSH-BY-DIGEST": "true"})
			if leg.err != nil {
				t.Fatalf("leg: %v", leg.err)
			}

			writeBuildx(t, f, "v2", sample.IndexOptions{Seed: "v2", Attestations: true})
			second := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v2", "INPUT_TAGS": "1.0", "INPUT_PRUNE": mode})
			if second.err != nil {
				t.Fatalf("second publish: %v\n%s", second.err, second.log)
			}
			if diff := cmp.Diff(lines(first.outputs["reachable"]), lines(second.outputs["pruned"])); diff != "" {
				t.Errorf("pruned mismatch (-old release +pruned):\n%s", diff)
			}
			want := append(lines(second.outputs["reachable"]), leg.outputs["digest"])
			slices.Sort(want)
			if diff := cmp.Diff(want, f.held(t)); diff != "" {
				t.Errorf("the registry holds (-want +got):\n%s", diff)
			}
			if mode == "untagged" && !strings.Contains(second.log, "prune: kept "+leg.outputs["digest"]) {
				t.Errorf("the young leg is not reported kept:\n%s", second.log)
			}
			for _, frag := range []string{"#### Clean-up", "5 deleted", "| deleted | no tag reaches it |"} {
				if !strings.Contains(second.summary, frag) {
					t.Errorf("summary lacks %q:\n%s", frag, second.summary)
				}
			}
			if got := readback.AllTags(t, f.reg.Host(), "acme/widget", "reader:"+token); !slices.Equal(got, []string{"1.0"}) {
				t.Errorf("tags = %q", got)
			}
		})
	}
}

// TestPruneRefusedPublishSucceeds: the repository lacks the Admin role on
// the package, so GitHub refuses every delete. The publish succeeded, so
// the step does too, with a warning naming the version and the reason.
func TestPruneRefusedPublishSucceeds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	f.servePackage(githubtest.Package{NotAdmin: true})
	writeBuildx(t, f, "v1", sample.IndexOptions{Seed: "v1", Attestations: true})
	if r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v1", "INPUT_TAGS": "1.0"}); r.err != nil {
		t.Fatal(r.err)
	}
	if err := f.api.AgePackage(true, "acme", "widget", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	before := f.held(t)
	writeBuildx(t, f, "v2", sample.IndexOptions{Seed: "v2", Attestations: true})
	r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v2", "INPUT_TAGS": "1.0", "INPUT_PRUNE": "untagged"})
	if r.err != nil {
		t.Fatalf("a refused clean-up failed the publish: %v", r.err)
	}
	if !strings.Contains(r.log, "::warning title=prune::prune: did not delete sha256:") || !strings.Contains(r.log, "Package not found.: the workflow's repository needs the Admin role") {
		t.Errorf("no warning naming the version and the reason:\n%s", r.log)
	}
	if r.outputs["pruned"] != "" || r.outputs["digest"] == "" {
		t.Errorf("outputs: pruned %q, digest %q", r.outputs["pruned"], r.outputs["digest"])
	}
	for _, d := range before {
		if !slices.Contains(f.held(t), d) {
			t.Errorf("%s was deleted", d)
		}
	}
	readback.AllTags(t, f.reg.Host(), "acme/widget", "reader:"+token)
}

// TestPruneDryRun: push: false lists what would be deleted and deletes
// nothing.
func TestPruneDryRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	f.servePackage(githubtest.Package{})
	writeBuildx(t, f, "v1", sample.IndexOptions{Seed: "v1", Attestations: true})
	first := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v1", "INPUT_TAGS": "1.0"})
	if first.err != nil {
		t.Fatal(first.err)
	}
	if err := f.api.AgePackage(true, "acme", "widget", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	before := f.held(t)
	writeBuildx(t, f, "v2", sample.IndexOptions{Seed: "v2", Attestations: true})
	r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v2", "INPUT_TAGS": "1.0", "INPUT_PRUNE": "orphans", "INPUT_PUSH": "false"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := strings.Count(r.summary, "| would be deleted | no tag reaches it |"); got != 5 {
		t.Errorf("summary lists %d versions that would be deleted, want the old release's 5:\n%s", got, r.summary)
	}
	if diff := cmp.Diff(before, f.held(t)); diff != "" || r.outputs["pruned"] != "" {
		t.Errorf("a dry run deleted (-before +after):\n%s", diff)
	}
	for _, req := range f.api.Requests() {
		if req.Method == "DELETE" {
			t.Errorf("a dry run sent %s", req)
		}
	}
	readback.AllTags(t, f.reg.Host(), "acme/widget", "reader:"+token)
}

// TestPruneSweep is the scheduled clean-up: no source, nothing published;
// untagged mode deletes what no tag reaches, orphans mode says it has
// nothing to go on.
func TestPruneSweep(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	f.servePackage(githubtest.Package{})
	writeBuildx(t, f, "v1", sample.IndexOptions{Seed: "v1", Attestations: true})
	first := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v1", "INPUT_TAGS": "1.0"})
	writeBuildx(t, f, "v2", sample.IndexOptions{Seed: "v2", Attestations: true})
	second := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v2", "INPUT_TAGS": "1.0"})
	if first.err != nil || second.err != nil {
		t.Fatalf("publishing: %v, %v", first.err, second.err)
	}
	if err := f.api.AgePackage(true, "acme", "widget", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	orphans := f.run(t, map[string]string{"INPUT_SOURCE": "", "INPUT_PRUNE": "orphans"})
	if orphans.err != nil || !strings.Contains(orphans.log, "use prune: untagged for a sweep") {
		t.Errorf("orphans sweep = %v, want a warning:\n%s", orphans.err, orphans.log)
	}
	r := f.run(t, map[string]string{"INPUT_SOURCE": "", "INPUT_PRUNE": "untagged"})
	if r.err != nil {
		t.Fatalf("sweep: %v\n%s", r.err, r.log)
	}
	if diff := cmp.Diff(lines(first.outputs["reachable"]), lines(r.outputs["pruned"])); diff != "" {
		t.Errorf("pruned mismatch (-old release +pruned):\n%s", diff)
	}
	if diff := cmp.Diff(lines(second.outputs["reachable"]), f.held(t)); diff != "" {
		t.Errorf("the registry holds (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.summary, "#### Clean-up") {
		t.Errorf("summary lacks the clean-up:\n%s", r.summary)
	}
	readback.AllTags(t, f.reg.Host(), "acme/widget", "reader:"+token)
}

// TestPruneLaggingListing: the Packages API lists the run's new versions
// but not yet the tag it moved onto them, and still shows 1.0 on the old
// index. With prune-min-age 0 nothing young is kept for being young:
// what this run wrote is kept because it wrote it, and 1.0 reads back in
// full.
func TestPruneLaggingListing(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"orphans", "untagged"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, registrytest.Options{})
			f.servePackage(githubtest.Package{})
			writeBuildx(t, f, "v1", sample.IndexOptions{Seed: "v1", Attestations: true})
			if r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v1", "INPUT_TAGS": "1.0"}); r.err != nil {
				t.Fatal(r.err)
			}
			if err := f.api.AgePackage(true, "acme", "widget", 48*time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := f.api.LagPackage(true, "acme", "widget", githubtest.Lag{Tags: true}); err != nil {
				t.Fatal(err)
			}
			writeBuildx(t, f, "v2", sample.IndexOptions{Seed: "v2", Attestations: true})
			r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v2", "INPUT_TAGS": "1.0", "INPUT_PRUNE": mode, "INPUT_PRUNE-MIN-AGE": "0"})
			if r.err != nil {
				t.Fatalf("publish: %v\n%s", r.err, r.log)
			}
			if r.outputs["pruned"] != "" {
				t.Errorf("pruned %q, want nothing: the listing still shows 1.0 on the old index, and the rest is what this run wrote", r.outputs["pruned"])
			}
			for _, d := range lines(r.outputs["reachable"]) {
				if !slices.Contains(f.held(t), d) {
					t.Errorf("%s, which this run wrote, was deleted", d)
				}
			}
			if got := readback.AllTags(t, f.reg.Host(), "acme/widget", "reader:"+token); !slices.Equal(got, []string{"1.0"}) {
				t.Errorf("tags = %q", got)
			}
		})
	}
}

// TestPruneEdgeRepublished: a tag re-published within the hour (edge, a
// nightly) with the default prune-min-age of 1d. What the tag moved from
// goes at once; nothing later would ever consider it.
func TestPruneEdgeRepublished(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	f.servePackage(githubtest.Package{})
	writeBuildx(t, f, "v1", sample.IndexOptions{Seed: "v1", Attestations: true})
	first := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v1", "INPUT_TAGS": "edge", "INPUT_PRUNE": "orphans"})
	writeBuildx(t, f, "v2", sample.IndexOptions{Seed: "v2", Attestations: true})
	second := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v2", "INPUT_TAGS": "edge", "INPUT_PRUNE": "orphans"})
	if first.err != nil || second.err != nil {
		t.Fatalf("publishing: %v, %v", first.err, second.err)
	}
	if diff := cmp.Diff(lines(first.outputs["reachable"]), lines(second.outputs["pruned"])); diff != "" {
		t.Errorf("pruned mismatch (-first release +pruned):\n%s", diff)
	}
	if diff := cmp.Diff(lines(second.outputs["reachable"]), f.held(t)); diff != "" {
		t.Errorf("the registry holds (-want +got):\n%s", diff)
	}
	readback.AllTags(t, f.reg.Host(), "acme/widget", "reader:"+token)
}

// TestPruneStopsOnEndlessListing: the listing's last page links back to
// the first. The prune stops with a warning and the summary says so;
// nothing is deleted, and the publish succeeds.
func TestPruneStopsOnEndlessListing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	f.servePackage(githubtest.Package{Loop: githubtest.LoopToFirst})
	writeBuildx(t, f, "v1", sample.IndexOptions{Seed: "v1", Attestations: true})
	if r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v1", "INPUT_TAGS": "1.0"}); r.err != nil {
		t.Fatal(r.err)
	}
	if err := f.api.AgePackage(true, "acme", "widget", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	writeBuildx(t, f, "v2", sample.IndexOptions{Seed: "v2", Attestations: true})
	before := f.held(t)
	r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v2", "INPUT_TAGS": "1.0", "INPUT_PRUNE": "untagged"})
	if r.err != nil {
		t.Fatalf("a stopped clean-up failed the publish: %v", r.err)
	}
	if !strings.Contains(r.log, "::warning title=prune::prune: stopped, nothing was deleted: listing the versions of package acme/widget: page ") {
		t.Errorf("no warning that the prune stopped:\n%s", r.log)
	}
	if !strings.Contains(r.summary, "Stopped before deciding, so nothing was deleted: listing the versions") {
		t.Errorf("the summary does not say the prune stopped:\n%s", r.summary)
	}
	held := f.held(t)
	for _, d := range before {
		if !slices.Contains(held, d) {
			t.Errorf("%s was deleted", d)
		}
	}
	for _, req := range f.api.Requests() {
		if req.Method == "DELETE" {
			t.Errorf("a stopped prune sent %s", req)
		}
	}
	if r.outputs["pruned"] != "" || len(lines(r.outputs["reachable"])) != 5 {
		t.Errorf("outputs: pruned %q, reachable %q; want nothing pruned, the 5 manifests published reachable", r.outputs["pruned"], r.outputs["reachable"])
	}
	readback.AllTags(t, f.reg.Host(), "acme/widget", "reader:"+token)
}
