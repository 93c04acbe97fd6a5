package stamp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// loadIndex writes ix to a layout and reads it back as a source would.
func loadIndex(t *testing.T, ix *sample.Index, line string) *source.Loaded {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	if err := ix.WriteLayout(dir, ""); err != nil {
		t.Fatal(err)
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	ii, err := top.ImageIndex(ix.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return &source.Loaded{Line: line, Index: ii}
}

func buildx(t *testing.T, opts sample.IndexOptions) *sample.Index {
	t.Helper()
	ix, err := sample.NewIndex(opts)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// rawIndex is an index manifest with its descriptors as plain JSON objects,
// to check fields go-containerregistry's structs would hide.
type rawIndex struct {
	MediaType   string            `json:"mediaType"`
	Manifests   []map[string]any  `json:"manifests"`
	Annotations map[string]string `json:"annotations"`
}

func parseRaw(t *testing.T, idx v1.ImageIndex) rawIndex {
	t.Helper()
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	var r rawIndex
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func TestIndexPolicies(t *testing.T) {
	t.Parallel()
	for _, policy := range []AttestationPolicy{PreserveAttested, RepointAttestations, DropAttestations} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			ix := buildx(t, sample.IndexOptions{Seed: "p", Attestations: true, Annotations: map[string]string{"com.example.build": "ci"}})
			src := loadIndex(t, ix, "oci:out")
			idx, res, err := Index([]*source.Loaded{src}, derived, policy)
			if err != nil {
				t.Fatalf("Index() = %v", err)
			}
			if err := checkIndex(idx); err != nil {
				t.Errorf("stamped index is inconsistent: %v", err)
			}
			got := parseRaw(t, idx)
			orig := parseRaw(t, src.Index)

			// The index's own annotations survive, and gain the metadata.
			wantAnn := map[string]string{"com.example.build": "ci"}
			for _, e := range derived.Labels {
				wantAnn[e.Key] = e.Value
			}
			if diff := cmp.Diff(wantAnn, got.Annotations); diff != "" {
				t.Errorf("index annotations mismatch (-want +got):\n%s", diff)
			}
			if got.MediaType != string(types.OCIImageIndex) {
				t.Errorf("media type = %s", got.MediaType)
			}

			wantLen := 4
			if policy == DropAttestations {
				wantLen = 2
			}
			if len(got.Manifests) != wantLen {
				t.Fatalf("index lists %d manifests, want %d", len(got.Manifests), wantLen)
			}
			// Order, platforms and descriptor annotations are kept; no
			// artifactType appears.
			for i, d := range got.Manifests {
				if diff := cmp.Diff(orig.Manifests[i]["platform"], d["platform"]); diff != "" {
					t.Errorf("manifest %d platform changed (-orig +got):\n%s", i, diff)
				}
				if _, ok := d["artifactType"]; ok {
					t.Errorf("manifest %d gained an artifactType", i)
				}
			}
			inIndex := map[string]bool{}
			for _, d := range got.Manifests {
				inIndex[d["digest"].(string)] = true
			}
			for i, img := range ix.Images {
				was := digestOf(t, img)
				now := got.Manifests[i]["digest"].(string)
				child, err := idx.Image(v1.Hash{Algorithm: "sha256", Hex: strings.TrimPrefix(now, "sha256:")})
				if err != nil {
					t.Fatalf("Image(%s) = %v", now, err)
				}
				cf, _ := child.ConfigFile()
				switch policy {
				case PreserveAttested:
					if now != was {
						t.Errorf("image %d with attestations changed: %s -> %s", i, was, now)
					}
				default:
					if now == was || cf.Config.Labels[specs.AnnotationSource] == "" {
						t.Errorf("image %d was not stamped (digest %s, labels %v)", i, now, cf.Config.Labels)
					}
				}
			}
			// Every attestation points at a manifest in the index.
			for i, d := range got.Manifests[len(ix.Images):] {
				ann := d["annotations"].(map[string]any)
				ref := ann["vnd.docker.reference.digest"].(string)
				if !inIndex[ref] {
					t.Errorf("attestation %d refers to %s, which is not in the index", i, ref)
				}
				if ann["vnd.docker.reference.type"] != "attestation-manifest" {
					t.Errorf("attestation %d lost its type annotation: %v", i, ann)
				}
				if d["digest"] != digestOf(t, ix.Attestations[i]) {
					t.Errorf("attestation %d manifest changed", i)
				}
			}

			var fates []Fate
			for _, e := range res.Entries {
				fates = append(fates, e.Fate)
			}
			want := map[AttestationPolicy][]Fate{
				PreserveAttested:    {Preserved, Preserved, Kept, Kept},
				RepointAttestations: {Stamped, Stamped, Repointed, Repointed},
				DropAttestations:    {Stamped, Stamped, Dropped, Dropped},
			}[policy]
			if diff := cmp.Diff(want, fates); diff != "" {
				t.Errorf("fates mismatch (-want +got):\n%s", diff)
			}
			if res.Entries[0].Platform != "linux/amd64" || res.Entries[2].Platform != "linux/amd64" || !res.Entries[2].Attestation {
				t.Errorf("entries = %+v, want platforms named, attestations marked", res.Entries)
			}

			// Stamping the result again changes nothing.
			again, res2, err := Index([]*source.Loaded{{Line: "again", Index: idx}}, derived, policy)
			if err != nil {
				t.Fatalf("second Index() = %v", err)
			}
			if digestOf(t, again) != digestOf(t, idx) || res2.Changed {
				t.Errorf("stamping twice changed the digest (%s -> %s, Changed %v)", digestOf(t, idx), digestOf(t, again), res2.Changed)
			}
		})
	}
}

func TestIndexDockerManifestList(t *testing.T) {
	t.Parallel()
	ix := buildx(t, sample.IndexOptions{Seed: "d", Docker: true})
	idx, res, err := Index([]*source.Loaded{loadIndex(t, ix, "oci:out")}, derived, PreserveAttested)
	if err != nil {
		t.Fatalf("Index() = %v", err)
	}
	if !res.ConvertedToOCI {
		t.Error("ConvertedToOCI = false for a Docker manifest list given annotations")
	}
	got := parseRaw(t, idx)
	if got.MediaType != string(types.OCIImageIndex) || got.Annotations[specs.AnnotationSource] == "" {
		t.Errorf("index = %s with annotations %v, want an annotated OCI index", got.MediaType, got.Annotations)
	}
	for i, d := range got.Manifests {
		if d["mediaType"] != string(types.OCIManifestSchema1) {
			t.Errorf("child %d media type = %v, want OCI (it gained annotations)", i, d["mediaType"])
		}
	}
	if err := checkIndex(idx); err != nil {
		t.Errorf("stamped index is inconsistent: %v", err)
	}
}

func TestIndexFlattensNested(t *testing.T) {
	t.Parallel()
	inner := buildx(t, sample.IndexOptions{Seed: "inner", Attestations: true})
	extra, err := sample.Image(sample.Options{Seed: "s390x", Architecture: "s390x"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := inner.WriteTo(p); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteImage(extra); err != nil {
		t.Fatal(err)
	}
	extraDesc, _ := describeForTest(extra, &v1.Platform{OS: "linux", Architecture: "s390x"})
	outer, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIImageIndex,
		"manifests": []v1.Descriptor{
			{MediaType: types.OCIImageIndex, Digest: inner.Digest, Size: int64(len(inner.Raw))},
			extraDesc,
		},
	})
	outerDigest, _, _ := v1.SHA256(strings.NewReader(string(outer)))
	if err := p.WriteBlob(outerDigest, readCloser(outer)); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendDescriptor(v1.Descriptor{MediaType: types.OCIImageIndex, Digest: outerDigest, Size: int64(len(outer))}); err != nil {
		t.Fatal(err)
	}
	top, _ := p.ImageIndex()
	ii, err := top.ImageIndex(outerDigest)
	if err != nil {
		t.Fatal(err)
	}
	idx, res, err := Index([]*source.Loaded{{Line: "oci:out", Index: ii}}, derived, PreserveAttested)
	if err != nil {
		t.Fatalf("Index() = %v", err)
	}
	var platforms []string
	for _, e := range res.Entries {
		if !e.Attestation {
			platforms = append(platforms, e.Platform)
		}
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64", "linux/s390x"}, platforms); diff != "" {
		t.Errorf("flattened platforms mismatch (-want +got):\n%s", diff)
	}
	m, _ := idx.IndexManifest()
	for _, d := range m.Manifests {
		if d.MediaType.IsIndex() {
			t.Errorf("the result still nests index %s", d.Digest)
		}
	}
	if err := checkIndex(idx); err != nil {
		t.Errorf("stamped index is inconsistent: %v", err)
	}
}

func TestIndexMerge(t *testing.T) {
	t.Parallel()
	amd, _ := sample.Image(sample.Options{Seed: "m", Architecture: "amd64"})
	arm, _ := sample.Image(sample.Options{Seed: "m", Architecture: "arm64"})
	armBuildx := buildx(t, sample.IndexOptions{Seed: "m2", Platforms: []v1.Platform{{OS: "linux", Architecture: "arm", Variant: "v7"}}, Attestations: true})
	sources := []*source.Loaded{
		{Line: "ghcr.io/acme/widget@sha256:aaa", Image: amd},
		{Line: "ghcr.io/acme/widget@sha256:bbb", Image: arm},
		loadIndex(t, armBuildx, "oci:armv7"),
	}
	idx, res, err := Index(sources, derived, PreserveAttested)
	if err != nil {
		t.Fatalf("Index() = %v", err)
	}
	var got []string
	for _, e := range res.Entries {
		got = append(got, e.Platform+" "+e.Source+" "+string(e.Fate))
	}
	want := []string{
		"linux/amd64 ghcr.io/acme/widget@sha256:aaa stamped",
		"linux/arm64 ghcr.io/acme/widget@sha256:bbb stamped",
		"linux/arm/v7 oci:armv7 preserved",
		"linux/arm/v7 oci:armv7 kept",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries mismatch (-want +got):\n%s", diff)
	}
	m, _ := idx.IndexManifest()
	if m.Manifests[1].Platform == nil || m.Manifests[1].Platform.Architecture != "arm64" || m.Annotations[specs.AnnotationLicenses] != "MIT" {
		t.Errorf("merged index = %+v, want platforms from configs and the metadata", m)
	}
	if err := checkIndex(idx); err != nil {
		t.Errorf("merged index is inconsistent: %v", err)
	}
	// Merging the same sources again gives the same digest.
	again, _, err := Index(sources, derived, PreserveAttested)
	if err != nil || digestOf(t, again) != digestOf(t, idx) {
		t.Errorf("merging twice: %v, digests %s and %s", err, digestOf(t, idx), digestOf(t, again))
	}

	// The same platform from two lines is an error naming both.
	_, _, err = Index([]*source.Loaded{sources[0], {Line: "other-amd64", Image: amd}}, derived, PreserveAttested)
	var dup *DuplicatePlatformError
	if !errors.As(err, &dup) || dup.Platform != "linux/amd64" || dup.FirstLine != "ghcr.io/acme/widget@sha256:aaa" || dup.Line != "other-amd64" {
		t.Errorf("duplicate platforms = %#v, want a *DuplicatePlatformError naming linux/amd64 and both lines", err)
	}
}

func TestCheckPlatforms(t *testing.T) {
	t.Parallel()
	entries := []Entry{{Platform: "linux/amd64"}, {Platform: "linux/arm64"}, {Platform: "linux/amd64", Attestation: true}}
	tests := []struct {
		want string
		err  string
	}{
		{"linux/amd64,linux/arm64", ""},
		{"linux/arm64,linux/amd64/v3", "lack linux/amd64/v3 and add linux/amd64"},
		{"linux/amd64,linux/arm64,linux/s390x", "lack linux/s390x"},
		{"linux/amd64", "also hold linux/arm64"},
		{"linux/amd64,linux/riscv64", "lack linux/riscv64 and add linux/arm64"},
		{"linux/amd64,linux/arm64/v8", ""},
	}
	for _, tt := range tests {
		want, err := inputs.ParsePlatforms(tt.want)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckPlatforms(entries, want)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("CheckPlatforms(%s) = %v, want nil", tt.want, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("CheckPlatforms(%s) = %v, want %q", tt.want, err, tt.err)
		}
	}
}

func describeForTest(img v1.Image, p *v1.Platform) (v1.Descriptor, error) {
	d, err := partial.Descriptor(img)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Platform: p}, nil
}

func readCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

// checkIndex checks that every descriptor of idx names a manifest it serves,
// with that digest and size, and validates every platform image fully.
// validate.Index cannot be used whole: it refuses BuildKit's attestation
// manifests, whose in-toto layers it does not count as layers.
func checkIndex(idx v1.ImageIndex) error {
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		raw, err := img.RawManifest()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h, size, _ := v1.SHA256(bytes.NewReader(raw))
		if h != d.Digest || size != d.Size {
			errs = append(errs, fmt.Errorf("descriptor %s (size %d) serves a manifest %s (size %d)", d.Digest, d.Size, h, size))
		}
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if err := validate.Image(img); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Digest, err))
		}
	}
	return errors.Join(errs...)
}
