package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"
)

// defaultDockerHost is where the runner mounts the host's Docker socket
// into a container action.
const defaultDockerHost = "unix:///var/run/docker.sock"

// engine is the little of the Docker Engine API this action needs: export
// an image as a docker save tarball (GET /images/{name}/get). It speaks
// plain HTTP over the socket rather than pulling in the Docker client
// library; the export endpoint is stable across every API version.
type engine struct {
	client *http.Client
	base   string // URL prefix of the API
	where  string // DOCKER_HOST as tried, for messages
}

func newEngine(dockerHost string) (*engine, error) {
	if dockerHost == "" {
		dockerHost = defaultDockerHost
	}
	u, err := url.Parse(dockerHost)
	if err != nil {
		return nil, fmt.Errorf("DOCKER_HOST %q is not a URL: %w", dockerHost, err)
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		return &engine{client: &http.Client{Transport: &http.Transport{DialContext: dial}}, base: "http://docker", where: dockerHost}, nil
	case "tcp", "http":
		return &engine{client: &http.Client{}, base: "http://" + u.Host, where: dockerHost}, nil
	}
	return nil, fmt.Errorf("DOCKER_HOST %q: only unix:// and tcp:// engines are supported", dockerHost)
}

// export streams the docker save tarball of image into w.
func (e *engine) export(ctx context.Context, image string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/images/"+url.PathEscape(image)+"/get", nil)
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the Docker engine at %s (%v); in a workflow the runner mounts its socket, elsewhere set DOCKER_HOST", e.where, rootCause(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("the Docker engine at %s has no image %q; build or pull it first (docker images lists what it has)", e.where, image)
	}
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Message string `json:"message"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = json.Unmarshal(raw, &body)
		return fmt.Errorf("the Docker engine at %s refused to export %q: %d %s", e.where, image, resp.StatusCode, body.Message)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("exporting %q from the Docker engine: %w", image, err)
	}
	return nil
}

func rootCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}

// fromDaemon exports image from the engine into dir and returns it with its
// layers gzip-compressed in parallel. The engine hands out uncompressed
// layers; go-containerregistry would compress each twice (once to learn the
// digest, once to upload) on one core. Here each layer is compressed once,
// by klauspost/pgzip across all cores, into a file beside the export, so
// memory stays bounded whatever the layer's size.
func fromDaemon(ctx context.Context, dockerHost, image, dir string) (v1.Image, error) {
	eng, err := newEngine(dockerHost)
	if err != nil {
		return nil, err
	}
	exported := filepath.Join(dir, "image.tar")
	f, err := os.Create(exported)
	if err != nil {
		return nil, err
	}
	if err := eng.export(ctx, image, f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	opener := func() (io.ReadCloser, error) { return os.Open(exported) }
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the engine's export of %q: %w", image, err)
	}
	return compressLayers(ctx, img, dir)
}

// compressLayers rebuilds img with each layer gzip-compressed into dir,
// checking each against the diff ID its config lists as it goes.
func compressLayers(ctx context.Context, img v1.Image, dir string) (v1.Image, error) {
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("the image lists %d layers and %d diff IDs", len(layers), len(cf.RootFS.DiffIDs))
	}
	core := &compressedImage{rawConfig: rawConfig, layers: map[v1.Hash]*fileLayer{}}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(rawConfig))},
	}
	if m.Config.Digest, _, err = v1.SHA256(bytes.NewReader(rawConfig)); err != nil {
		return nil, err
	}
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fl, err := compressLayer(l, cf.RootFS.DiffIDs[i], filepath.Join(dir, fmt.Sprintf("layer-%d.tar.gz", i)))
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		core.layers[fl.digest] = fl
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.DockerLayer, Size: fl.size, Digest: fl.digest})
	}
	if core.rawManifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(core)
}

// compressLayer writes l's content gzip-compressed to path, hashing the
// compressed bytes for the digest and the uncompressed ones to check them
// against diffID.
func compressLayer(l v1.Layer, diffID v1.Hash, path string) (*fileLayer, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	compressed, uncompressed := sha256.New(), sha256.New()
	counter := &countingWriter{w: io.MultiWriter(out, compressed)}
	zw, err := pgzip.NewWriterLevel(counter, pgzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	// 1 MiB blocks, two per core in flight: memory is bounded by that,
	// not by the layer.
	if err := zw.SetConcurrency(1<<20, 2*runtime.GOMAXPROCS(0)); err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, io.TeeReader(rc, uncompressed)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	if got := "sha256:" + hex.EncodeToString(uncompressed.Sum(nil)); got != diffID.String() {
		return nil, fmt.Errorf("its content hashes to %s, but the config lists %s; the export is corrupt", got, diffID)
	}
	return &fileLayer{path: path, size: counter.n, digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(compressed.Sum(nil))}}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// compressedImage is an exported image over its compressed layer files.
type compressedImage struct {
	rawConfig   []byte
	rawManifest []byte
	layers      map[v1.Hash]*fileLayer
}

func (c *compressedImage) MediaType() (types.MediaType, error) {
	return types.DockerManifestSchema2, nil
}
func (c *compressedImage) RawConfigFile() ([]byte, error) { return c.rawConfig, nil }
func (c *compressedImage) RawManifest() ([]byte, error)   { return c.rawManifest, nil }

func (c *compressedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := c.layers[h]; ok {
		return l, nil
	}
	if cfg, err := partial.ConfigLayer(c); err == nil {
		if d, err := cfg.Digest(); err == nil && d == h {
			return cfg, nil
		}
	}
	return nil, fmt.Errorf("no blob %s in the exported image", h)
}

// fileLayer is a compressed layer in a file.
type fileLayer struct {
	path   string
	size   int64
	digest v1.Hash
}

func (f *fileLayer) Digest() (v1.Hash, error)            { return f.digest, nil }
func (f *fileLayer) Size() (int64, error)                { return f.size, nil }
func (f *fileLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (f *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(f.path) }
