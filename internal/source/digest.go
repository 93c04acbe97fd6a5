package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Blobs read from files — OCI layouts, archives — are checked against their
// digests: go-containerregistry trusts a layout, and a corrupt or tampered
// one would otherwise be published under a fresh digest that hides it.
// Manifests and configs are checked when read; layers as they stream, so a
// mismatch stops the upload before any tag is written, without reading every
// layer twice.

// checkBytes fails unless b hashes to want.
func checkBytes(what string, b []byte, want v1.Hash) error {
	got, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s %s: its content hashes to %s; the layout is corrupt or was altered, rebuild it", what, want, got)
	}
	return nil
}

// verifiedImage is an image from files whose manifest and config were
// checked, and whose layers are checked as they are read.
type verifiedImage struct {
	v1.Image
	// dir is the layout the blobs are files in.
	dir string
}

// verifyImage checks img's manifest against digest and its config against
// the manifest, and wraps it so its layers are checked as they stream.
// dir is the layout's directory, whose layer blobs are checked to be
// regular files (see files.go) before any is read.
func verifyImage(img v1.Image, digest v1.Hash, dir string) (v1.Image, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	if err := checkBytes("manifest", raw, digest); err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if err := checkConfigSize(m); err != nil {
		return nil, err
	}
	if err := checkLayerFiles(dir, m); err != nil {
		return nil, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	if err := checkBytes("config", cfg, m.Config.Digest); err != nil {
		return nil, err
	}
	return &verifiedImage{Image: img, dir: dir}, nil
}

func (v *verifiedImage) Layers() ([]v1.Layer, error) {
	ls, err := v.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = &verifiedLayer{Layer: l, dir: v.dir}
	}
	return out, nil
}

func (v *verifiedImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := v.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return &verifiedLayer{Layer: l, dir: v.dir}, nil
}

func (v *verifiedImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	l, err := v.Image.LayerByDiffID(h)
	if err != nil {
		return nil, err
	}
	return &verifiedLayer{Layer: l, dir: v.dir}, nil
}

// verifiedIndex is an index from files whose children are checked as
// they are read.
type verifiedIndex struct {
	index
	dir string
}

// index is v1.ImageIndex under a name that does not clash with its
// ImageIndex method, so verifiedIndex can embed it and override that method.
type index = v1.ImageIndex

func verifyIndex(idx v1.ImageIndex, digest v1.Hash, dir string) (v1.ImageIndex, error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, err
	}
	if err := checkBytes("index", raw, digest); err != nil {
		return nil, err
	}
	return &verifiedIndex{index: idx, dir: dir}, nil
}

func (v *verifiedIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := v.index.Image(h)
	if err != nil {
		return nil, err
	}
	return verifyImage(img, h, v.dir)
}

func (v *verifiedIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	idx, err := v.index.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return verifyIndex(idx, h, v.dir)
}

// verifiedLayer checks its blob against its digest and size as it streams,
// and its uncompressed content against its diff ID.
type verifiedLayer struct {
	v1.Layer
	dir string
}

// OpenBlobFile opens the file that holds the layer's blob as it is, for
// an upload to hand to the kernel whole (sendfile) instead of streaming it
// through Compressed's hash: the registry checks what it receives against
// the digest (distribution spec: DIGEST_INVALID), and the upload maps a
// refusal to the same "corrupt or was altered" error. The file is opened
// as every file of a layout is (files.go); its size is for the uploader to
// check first.
func (l *verifiedLayer) OpenBlobFile() (*os.File, error) {
	digest, err := l.Digest()
	if err != nil {
		return nil, err
	}
	return openInLayout(l.dir, blobPath(digest), "layer "+digest.String())
}

// checkLayerFiles refuses, while the source loads, a layer blob of m that
// is in the layout dir but is not a regular file in it; an absent one is
// left to the upload (a foreign layer, or one the registry holds).
func checkLayerFiles(dir string, m *v1.Manifest) error {
	for _, d := range m.Layers {
		f, err := openInLayout(dir, blobPath(d.Digest), "layer "+d.Digest.String())
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}

func (l *verifiedLayer) Compressed() (io.ReadCloser, error) {
	digest, err := l.Digest()
	if err != nil {
		return nil, err
	}
	size, err := l.Size()
	if err != nil {
		return nil, err
	}
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return newVerifier(rc, "layer", digest, size), nil
}

func (l *verifiedLayer) Uncompressed() (io.ReadCloser, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	rc, err := l.Layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	return newVerifier(rc, "layer with diff ID", diffID, -1), nil
}

// verifier hashes what passes through it and, at the end of the stream,
// turns io.EOF into an error if the content is not what was promised.
type verifier struct {
	rc   io.ReadCloser
	what string
	want v1.Hash
	size int64 // -1: unknown
	h    hash.Hash
	n    int64
}

func newVerifier(rc io.ReadCloser, what string, want v1.Hash, size int64) io.ReadCloser {
	return &verifier{rc: rc, what: what, want: want, size: size, h: sha256.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size >= 0 && v.n > v.size {
		return n, fmt.Errorf("%s %s: more than the %d bytes its descriptor says; the layout is corrupt or was altered", v.what, v.want, v.size)
	}
	if errors.Is(err, io.EOF) {
		if v.want.Algorithm != "sha256" {
			return n, err
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex || (v.size >= 0 && v.n != v.size) {
			return n, fmt.Errorf("%s %s: its content hashes to sha256:%s (%d bytes); the layout is corrupt or was altered, rebuild it", v.what, v.want, got, v.n)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }

// checkConfigSize refuses a config larger than a document may be, by the
// size its manifest gives it, before it is read into memory.
func checkConfigSize(m *v1.Manifest) error {
	if m.Config.Size > MaxDocument {
		return fmt.Errorf("config %s is %d bytes, more than the %d a config may be", m.Config.Digest, m.Config.Size, MaxDocument)
	}
	return nil
}
