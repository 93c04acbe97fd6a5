// Package sample generates small container images deterministically, for
// tests, the local demo and benchmarks: the same options always give the same
// bytes and so the same digests, which makes golden files and digest
// comparisons across runs possible.
package sample

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Options describe an image.
type Options struct {
	// Seed makes different images with otherwise equal options.
	Seed string
	// Layers and LayerSize (bytes of file content per layer); zero means
	// 2 layers of 1 KiB.
	Layers    int
	LayerSize int
	// Docker gives the image Docker v2 schema 2 media types, as docker
	// save and older builders write; the default is OCI, as buildx writes.
	Docker bool
	// Labels go into the config, as a Dockerfile's LABEL lines would.
	Labels map[string]string
	// Platform defaults to linux/amd64.
	OS, Architecture string
}

// epoch is the fixed time in every generated file and config.
var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Image builds the image opts describe.
func Image(opts Options) (v1.Image, error) {
	if opts.Layers == 0 {
		opts.Layers = 2
	}
	if opts.LayerSize == 0 {
		opts.LayerSize = 1024
	}
	manifestType, configType, layerType := types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer
	if opts.Docker {
		manifestType, configType, layerType = types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, manifestType), configType)
	for i := 0; i < opts.Layers; i++ {
		blob, err := layerBlob(fmt.Sprintf("%s/layer-%d", opts.Seed, i), opts.LayerSize)
		if err != nil {
			return nil, err
		}
		// A tarball layer, not a static one: it derives the DiffID from the
		// uncompressed bytes, as the config's rootfs must list it.
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(blob)), nil
		}, tarball.WithMediaType(layerType))
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     layer,
			MediaType: layerType,
			History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: fmt.Sprintf("COPY layer-%d /", i)},
		})
		if err != nil {
			return nil, fmt.Errorf("appending layer %d: %w", i, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if opts.OS != "" {
		cf.OS = opts.OS
	}
	if opts.Architecture != "" {
		cf.Architecture = opts.Architecture
	}
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Labels = opts.Labels
	cf.Config.Entrypoint = []string{"/bin/sample"}
	return mutate.ConfigFile(img, cf)
}

// WriteLayout writes img to a new OCI image layout at dir, named ref in
// index.json when ref is not empty (as buildx --output type=oci,name=… does).
func WriteLayout(dir string, img v1.Image, ref string) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating layout %s: %w", dir, err)
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{specs.AnnotationRefName: ref}))
	}
	if err := p.AppendImage(img, opts...); err != nil {
		return fmt.Errorf("writing image to %s: %w", dir, err)
	}
	return nil
}

// layerBlob is a gzipped tar holding one file of size pseudo-random bytes
// derived from seed: incompressible, like real binaries, yet reproducible.
func layerBlob(seed string, size int) ([]byte, error) {
	content := make([]byte, 0, size+sha256.Size)
	var counter [8]byte
	for i := uint64(0); len(content) < size; i++ {
		binary.BigEndian.PutUint64(counter[:], i)
		sum := sha256.Sum256(append([]byte(seed), counter[:]...))
		content = append(content, sum[:]...)
	}
	content = content[:size]

	var tarred bytes.Buffer
	tw := tar.NewWriter(&tarred)
	hdr := &tar.Header{Name: "data/" + fmt.Sprintf("%x", sha256.Sum256([]byte(seed)))[:12], Mode: 0o644, Size: int64(size), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var zipped bytes.Buffer
	zw, err := gzip.NewWriterLevel(&zipped, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarred.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return zipped.Bytes(), nil
}
