package stamp

// FuzzStamp feeds arbitrary configs, manifests and indexes through stamping,
// as a hostile layout or registry could hand them over: stamping must
// return an image or an error, never panic, and never recurse without bound.
// .ci/fuzz runs it for a fixed time; crashers go to testdata/fuzz/ and stay
// there as regression cases.

import (
	"bytes"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ghcr-publish/publish-action/internal/source"
)

// fuzzCore is an image made of exactly the bytes given.
type fuzzCore struct {
	mediaType        types.MediaType
	manifest, config []byte
}

func (c *fuzzCore) MediaType() (types.MediaType, error) { return c.mediaType, nil }
func (c *fuzzCore) RawManifest() ([]byte, error)        { return c.manifest, nil }
func (c *fuzzCore) RawConfigFile() ([]byte, error)      { return c.config, nil }
func (c *fuzzCore) LayerByDigest(v1.Hash) (partial.CompressedLayer, error) {
	return nil, errors.New("no layers in a fuzzed image")
}

// fuzzIndex is an index made of exactly the bytes given; every image it
// lists is img, every index it lists is itself again.
type fuzzIndex struct {
	raw []byte
	img v1.Image
}

func (i *fuzzIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }
func (i *fuzzIndex) Size() (int64, error)                { return int64(len(i.raw)), nil }
func (i *fuzzIndex) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *fuzzIndex) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(i.raw))
	return h, err
}
func (i *fuzzIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(i.raw))
}
func (i *fuzzIndex) Image(v1.Hash) (v1.Image, error)           { return i.img, nil }
func (i *fuzzIndex) ImageIndex(v1.Hash) (v1.ImageIndex, error) { return i, nil }

func FuzzStamp(f *testing.F) {
	config := []byte(`{"architecture":"amd64","os":"linux","config":{"Labels":{"a":"b"}},"rootfs":{"type":"layers","diff_ids":[]}}`)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}`)
	index := []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"platform":{"os":"linux","architecture":"arm64"}},{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1}]}`)
	f.Add(config, manifest, index, false)
	f.Add([]byte("null"), manifest, index, true)
	f.Add(config, []byte("null"), []byte("null"), false)
	f.Add([]byte(`{"config":null}`), []byte(`{"config":null,"layers":[null]}`), []byte(`{"manifests":[null]}`), true)
	f.Add([]byte(`{"config":{"Labels":null}}`), []byte(`{"annotations":null,"config":{}}`), []byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"vnd.docker.reference.type":"attestation-manifest"}}]}`), false)
	f.Fuzz(func(t *testing.T, config, manifest, index []byte, docker bool) {
		mt := types.OCIManifestSchema1
		if docker {
			mt = types.DockerManifestSchema2
		}
		img, err := partial.CompressedToImage(&fuzzCore{mediaType: mt, manifest: manifest, config: config})
		if err != nil {
			return
		}
		if out, _, err := Image(img, derived); err == nil {
			// What stamping returns must itself read back.
			if _, err := out.RawManifest(); err != nil {
				t.Errorf("stamped image has no manifest: %v", err)
			}
		}
		for _, policy := range []AttestationPolicy{RepointAttestations, DropAttestations} {
			Index([]*source.Loaded{{Line: "fuzz", Index: &fuzzIndex{raw: index, img: img}}}, derived, policy)
		}
		Index([]*source.Loaded{{Line: "a", Image: img}, {Line: "b", Image: img}}, derived, RepointAttestations)
	})
}
