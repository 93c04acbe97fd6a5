package source

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"github.com/ghcr-publish/publish-action/internal/bytecount"
)

// compression is what a layer blob's bytes are, told by their magic number,
// never by the media type or file name an export gives them: the containerd
// image store exports blobs as stored (gzip, zstd or plain tar, mixed within
// one image), and docker save's manifest.json says nothing about it.
type compression int

const (
	plain compression = iota
	gzipped
	zstded
)

func (c compression) String() string {
	return [...]string{"uncompressed", "gzip", "zstd"}[c]
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func sniff(r io.Reader) (compression, error) {
	head := make([]byte, 4)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return plain, err
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return gzipped, nil
	case bytes.HasPrefix(head, zstdMagic):
		return zstded, nil
	}
	return plain, nil
}

// layerMediaType is the media type that says what the bytes are, in the
// family of the manifest that lists them (Docker or OCI), keeping a layer's
// non-distributable kind. Docker's schema has no zstd layer: oci reports
// whether the manifest must become OCI to describe the layer.
func layerMediaType(declared types.MediaType, c compression, manifest types.MediaType) (mt types.MediaType, oci bool) {
	foreign := declared == types.DockerForeignLayer || declared == types.OCIRestrictedLayer || declared == types.OCIUncompressedRestrictedLayer ||
		declared == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
	docker := manifest == types.DockerManifestSchema2
	switch {
	case c == zstded && foreign:
		return "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", docker
	case c == zstded:
		return types.OCILayerZStd, docker
	case foreign && docker:
		return types.DockerForeignLayer, false
	case foreign:
		return types.OCIRestrictedLayer, false
	case docker:
		return types.DockerLayer, false
	}
	return types.OCILayer, false
}

// checkLayer reads a compressed blob once and returns its digest and size,
// checking its decompressed content against the diff ID its config lists,
// so a layer read from an export is known good before any byte is pushed.
func checkLayer(r io.Reader, c compression, diffID v1.Hash) (v1.Hash, int64, error) {
	blob := sha256.New()
	counted := &bytecount.Writer{W: blob}
	tee := io.TeeReader(r, counted)
	var dr io.Reader
	switch c {
	case gzipped:
		zr, err := gzip.NewReader(bufio.NewReader(tee))
		if err != nil {
			return v1.Hash{}, 0, fmt.Errorf("decompressing: %w", err)
		}
		defer zr.Close()
		dr = zr
	case zstded:
		zr, err := zstd.NewReader(tee, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return v1.Hash{}, 0, fmt.Errorf("decompressing: %w", err)
		}
		defer zr.Close()
		dr = zr
	default:
		dr = tee
	}
	content := sha256.New()
	if _, err := io.Copy(content, dr); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("decompressing %s: %w", c, err)
	}
	// Bytes after the compressed stream still belong to the blob.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return v1.Hash{}, 0, err
	}
	if got := "sha256:" + hex.EncodeToString(content.Sum(nil)); got != diffID.String() {
		return v1.Hash{}, 0, fmt.Errorf("its %s content hashes to %s, but the config lists %s; the export is corrupt", c, got, diffID)
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blob.Sum(nil))}, counted.N, nil
}

// gzipLayer writes r gzip-compressed to path, once, on every core
// (klauspost/pgzip), hashing the compressed bytes for the digest and the
// plain ones to check them against diffID. go-containerregistry would
// compress a plain layer twice (once for the digest, once to upload) on one
// core. Memory stays bounded whatever the layer's size.
func gzipLayer(r io.Reader, diffID v1.Hash, path string) (v1.Hash, int64, error) {
	out, err := os.Create(path)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer out.Close()
	compressed, uncompressed := sha256.New(), sha256.New()
	counter := &bytecount.Writer{W: io.MultiWriter(out, compressed)}
	zw, err := pgzip.NewWriterLevel(counter, pgzip.DefaultCompression)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	// 1 MiB blocks, two per core in flight: memory is bounded by that,
	// not by the layer.
	if err := zw.SetConcurrency(1<<20, 2*runtime.GOMAXPROCS(0)); err != nil {
		return v1.Hash{}, 0, err
	}
	if _, err := io.Copy(zw, io.TeeReader(r, uncompressed)); err != nil {
		return v1.Hash{}, 0, err
	}
	if err := zw.Close(); err != nil {
		return v1.Hash{}, 0, err
	}
	if err := out.Close(); err != nil {
		return v1.Hash{}, 0, err
	}
	if got := "sha256:" + hex.EncodeToString(uncompressed.Sum(nil)); got != diffID.String() {
		return v1.Hash{}, 0, fmt.Errorf("its content hashes to %s, but the config lists %s; the export is corrupt", got, diffID)
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(compressed.Sum(nil))}, counter.N, nil
}
