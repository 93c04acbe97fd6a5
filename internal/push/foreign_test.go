package push

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // the "inmemory" storage
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sirupsen/logrus"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/testkit/need"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// TestAllForeignLayerFromDockerArchive: a docker save archive whose layer
// is foreign (LayerSources gives it a gzip digest and urls; the archive
// holds the plain tar, as docker save writes it) is published with the
// layer's descriptor as the archive gives it, the layer not uploaded; and
// a client reading the image back (go-containerregistry's remote, crane's
// code) fetches the blob from its urls and finds the digest it names.
func TestAllForeignLayerFromDockerArchive(t *testing.T) {
	t.Parallel()
	plainTar, gz := foreignLayer(t)
	var fetched atomic.Int64
	blobs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Write(gz)
	}))
	t.Cleanup(blobs.Close)
	digest, size, err := v1.SHA256(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	diffID, _, _ := v1.SHA256(bytes.NewReader(plainTar))
	want := v1.Descriptor{MediaType: types.DockerForeignLayer, Size: size, Digest: digest, URLs: []string{blobs.URL + "/foreign.tar.gz"}}
	archive := dockerArchiveWithForeign(t, plainTar, diffID, want)

	l, err := source.Load(t.Context(), &inputs.Source{Transport: inputs.DockerArchive, Path: archive}, source.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	t.Cleanup(func() { l.Close() })
	host := registryAllowingURLs(t)
	repo, _ := name.NewRepository(host + "/acme/foreign")
	res, err := All(t.Context(), l.Image, repo, []name.Tag{repo.Tag("1")}, Options{Sessions: registrytest.NewSessions(registrytest.SessionOptions{})})
	if err != nil {
		t.Fatalf("All() = %v", err)
	}
	got, err := remote.Image(res.Ref)
	if err != nil {
		t.Fatal(err)
	}
	m, err := got.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]v1.Descriptor{want}, m.Layers); diff != "" {
		t.Errorf("published layers mismatch (-archive's LayerSources +published):\n%s", diff)
	}
	// regctl copies the image, the foreign layer fetched from its urls
	// and checked against the digest the manifest names, into a layout.
	regctl := need.Tool(t, "regctl")
	out := filepath.Join(t.TempDir(), "copy")
	cmd := exec.CommandContext(t.Context(), regctl, "--host", "reg="+host+",tls=disabled",
		"image", "copy", "--include-external", res.Ref.String(), "ocidir://"+out+":1")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("regctl image copy: %v\n%s", err, b)
	}
	copied, err := os.ReadFile(filepath.Join(out, "blobs", digest.Algorithm, digest.Hex))
	if err != nil {
		t.Fatalf("regctl did not copy the foreign layer: %v", err)
	}
	if fetched.Load() == 0 || !bytes.Equal(copied, gz) {
		t.Errorf("regctl copied %d bytes after %d fetches from the urls, want the blob (%d bytes) from them", len(copied), fetched.Load(), len(gz))
	}
}

// foreignLayer is a one-file layer, as a plain tar and gzipped.
func foreignLayer(t *testing.T) (plainTar, gz []byte) {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	content := []byte("licensed bits\n")
	mustDo(t, tw.WriteHeader(&tar.Header{Name: "licensed.txt", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}))
	_, err := tw.Write(content)
	mustDo(t, err)
	mustDo(t, tw.Close())
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, err = zw.Write(tb.Bytes())
	mustDo(t, err)
	mustDo(t, zw.Close())
	return tb.Bytes(), zb.Bytes()
}

// dockerArchiveWithForeign writes a docker save archive of one image whose
// only layer is src, its plain tar in the archive as docker save writes a
// foreign layer's.
func dockerArchiveWithForeign(t *testing.T, plainTar []byte, diffID v1.Hash, src v1.Descriptor) string {
	t.Helper()
	cfg, err := json.Marshal(v1.ConfigFile{Architecture: "amd64", OS: "windows", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}}})
	mustDo(t, err)
	cfgDigest, _, _ := v1.SHA256(bytes.NewReader(cfg))
	layerName := diffID.Hex + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config": cfgDigest.Hex + ".json", "RepoTags": []string{"acme/foreign:1"}, "Layers": []string{layerName},
		"LayerSources": map[string]v1.Descriptor{diffID.String(): src},
	}})
	mustDo(t, err)
	path := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(path)
	mustDo(t, err)
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, m := range []struct {
		name string
		b    []byte
	}{{cfgDigest.Hex + ".json", cfg}, {layerName, plainTar}, {"manifest.json", manifest}} {
		mustDo(t, tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(m.b)
		mustDo(t, err)
	}
	mustDo(t, tw.Close())
	return path
}

// registryAllowingURLs runs the distribution registry, anonymous, with
// its validation allowing layers that list http(s) urls (its default
// allows none; ghcr.io accepts them).
func registryAllowingURLs(t *testing.T) string {
	t.Helper()
	cfg := &configuration.Configuration{Version: "0.1"}
	cfg.HTTP.Secret = "foreign-layer-test"
	cfg.Storage = configuration.Storage{
		"inmemory":    configuration.Parameters{},
		"maintenance": configuration.Parameters{"uploadpurging": map[interface{}]interface{}{"enabled": false}},
	}
	cfg.Validation.Manifests.URLs.Allow = []string{"^https?://"}
	// distribution logs through logrus's standard logger; registrytest
	// quiets it the same way.
	logrus.SetLevel(logrus.FatalLevel)
	app := handlers.NewApp(t.Context(), cfg)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
