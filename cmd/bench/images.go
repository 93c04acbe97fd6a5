package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/bytecount"
)

// imageSpec describes a generated image. The same spec always gives the
// same bytes, so digests can be compared across runs and tools.
type imageSpec struct {
	Seed   string
	Layers int
	// LayerSize is the bytes of file content in each layer; the layer blob
	// is a little larger (tar headers, gzip framing).
	LayerSize int64
	// OS and Arch default to linux/amd64.
	OS, Arch string
	// Labels go into the config, as a Dockerfile's LABEL lines would.
	Labels map[string]string
}

// layout is a generated OCI image layout on disk.
type layout struct {
	Dir string
	// Digest is the image manifest's (or, for a layout of several
	// platforms, the index's), and Manifest its descriptor.
	Digest   v1.Hash
	Manifest v1.Descriptor
	// Layers are the layer blobs' descriptors, in order.
	Layers []v1.Descriptor
	Config v1.Descriptor
}

// blobPath is where a blob lives in the layout (OCI image layout spec).
func (l layout) blobPath(h v1.Hash) string {
	return filepath.Join(l.Dir, "blobs", h.Algorithm, h.Hex)
}

// bytes is the size of every blob in the image, manifest included.
func (l layout) bytes() int64 {
	n := l.Config.Size
	for _, d := range l.Layers {
		n += d.Size
	}
	return n
}

// epoch is the fixed time in every generated file and config.
var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// writeLayout generates spec as an OCI image layout in dir, named ref in
// index.json when ref is not empty. Layers stream to disk: a 1 GiB image
// never sits in memory. Their content is a ChaCha8 stream seeded from the
// spec, incompressible as real binaries are; they are gzip-framed without
// compression (deflate's stored blocks), which any client reads as usual
// and which costs no time to generate.
func writeLayout(dir string, spec imageSpec, ref string) (layout, error) {
	l := layout{Dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return l, err
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return l, err
	}
	cfg := v1.ConfigFile{
		Architecture: orDefault(spec.Arch, "amd64"),
		OS:           orDefault(spec.OS, "linux"),
		Created:      v1.Time{Time: epoch},
		Config:       v1.Config{Entrypoint: []string{"/bin/sample"}, Labels: spec.Labels},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	for i := 0; i < spec.Layers; i++ {
		d, diffID, err := writeLayer(l, fmt.Sprintf("%s/layer-%d", spec.Seed, i), spec.LayerSize)
		if err != nil {
			return l, fmt.Errorf("layer %d: %w", i, err)
		}
		l.Layers = append(l.Layers, d)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
		cfg.History = append(cfg.History, v1.History{Created: v1.Time{Time: epoch}, CreatedBy: fmt.Sprintf("COPY layer-%d /", i)})
	}
	var err error
	if l.Config, err = writeJSON(l, types.OCIConfigJSON, cfg); err != nil {
		return l, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: l.Config, Layers: l.Layers}
	md, err := writeJSON(l, types.OCIManifestSchema1, m)
	if err != nil {
		return l, err
	}
	l.Digest = md.Digest
	md.Platform = &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture}
	l.Manifest = md
	return l, writeIndexJSON(dir, md, ref)
}

// writeIndexJSON writes the layout's index.json naming one manifest, as
// ref when ref is not empty (OCI image layout spec).
func writeIndexJSON(dir string, d v1.Descriptor, ref string) error {
	if ref != "" {
		d.Annotations = map[string]string{specs.AnnotationRefName: ref}
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{d}}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644)
}

// writeIndexLayout generates one image per spec into one OCI layout and
// an image index of them, each child with its platform, named ref in
// index.json: what a multi-platform build leaves (docker buildx with
// --output type=oci). The layout's Layers are every image's.
func writeIndexLayout(dir string, specs []imageSpec, ref string) (layout, error) {
	l := layout{Dir: dir}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, spec := range specs {
		img, err := writeLayout(dir, spec, "")
		if err != nil {
			return l, fmt.Errorf("%s: %w", spec.Seed, err)
		}
		idx.Manifests = append(idx.Manifests, img.Manifest)
		l.Layers = append(l.Layers, img.Layers...)
	}
	d, err := writeJSON(l, types.OCIImageIndex, idx)
	if err != nil {
		return l, err
	}
	l.Digest, l.Manifest = d.Digest, d
	return l, writeIndexJSON(dir, d, ref)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// writeJSON stores v as a blob of media type mt.
func writeJSON(l layout, mt types.MediaType, v any) (v1.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return v1.Descriptor{}, err
	}
	sum := sha256.Sum256(b)
	d := v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)}}
	return d, os.WriteFile(l.blobPath(d.Digest), b, 0o644)
}

// writeLayer streams one layer, a tar holding one file of size bytes, into
// the layout, hashing the blob (its digest) and the tar (its diff ID) on
// the way.
func writeLayer(l layout, seed string, size int64) (v1.Descriptor, v1.Hash, error) {
	f, err := os.CreateTemp(filepath.Join(l.Dir, "blobs", "sha256"), ".layer-")
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()

	blobHash, diffHash := sha256.New(), sha256.New()
	blob := &bytecount.Writer{W: io.MultiWriter(f, blobHash)}
	zw, err := gzip.NewWriterLevel(blob, gzip.NoCompression)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	tw := tar.NewWriter(io.MultiWriter(zw, diffHash))
	name := fmt.Sprintf("data/%x", sha256.Sum256([]byte(seed)))[:17]
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if _, err := io.CopyN(tw, content(seed), size); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if err := tw.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if err := zw.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if err := f.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	d := v1.Descriptor{MediaType: types.OCILayer, Size: blob.N, Digest: sum(blobHash)}
	if err := os.Rename(f.Name(), l.blobPath(d.Digest)); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	return d, sum(diffHash), nil
}

// content is the pseudo-random, incompressible file content for seed.
func content(seed string) io.Reader {
	return rand.NewChaCha8(sha256.Sum256([]byte(seed)))
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
}
