package sample

import (
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestImageIsDeterministic(t *testing.T) {
	t.Parallel()
	tests := []Options{
		{Seed: "a"},
		{Seed: "a", Docker: true},
		{Seed: "a", Layers: 3, LayerSize: 100_000, Labels: map[string]string{"k": "v"}, Architecture: "arm64"},
	}
	seen := map[string]bool{}
	for _, opts := range tests {
		first, err := Image(opts)
		if err != nil {
			t.Fatalf("Image(%+v) = %v", opts, err)
		}
		second, _ := Image(opts)
		d1, _ := first.Digest()
		d2, _ := second.Digest()
		if d1 != d2 {
			t.Errorf("Image(%+v) digests differ: %s, %s", opts, d1, d2)
		}
		if seen[d1.String()] {
			t.Errorf("Image(%+v) = %s, the same as other options", opts, d1)
		}
		seen[d1.String()] = true
		// Validate what a reader gets, after a round trip through a
		// layout: every digest, size and diff ID must hold.
		dir := filepath.Join(t.TempDir(), "layout")
		if err := WriteLayout(dir, first, ""); err != nil {
			t.Fatal(err)
		}
		p, _ := layout.FromPath(dir)
		read, err := p.Image(d1)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(read); err != nil {
			t.Errorf("Image(%+v) is invalid: %v", opts, err)
		}
		mt, _ := first.MediaType()
		if want := map[bool]types.MediaType{false: types.OCIManifestSchema1, true: types.DockerManifestSchema2}[opts.Docker]; mt != want {
			t.Errorf("Image(%+v) media type = %s, want %s", opts, mt, want)
		}
	}
}

func TestWriteLayout(t *testing.T) {
	t.Parallel()
	img, err := Image(Options{Seed: "layout"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteLayout(dir, img, "v1"); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := idx.IndexManifest()
	want, _ := img.Digest()
	if len(m.Manifests) != 1 || m.Manifests[0].Digest != want || m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1" {
		t.Errorf("index.json = %+v, want one entry %s named v1", m.Manifests, want)
	}
}
