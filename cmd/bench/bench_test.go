package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/action"
)

// The counts the targets state are asserted here, through the
// benchmark's own scenarios, registry and counter, with small images. Our
// action runs in process (action.Run, as the binary's main does) rather
// than as a binary, so the tests need no build; the requests it makes are
// the same. Times are never asserted.

// inProcess runs the action in this process with env as its whole
// environment.
type inProcess struct {
	t *testing.T
}

func (p inProcess) publish(ctx context.Context, _ *execer, env map[string]string) (map[string]string, error) {
	var log bytes.Buffer
	gha := githubactions.New(githubactions.WithGetenv(func(k string) string { return env[k] }), githubactions.WithWriter(&log))
	if err := action.Run(ctx, gha, action.Options{TempDir: p.t.TempDir()}); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, log.String())
	}
	return parseOutputs(log.Bytes()), nil
}

// newBench is a benchmark world with small images and no peers.
func newBench(t *testing.T) *bench {
	t.Helper()
	dir := t.TempDir()
	reg, err := startRegistry(filepath.Join(dir, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := reg.close(); err != nil {
			t.Errorf("closing the registry: %v", err)
		}
	})
	b := &bench{reg: reg, ours: inProcess{t}, workspace: dir}
	// 8 layers, as the benchmark's image has: request counts depend on it.
	small := imageSpec{Seed: "test", Layers: 8, LayerSize: 16 << 10}
	for _, l := range []struct {
		dst  *layout
		spec imageSpec
	}{
		{&b.big, small},
		{&b.small, imageSpec{Seed: "tags", Layers: 3, LayerSize: 32 << 10}},
		{&b.amd, imageSpec{Seed: "amd64", Layers: 2, LayerSize: 32 << 10, Arch: "amd64"}},
		{&b.arm, imageSpec{Seed: "arm64", Layers: 2, LayerSize: 32 << 10, Arch: "arm64"}},
	} {
		if *l.dst, err = writeLayout(filepath.Join(dir, "images", l.spec.Seed), l.spec, layoutRef); err != nil {
			t.Fatal(err)
		}
	}
	if b.multi, err = writeIndexLayout(filepath.Join(dir, "images", "multi"), multiSpecs(16<<10), layoutRef); err != nil {
		t.Fatal(err)
	}
	return b
}

// runOurs runs scenario sc once for us (setup and before included, not
// counted) and returns what crossed the wire during the run.
func runOurs(t *testing.T, b *bench, sc scenario, n int) counts {
	t.Helper()
	ctx := context.Background()
	if sc.setup != nil && n == 0 {
		if err := sc.setup(ctx, b); err != nil {
			t.Fatalf("%s: setup: %v", sc.name, err)
		}
	}
	if sc.before != nil {
		if err := sc.before(ctx, b, ours, n); err != nil {
			t.Fatalf("%s: before: %v", sc.name, err)
		}
	}
	b.reg.reset()
	if err := sc.run(ctx, b, ours, n, &execer{}); err != nil {
		t.Fatalf("%s: %v", sc.name, err)
	}
	k := b.reg.counts()
	if sc.after != nil {
		if err := sc.after(ctx, b, ours, n); err != nil {
			t.Fatalf("%s: after: %v", sc.name, err)
		}
	}
	if k.Errors > 0 {
		t.Errorf("%s: %d requests failed:\n%s", sc.name, k.Errors, trace(b.reg.requests()))
	}
	return k
}

func trace(reqs []request) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "  %d %s %s?%s in=%d\n", r.Status, r.Method, r.Path, r.Query, r.In)
	}
	return b.String()
}

func TestColdPushUploadsEachBlobOnce(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	k := runOurs(t, b, coldPush(), 0)
	// Every layer once, and the new config (stamped, so not the layout's).
	if min := b.big.bytes() - b.big.Config.Size; k.BlobUp < min || k.BlobUp > min+64<<10 {
		t.Errorf("cold push uploaded %d blob bytes, want the layers' %d and a config", k.BlobUp, min)
	}
	if k.ManifestPuts != 1 {
		t.Errorf("cold push wrote %d manifests, want 1 (the tag, which stores the manifest)\n%s", k.ManifestPuts, trace(b.reg.requests()))
	}
}

func TestRerunUploadsNothingAndKeepsTheDigest(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	sc := rerun()
	// setup publishes once and remembers the digest; each run checks it.
	for n := range 2 {
		k := runOurs(t, b, sc, n)
		if k.BlobUp != 0 || k.Mounts != 0 {
			t.Errorf("re-run %d uploaded %d blob bytes and mounted %d blobs, want none\n%s", n, k.BlobUp, k.Mounts, trace(b.reg.requests()))
		}
		// The manifest by digest and the tag at once. (The benchmark's
		// registry wants no token, and no credentials are given: no ping.)
		if k.Requests != 2 {
			t.Errorf("re-run %d made %d requests, want 2\n%s", n, k.Requests, trace(b.reg.requests()))
		}
		// The tag reads back as the digest: nothing to write.
		if k.ManifestPuts != 0 {
			t.Errorf("re-run %d wrote %d manifests, want none (the tag is in place)", n, k.ManifestPuts)
		}
	}
}

func TestManyTagsWriteTheManifestOncePerTag(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	k := runOurs(t, b, manyTags(), 0)
	if k.ManifestPuts != tagCount {
		t.Errorf("%d manifest PUTs, want %d (one per tag, each storing the manifest)\n%s", k.ManifestPuts, tagCount, trace(b.reg.requests()))
	}
	// Each blob once: one upload (ending in a PUT with its digest) per
	// layer and one for the config, whatever the tag count.
	uploads := map[string]int{}
	for _, r := range b.reg.requests() {
		if r.Method == http.MethodPut && strings.Contains(r.Path, "/blobs/uploads/") {
			uploads[r.Query[strings.Index(r.Query, "digest="):]]++
		}
	}
	if len(uploads) != len(b.small.Layers)+1 {
		t.Errorf("%d blobs uploaded, want %d", len(uploads), len(b.small.Layers)+1)
	}
	for d, n := range uploads {
		if n != 1 {
			t.Errorf("blob %s uploaded %d times", d, n)
		}
	}
	if min := b.small.bytes() - b.small.Config.Size; k.BlobUp < min || k.BlobUp > min+64<<10 {
		t.Errorf("uploaded %d blob bytes, want the layers' %d once and a config", k.BlobUp, min)
	}
}

func TestRelabelMountsEveryLayer(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	for n := range 2 {
		k := runOurs(t, b, relabel(), n)
		if k.Mounts != len(b.big.Layers) {
			t.Errorf("relabel %d mounted %d blobs, want every layer (%d)\n%s", n, k.Mounts, len(b.big.Layers), trace(b.reg.requests()))
		}
		// Only the new config is uploaded: no layer byte.
		if k.BlobUp > 64<<10 {
			t.Errorf("relabel %d uploaded %d blob bytes, want only a config", n, k.BlobUp)
		}
		if k.Up > 64<<10 {
			t.Errorf("relabel %d sent %d request bytes, want at most 64 KiB", n, k.Up)
		}
		// The source's manifest and config; the manifest and the tag
		// looked for; 8 mounts; the config checked for, started and sent;
		// the tag; its read-back.
		if k.Requests != 17 {
			t.Errorf("relabel %d made %d requests, want 17\n%s", n, k.Requests, trace(b.reg.requests()))
		}
	}
}

func TestMergeWithoutRestampingWritesOnlyTheIndex(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	for n := range 2 {
		k := runOurs(t, b, merge(), n)
		if k.BlobUp != 0 || k.Mounts != 0 {
			t.Errorf("merge %d moved %d blob bytes and mounted %d blobs, want none", n, k.BlobUp, k.Mounts)
		}
		if k.ManifestPuts != 1 {
			t.Errorf("merge %d wrote %d manifests, want 1 (the index, by its tag)\n%s", n, k.ManifestPuts, trace(b.reg.requests()))
		}
		// Each child's manifest and config; the index and the tag looked
		// for; the tag; its read-back.
		if k.Requests != 8 {
			t.Errorf("merge %d made %d requests, want 8\n%s", n, k.Requests, trace(b.reg.requests()))
		}
	}
	// Once more, keeping the result: the index carries the metadata, and
	// its children are the images as they were pushed.
	if err := merge().run(context.Background(), b, ours, 2, &execer{}); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(b.host() + "/merge@" + mustHead(t, b.host()+"/merge:1.0"))
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations[metadata[1].key] != metadata[1].value {
		t.Errorf("index annotations = %v, want the description", m.Annotations)
	}
	for i, d := range m.Manifests {
		if d.Digest.String() != b.merged[i] {
			t.Errorf("child %d = %s, want the pushed %s", i, d.Digest, b.merged[i])
		}
	}
}

func TestMergeRestampingMovesNoLayer(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	k := runOurs(t, b, mergeRestamp(), 0)
	// The two new configs, nothing else.
	if k.BlobUp > 64<<10 {
		t.Errorf("restamping merge uploaded %d blob bytes, want only two configs\n%s", k.BlobUp, trace(b.reg.requests()))
	}
	if k.ManifestPuts != 3 {
		t.Errorf("%d manifest PUTs, want 3 (two images by digest, the index by its tag)", k.ManifestPuts)
	}
}

// The raw ceiling's client sends each layer once, in two requests.
func TestRawPut(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	if err := rawPut(context.Background(), b.host(), "raw", b.big.Dir); err != nil {
		t.Fatal(err)
	}
	k := b.reg.counts()
	if k.Requests != 2*len(b.big.Layers) || k.BlobUp != b.big.bytes()-b.big.Config.Size || k.Errors != 0 {
		t.Errorf("raw put: %+v, want %d requests and %d bytes", k, 2*len(b.big.Layers), b.big.bytes()-b.big.Config.Size)
	}
	if k.MaxUploads > 2 {
		t.Errorf("raw put had %d uploads at once, want at most 2", k.MaxUploads)
	}
}

func mustHead(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"1GiB": 1 << 30, "256MiB": 256 << 20, "64M": 64 << 20, "2G": 2 << 30, "4096": 4096} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1MiB", "1TiB", "lots"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded, want an error", in)
		}
	}
}

// The faults scenario with our action alone (no peers installed here):
// every seed of every process converges to the clean digest, and the
// table says so.
func TestFaultsScenario(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	res, err := b.measureFaults(context.Background(), 3, nil, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	for _, fp := range faultProcesses() {
		runs := res.runs[fp.name][ours]
		if len(runs) != 3 {
			t.Fatalf("%s: %d runs, want 3", fp.name, len(runs))
		}
		for i, r := range runs {
			if !r.converged {
				t.Errorf("%s, seed %d: did not converge: %s", fp.name, i+1, r.err)
			}
		}
	}
	table := renderFaults(res)
	if !strings.Contains(table, "| ours | 3/3 |") {
		t.Errorf("faults table does not show ours converging:\n%s", table)
	}
	t.Log(table)
}
