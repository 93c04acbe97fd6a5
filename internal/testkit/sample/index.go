package sample

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// IndexOptions describe a multi-platform index shaped like BuildKit's
// output for docker buildx build --platform … --output type=oci.
type IndexOptions struct {
	Seed      string
	Platforms []v1.Platform // default linux/amd64 and linux/arm64
	// Attestations adds BuildKit's provenance attestation manifest for
	// each platform image.
	Attestations bool
	// Docker writes a Docker manifest list of Docker v2s2 images instead
	// (it cannot hold attestations).
	Docker bool
	// Annotations are the index's own, as --annotation index:k=v sets.
	Annotations map[string]string
	// Labels go into every image's config.
	Labels map[string]string
}

// Index is a generated index: its raw manifest and the manifests it lists.
type Index struct {
	Raw       []byte
	Digest    v1.Hash
	MediaType types.MediaType
	// Images are the platform images, in index order.
	Images []v1.Image
	// Attestations are the attestation manifests, Attestations[i]
	// describing Images[i].
	Attestations []v1.Image
}

// NewIndex builds the index opts describe.
func NewIndex(opts IndexOptions) (*Index, error) {
	if len(opts.Platforms) == 0 {
		opts.Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	}
	out := &Index{MediaType: types.OCIImageIndex}
	if opts.Docker {
		out.MediaType = types.DockerManifestList
	}
	var descs []v1.Descriptor
	for _, p := range opts.Platforms {
		img, err := Image(Options{Seed: opts.Seed + "/" + p.String(), Docker: opts.Docker, Labels: opts.Labels, OS: p.OS, Architecture: p.Architecture})
		if err != nil {
			return nil, err
		}
		if p.Variant != "" {
			if img, err = withVariant(img, p.Variant); err != nil {
				return nil, err
			}
		}
		d, err := describe(img)
		if err != nil {
			return nil, err
		}
		plat := p
		d.Platform = &plat
		out.Images = append(out.Images, img)
		descs = append(descs, d)
	}
	if opts.Attestations && !opts.Docker {
		for i, img := range out.Images {
			subject, _ := img.Digest()
			att, err := attestation(subject, opts.Platforms[i])
			if err != nil {
				return nil, err
			}
			d, err := describe(att)
			if err != nil {
				return nil, err
			}
			d.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
			d.Annotations = map[string]string{
				"vnd.docker.reference.digest": subject.String(),
				"vnd.docker.reference.type":   "attestation-manifest",
			}
			out.Attestations = append(out.Attestations, att)
			descs = append(descs, d)
		}
	}
	raw, err := json.Marshal(struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType"`
		Manifests     []v1.Descriptor   `json:"manifests"`
		Annotations   map[string]string `json:"annotations,omitempty"`
	}{2, out.MediaType, descs, opts.Annotations})
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	out.Digest, _, err = v1.SHA256(bytes.NewReader(raw))
	return out, err
}

// WriteLayout writes the index and everything it lists to a new OCI layout
// at dir, named ref in index.json when ref is not empty.
func (ix *Index) WriteLayout(dir, ref string) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating layout %s: %w", dir, err)
	}
	if err := ix.WriteTo(p); err != nil {
		return err
	}
	d := v1.Descriptor{MediaType: ix.MediaType, Digest: ix.Digest, Size: int64(len(ix.Raw))}
	if ref != "" {
		d.Annotations = map[string]string{specs.AnnotationRefName: ref}
	}
	return p.AppendDescriptor(d)
}

// WriteTo writes the index's blobs into layout p without listing it in
// index.json, so that another index can list it (a nested index).
func (ix *Index) WriteTo(p layout.Path) error {
	for _, img := range append(append([]v1.Image(nil), ix.Images...), ix.Attestations...) {
		if err := p.WriteImage(img); err != nil {
			return fmt.Errorf("writing image: %w", err)
		}
	}
	return p.WriteBlob(ix.Digest, io.NopCloser(bytes.NewReader(ix.Raw)))
}

// attestation is a BuildKit-style provenance attestation manifest: an image
// manifest whose one layer is an in-toto statement about subject.
func attestation(subject v1.Hash, p v1.Platform) (v1.Image, error) {
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": "https://slsa.dev/provenance/v0.2",
		"subject": []map[string]any{{
			"name":   "pkg:docker/widget@latest?platform=" + p.OS + "%2F" + p.Architecture,
			"digest": map[string]string{"sha256": subject.Hex},
		}},
		"predicate": map[string]any{"builder": map[string]string{"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1"},
	})
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:       static.NewLayer(statement, "application/vnd.in-toto+json"),
		MediaType:   "application/vnd.in-toto+json",
		Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "unknown", "unknown"
	return mutate.ConfigFile(img, cf)
}

func withVariant(img v1.Image, variant string) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Variant = variant
	return mutate.ConfigFile(img, cf)
}

func describe(img v1.Image) (v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := img.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size}, nil
}

// ImageIndex is the index as a go-containerregistry index, to write to a
// registry with remote.WriteIndex.
func (ix *Index) ImageIndex() (v1.ImageIndex, error) {
	m, err := v1.ParseIndexManifest(bytes.NewReader(ix.Raw))
	if err != nil {
		return nil, err
	}
	images := map[v1.Hash]v1.Image{}
	for _, img := range append(append([]v1.Image(nil), ix.Images...), ix.Attestations...) {
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		images[d] = img
	}
	return &memIndex{ix: ix, manifest: m, images: images}, nil
}

// memIndex serves a generated index from memory.
type memIndex struct {
	ix       *Index
	manifest *v1.IndexManifest
	images   map[v1.Hash]v1.Image
}

func (m *memIndex) MediaType() (types.MediaType, error) { return m.ix.MediaType, nil }
func (m *memIndex) Digest() (v1.Hash, error)            { return m.ix.Digest, nil }
func (m *memIndex) Size() (int64, error)                { return int64(len(m.ix.Raw)), nil }
func (m *memIndex) IndexManifest() (*v1.IndexManifest, error) {
	return m.manifest.DeepCopy(), nil
}
func (m *memIndex) RawManifest() ([]byte, error) { return m.ix.Raw, nil }
func (m *memIndex) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := m.images[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("sample: index %s has no image %s", m.ix.Digest, h)
}
func (m *memIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("sample: index %s has no nested index %s", m.ix.Digest, h)
}
