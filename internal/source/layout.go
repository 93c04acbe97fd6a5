package source

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An OCI layout (image-spec, image-layout.md) read through openInLayout:
// go-containerregistry's layout package opens its files with os.Open,
// which follows links and blocks on a named pipe. What it returns is the
// same: an index over index.json whose children are read on demand, and
// images whose blobs are the files under blobs/.

// layoutIndex is index.json, or an index blob, of the layout dir.
type layoutIndex struct {
	dir string
	mt  types.MediaType
	raw []byte
}

// readLayoutIndex reads the layout's index.json.
func readLayoutIndex(dir string) (*layoutIndex, error) {
	raw, err := readDocument(dir, "index.json", "index.json")
	if err != nil {
		return nil, err
	}
	return &layoutIndex{dir: dir, mt: types.OCIImageIndex, raw: raw}, nil
}

func (i *layoutIndex) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *layoutIndex) Digest() (v1.Hash, error)            { return partial.Digest(i) }
func (i *layoutIndex) Size() (int64, error)                { return partial.Size(i) }
func (i *layoutIndex) RawManifest() ([]byte, error)        { return i.raw, nil }

func (i *layoutIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(i.raw))
}

// child finds h among the index's entries, of one of the media types mts.
func (i *layoutIndex) child(h v1.Hash, mts ...types.MediaType) (v1.Descriptor, error) {
	im, err := i.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		if d.Digest != h {
			continue
		}
		for _, mt := range mts {
			if d.MediaType == mt {
				return d, nil
			}
		}
		return v1.Descriptor{}, fmt.Errorf("unexpected media type for %v: %s", h, d.MediaType)
	}
	return v1.Descriptor{}, fmt.Errorf("could not find descriptor in index: %s", h)
}

func (i *layoutIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := i.child(h, types.OCIManifestSchema1, types.DockerManifestSchema2)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&layoutImage{dir: i.dir, desc: d})
}

func (i *layoutIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := i.child(h, types.OCIImageIndex, types.DockerManifestList)
	if err != nil {
		return nil, err
	}
	raw, err := readDocument(i.dir, blobPath(h), "index "+h.String())
	if err != nil {
		return nil, err
	}
	return &layoutIndex{dir: i.dir, mt: d.MediaType, raw: raw}, nil
}

// layoutImage is an image of the layout, its manifest read once.
type layoutImage struct {
	dir  string
	desc v1.Descriptor
	once sync.Once
	raw  []byte
	err  error
}

var _ partial.CompressedImageCore = (*layoutImage)(nil)

func (li *layoutImage) MediaType() (types.MediaType, error) { return li.desc.MediaType, nil }

func (li *layoutImage) RawManifest() ([]byte, error) {
	li.once.Do(func() {
		li.raw, li.err = readDocument(li.dir, blobPath(li.desc.Digest), "manifest "+li.desc.Digest.String())
	})
	return li.raw, li.err
}

func (li *layoutImage) manifest() (*v1.Manifest, error) {
	raw, err := li.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(raw))
}

func (li *layoutImage) RawConfigFile() ([]byte, error) {
	m, err := li.manifest()
	if err != nil {
		return nil, err
	}
	return readDocument(li.dir, blobPath(m.Config.Digest), "config "+m.Config.Digest.String())
}

func (li *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := li.manifest()
	if err != nil {
		return nil, err
	}
	if h == m.Config.Digest {
		return &layoutLayer{dir: li.dir, desc: m.Config, what: "config"}, nil
	}
	for _, d := range m.Layers {
		if d.Digest == h {
			return &layoutLayer{dir: li.dir, desc: d, what: "layer"}, nil
		}
	}
	return nil, fmt.Errorf("could not find layer in image: %s", h)
}

// layoutLayer is a blob of the layout, described by its manifest.
type layoutLayer struct {
	dir  string
	desc v1.Descriptor
	what string
}

func (b *layoutLayer) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *layoutLayer) Size() (int64, error)                { return b.desc.Size, nil }
func (b *layoutLayer) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

func (b *layoutLayer) Compressed() (io.ReadCloser, error) { return b.open() }

func (b *layoutLayer) open() (*os.File, error) {
	return openInLayout(b.dir, blobPath(b.desc.Digest), fmt.Sprintf("%s %s", b.what, b.desc.Digest))
}
