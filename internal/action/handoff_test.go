package action

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// TestMatrixHandoffSpellings is the matrix merge with the digests handed
// over as Docker's recipe hands them (docs.docker.com/build/ci/github-actions/
// multi-platform/): bare digests, a directory of digest-named files, a
// space-separated list. Each merge makes the index the full references
// give, with the same digest.
func TestMatrixHandoffSpellings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	const rules = "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}"
	var digests []string
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := sample.Image(sample.Options{Seed: "handoff", Architecture: arch})
		if err != nil {
			t.Fatal(err)
		}
		if err := sample.WriteLayout(filepath.Join(f.ws, arch), img, ""); err != nil {
			t.Fatal(err)
		}
		r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:" + arch, "INPUT_PUSH-BY-DIGEST": "true", "INPUT_TAGS": rules, "GITHUB_REF": "refs/tags/v1.2.3"})
		if r.err != nil {
			t.Fatalf("matrix job %s: %v\n%s", arch, r.err, r.log)
		}
		digests = append(digests, r.outputs["digest"])
	}
	// Docker's merge lists the directory with a glob, sorted, and so does
	// digests:DIR: the reference form lists them in that order too.
	slices.Sort(digests)
	repo := f.reg.Host() + "/acme/widget"
	var refs, hexes []string
	for _, d := range digests {
		refs = append(refs, repo+"@"+d)
		hexes = append(hexes, strings.TrimPrefix(d, "sha256:"))
	}
	// What each leg of Docker's recipe leaves for the merge job:
	// touch "digests/${digest#sha256:}".
	if err := os.Mkdir(filepath.Join(f.ws, "digests"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, h := range hexes {
		if err := os.WriteFile(filepath.Join(f.ws, "digests", h), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	merge := func(source string) result {
		t.Helper()
		return f.run(t, map[string]string{"INPUT_SOURCE": source, "INPUT_TAGS": rules, "GITHUB_REF": "refs/tags/v1.2.3", "INPUT_PLATFORMS": "linux/amd64,linux/arm64"})
	}
	base := merge(strings.Join(refs, "\n"))
	if base.err != nil || base.outputs["digest"] == "" {
		t.Fatalf("merge by reference: %v\n%s", base.err, base.log)
	}
	for _, tc := range []struct{ name, source string }{
		{"bare digests", strings.Join(digests, "\n")},
		{"bare digests, comma-separated", strings.Join(digests, ", ")},
		{"digests directory", "digests:digests"},
		{"Docker's printf list", strings.Join(refs, " ") + " "},
		{"bare digests, space-separated", strings.Join(digests, " ")},
	} {
		r := merge(tc.source)
		if r.err != nil {
			t.Errorf("%s: merge: %v\n%s", tc.name, r.err, r.log)
			continue
		}
		if r.outputs["digest"] != base.outputs["digest"] || r.outputs["tags"] != base.outputs["tags"] || r.outputs["platforms"] != base.outputs["platforms"] {
			t.Errorf("%s: digest %s, tags %q, platforms %s; want %s, %q, %s as by reference", tc.name, r.outputs["digest"], r.outputs["tags"], r.outputs["platforms"], base.outputs["digest"], base.outputs["tags"], base.outputs["platforms"])
		}
	}
	_, idx := readIndex(t, repo+":1.2.3")
	var children []string
	for _, d := range idx.Manifests {
		children = append(children, d.Digest.String())
	}
	if !slices.Equal(children, digests) {
		t.Errorf("index children %v, want the legs' manifests %v in digest order", children, digests)
	}

	// A stray file in the directory fails the merge before anything is
	// written, naming the file.
	if err := os.WriteFile(filepath.Join(f.ws, "digests", ".DS_Store"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.reg.ResetRequests()
	if r := merge("digests:digests"); r.err == nil || !strings.HasPrefix(r.err.Error(), "source: ") || !strings.Contains(r.err.Error(), `".DS_Store" is not named by a digest`) {
		t.Errorf("merge with a stray file = %v, want a source error naming it", r.err)
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("a refused merge wrote %d times, first %s %s", len(w), w[0].Method, w[0].Path)
	}
}
