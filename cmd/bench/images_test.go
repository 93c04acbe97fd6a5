package main

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	ggcrlayout "github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// The 2-platform layout is a valid OCI layout naming one index of a
// linux/amd64 and a linux/arm64 image, and the same specs give the same
// digest every time.
func TestIndexLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := writeIndexLayout(filepath.Join(dir, "a"), multiSpecs(8<<10), layoutRef)
	if err != nil {
		t.Fatal(err)
	}
	again, err := writeIndexLayout(filepath.Join(dir, "b"), multiSpecs(8<<10), layoutRef)
	if err != nil {
		t.Fatal(err)
	}
	if l.Digest != again.Digest {
		t.Errorf("digest %s, then %s from the same specs", l.Digest, again.Digest)
	}
	p, err := ggcrlayout.FromPath(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	top, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != l.Digest || !top.Manifests[0].MediaType.IsIndex() || top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != layoutRef {
		t.Fatalf("index.json = %+v, want one index %s named %s", top.Manifests, l.Digest, layoutRef)
	}
	idx, err := root.ImageIndex(l.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("validate.Index: %v", err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range m.Manifests {
		platforms = append(platforms, d.Platform.String())
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, platforms); diff != "" {
		t.Errorf("platforms mismatch (-want +got):\n%s", diff)
	}
	if len(l.Layers) != 8 {
		t.Errorf("%d layers, want 4 per platform", len(l.Layers))
	}
}
