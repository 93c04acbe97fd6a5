package stamp

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/ocijson"
	"github.com/ghcr-publish/publish-action/internal/plan"
)

// ociImage builds a small OCI image with the given labels and an unknown
// config field that stamping must keep.
func ociImage(t *testing.T, labels map[string]string) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	layer, err := random.Layer(64, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels = labels
	cf.Architecture, cf.OS = "amd64", "linux"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	// Add a field go-containerregistry's ConfigFile does not know, as
	// BuildKit does, by re-wrapping the raw config.
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["moby.buildkit.buildinfo.v1"] = "e30="
	raw, _ = json.Marshal(doc)
	return withRawConfig(t, img, raw)
}

// withRawConfig swaps img's config for raw through the same machinery
// stamping uses.
func withRawConfig(t *testing.T, img v1.Image, raw []byte) v1.Image {
	t.Helper()
	var m document
	rawManifest, _ := img.RawManifest()
	if err := json.Unmarshal(rawManifest, &m); err != nil {
		t.Fatal(err)
	}
	h, size, _ := v1.SHA256(bytes.NewReader(raw))
	var desc document
	_ = json.Unmarshal(m["config"], &desc)
	desc["digest"], desc["size"] = mustMarshal(h.String()), mustMarshal(size)
	m["config"] = mustMarshal(desc)
	mt, _ := img.MediaType()
	out, err := partial.CompressedToImage(&stamped{base: img, mediaType: mt, manifest: ocijson.Marshal(m, ocijson.ManifestOrder), config: raw, configDigest: h})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var derived = plan.Plan{Labels: []plan.Entry{
	{Key: specs.AnnotationDescription, Value: "From the API", Origin: plan.FromRepository},
	{Key: specs.AnnotationLicenses, Value: "MIT", Origin: plan.FromRepository},
	{Key: specs.AnnotationSource, Value: "https://github.com/Acme/Widget", Origin: plan.FromContext},
}}

func labelsOf(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.Config.Labels
}

func annotationsOf(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Annotations
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func TestImagePrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		existing        map[string]string
		plan            plan.Plan
		wantLabels      map[string]string
		wantAnnotations map[string]string
		wantOrigins     map[string]plan.Origin
	}{{
		name:     "derived values fill an image without labels",
		existing: nil,
		plan:     derived,
		wantLabels: map[string]string{
			specs.AnnotationDescription: "From the API",
			specs.AnnotationLicenses:    "MIT",
			specs.AnnotationSource:      "https://github.com/Acme/Widget",
		},
		wantOrigins: map[string]plan.Origin{specs.AnnotationDescription: plan.FromRepository, specs.AnnotationLicenses: plan.FromRepository, specs.AnnotationSource: plan.FromContext},
	}, {
		name:     "a Dockerfile LABEL beats a derived value",
		existing: map[string]string{specs.AnnotationDescription: "From the Dockerfile", "maintainer": "me"},
		plan:     derived,
		wantLabels: map[string]string{
			specs.AnnotationDescription: "From the Dockerfile",
			specs.AnnotationLicenses:    "MIT",
			specs.AnnotationSource:      "https://github.com/Acme/Widget",
			"maintainer":                "me",
		},
		wantOrigins: map[string]plan.Origin{specs.AnnotationDescription: plan.FromImage, specs.AnnotationLicenses: plan.FromRepository, specs.AnnotationSource: plan.FromContext},
	}, {
		name:     "an input beats a Dockerfile LABEL, and key= removes",
		existing: map[string]string{specs.AnnotationDescription: "From the Dockerfile", "maintainer": "me"},
		plan: plan.Plan{
			Labels:       []plan.Entry{{Key: specs.AnnotationDescription, Value: "From the input", Origin: plan.FromInput}},
			RemoveLabels: []string{"maintainer"},
			Annotations:  []plan.Entry{{Key: "extra", Value: "x", Origin: plan.FromInput}},
		},
		wantLabels:      map[string]string{specs.AnnotationDescription: "From the input"},
		wantAnnotations: map[string]string{specs.AnnotationDescription: "From the input", "extra": "x"},
		wantOrigins:     map[string]plan.Origin{specs.AnnotationDescription: plan.FromInput},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := ociImage(t, tt.existing)
			got, res, err := Image(src, tt.plan)
			if err != nil {
				t.Fatalf("Image() = %v", err)
			}
			if diff := cmp.Diff(tt.wantLabels, labelsOf(t, got)); diff != "" {
				t.Errorf("config labels mismatch (-want +got):\n%s", diff)
			}
			wantAnn := tt.wantAnnotations
			if wantAnn == nil {
				// The manifest carries the same keys as the labels stamped.
				wantAnn = map[string]string{}
				for k := range tt.wantOrigins {
					wantAnn[k] = tt.wantLabels[k]
				}
			}
			if diff := cmp.Diff(wantAnn, annotationsOf(t, got)); diff != "" {
				t.Errorf("manifest annotations mismatch (-want +got):\n%s", diff)
			}
			origins := map[string]plan.Origin{}
			for _, e := range res.Labels {
				origins[e.Key] = e.Origin
			}
			if diff := cmp.Diff(tt.wantOrigins, origins); diff != "" {
				t.Errorf("origins mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(layerDigests(t, src), layerDigests(t, got)); diff != "" {
				t.Errorf("layers changed (-want +got):\n%s", diff)
			}
			raw, _ := got.RawConfigFile()
			var doc map[string]any
			_ = json.Unmarshal(raw, &doc)
			if doc["moby.buildkit.buildinfo.v1"] != "e30=" {
				t.Errorf("config lost a field go-containerregistry does not know: %s", raw)
			}
			if err := validate.Image(got); err != nil {
				t.Errorf("stamped image is inconsistent: %v", err)
			}
		})
	}
}

func TestImageIsIdempotent(t *testing.T) {
	t.Parallel()
	once, res1, err := Image(ociImage(t, nil), derived)
	if err != nil {
		t.Fatal(err)
	}
	twice, res2, err := Image(once, derived)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := once.Digest()
	d2, _ := twice.Digest()
	if d1 != d2 {
		t.Errorf("stamping twice changed the digest: %s then %s", d1, d2)
	}
	if !res1.Changed || res2.Changed {
		t.Errorf("Changed = %v then %v, want true then false", res1.Changed, res2.Changed)
	}
	if diff := cmp.Diff(res1.Labels, res2.Labels); diff != "" {
		t.Errorf("second stamp reports other labels (-first +second):\n%s", diff)
	}
	if twice != once {
		t.Errorf("an image that carries the metadata already should come back as is")
	}
}

func TestImageConvertsDockerToOCI(t *testing.T) {
	t.Parallel()
	src, err := random.Image(64, 2)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := src.MediaType(); mt != types.DockerManifestSchema2 {
		t.Fatalf("fixture media type = %s, want Docker v2s2", mt)
	}
	got, res, err := Image(src, derived)
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	if !res.ConvertedToOCI {
		t.Error("ConvertedToOCI = false, want true")
	}
	m, err := got.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("media types = %s, %s; want OCI manifest and config", m.MediaType, m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %s media type = %s, want %s", l.Digest, l.MediaType, types.OCILayer)
		}
	}
	if diff := cmp.Diff(layerDigests(t, src), layerDigests(t, got)); diff != "" {
		t.Errorf("layer blobs changed (-want +got):\n%s", diff)
	}
	if mt, _ := got.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("MediaType() = %s, want OCI", mt)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("stamped image is inconsistent: %v", err)
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	p := derived
	p.Annotations = []plan.Entry{{Key: "a", Value: "b", Origin: plan.FromInput}}
	res := Preview(p)
	if diff := cmp.Diff(p.Labels, res.Labels); diff != "" {
		t.Errorf("labels mismatch (-want +got):\n%s", diff)
	}
	want := append([]plan.Entry{{Key: "a", Value: "b", Origin: plan.FromInput}}, p.Labels...)
	if diff := cmp.Diff(want, res.Annotations); diff != "" {
		t.Errorf("annotations mismatch (-want +got):\n%s", diff)
	}
}
