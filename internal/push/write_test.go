package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

func startRegistry(t *testing.T) (*registrytest.Registry, Options) {
	t.Helper()
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{"pw"}})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg, Options{Sessions: reg.Sessions("pw")}
}

// count tallies requests by kind.
type count struct {
	pings, tokens, blobHeads, mounts, uploadStarts, blobBytes, manifestHeads, manifestPuts, total int
}

func tally(reqs []registrytest.Request) count {
	var c count
	for _, r := range reqs {
		c.total++
		switch {
		case r.Path == "/v2/" || r.Path == "/v2":
			c.pings++
		case r.Path == "/token":
			c.tokens++
		case r.Method == "HEAD" && strings.Contains(r.Path, "/blobs/"):
			c.blobHeads++
		case r.Method == "POST" && strings.Contains(r.RawQuery, "mount="):
			c.mounts++
		case r.Method == "POST":
			c.uploadStarts++
		case (r.Method == "PATCH" || r.Method == "PUT") && strings.Contains(r.Path, "/blobs/uploads/"):
			c.blobBytes += int(r.BodyBytes)
		case r.Method == "HEAD" && strings.Contains(r.Path, "/manifests/"):
			c.manifestHeads++
		case r.Method == "PUT" && strings.Contains(r.Path, "/manifests/"):
			c.manifestPuts++
		}
	}
	return c
}

// An image read from another repository of the same registry, relabelled:
// every layer is mounted with one request, none checked first, none
// uploaded; only the new config moves. One ping, one token for it all.
func TestAllMountsLayersFromSiblingRepository(t *testing.T) {
	t.Parallel()
	reg, opts := startRegistry(t)
	ctx := context.Background()
	img, err := sample.Image(sample.Options{Seed: "mount", Layers: 4, LayerSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := name.NewRepository(reg.Host() + "/acme/base")
	if _, err := All(ctx, img, base, []name.Tag{base.Tag("1.0")}, opts); err != nil {
		t.Fatalf("All(base) = %v", err)
	}
	src, err := remote.Image(base.Tag("1.0"), remote.WithAuthFromKeychain(registrytest.Keychain("pw", reg.Host())))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := src.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels = map[string]string{"org.opencontainers.image.description": "relabelled"}
	relabelled, err := mutate.ConfigFile(src, cf)
	if err != nil {
		t.Fatal(err)
	}

	reg.ResetRequests()
	opts.Sessions = reg.Sessions("pw") // a publish of its own, as each run is
	dst, _ := name.NewRepository(reg.Host() + "/acme/relabelled")
	if _, err := All(ctx, relabelled, dst, []name.Tag{dst.Tag("1.0")}, opts); err != nil {
		t.Fatalf("All(relabelled) = %v", err)
	}
	rawCfg, _ := relabelled.RawConfigFile()
	got := tally(reg.Requests())
	want := count{
		pings: 1, tokens: 1,
		blobHeads: 1, // the new config's, beside its upload's start
		mounts:    4, uploadStarts: 1, blobBytes: len(rawCfg),
		manifestHeads: 2, // by digest and the tag, at once
		manifestPuts:  1, // the tag: it stores the manifest too
	}
	want.total = want.pings + want.tokens + want.blobHeads + want.mounts + want.uploadStarts + 1 /* the PUT that carries and commits the config */ + want.manifestHeads + want.manifestPuts
	if got != want {
		t.Errorf("requests = %+v, want %+v", got, want)
	}
	if _, err := remote.Image(dst.Tag("1.0"), remote.WithAuthFromKeychain(registrytest.Keychain("pw", reg.Host()))); err != nil {
		t.Errorf("reading the relabelled image back: %v", err)
	}
}

// An index of images read from the destination repository by digest: the
// registry has them, so only the index is written, once, by its tag.
func TestAllIndexOfImagesAlreadyThere(t *testing.T) {
	t.Parallel()
	reg, opts := startRegistry(t)
	ctx := context.Background()
	repo, _ := name.NewRepository(reg.Host() + "/acme/multi")
	var children []v1.Image
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := sample.Image(sample.Options{Seed: "index", Architecture: arch})
		if err != nil {
			t.Fatal(err)
		}
		res, err := All(ctx, img, repo, nil, opts)
		if err != nil {
			t.Fatalf("All(%s) = %v", arch, err)
		}
		child, err := remote.Image(res.Ref, remote.WithAuthFromKeychain(registrytest.Keychain("pw", reg.Host())))
		if err != nil {
			t.Fatal(err)
		}
		children = append(children, child)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: children[0], Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: children[1], Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})

	reg.ResetRequests()
	opts.Sessions = reg.Sessions("pw") // a publish of its own, as each run is
	if _, err := All(ctx, idx, repo, []name.Tag{repo.Tag("1.0")}, opts); err != nil {
		t.Fatalf("All(index) = %v", err)
	}
	got := tally(reg.Requests())
	// A HEAD of the index by digest and of its tag, at once; then the
	// index, by its tag.
	want := count{pings: 1, tokens: 1, manifestHeads: 2, manifestPuts: 1, total: 5}
	if got != want {
		t.Errorf("requests = %+v, want %+v", got, want)
	}
	if _, err := remote.Index(repo.Tag("1.0"), remote.WithAuthFromKeychain(registrytest.Keychain("pw", reg.Host()))); err != nil {
		t.Errorf("reading the index back: %v", err)
	}
}

// With progress logging on, every write (tags included) sends updates:
// the channel must outlive them all (closing it earlier panics).
func TestAllWithProgressLogging(t *testing.T) {
	t.Parallel()
	reg, opts := startRegistry(t)
	opts.Logf = func(string, ...any) {}
	opts.progressFrom = 1 // report even this small upload
	img, err := sample.Image(sample.Options{Seed: "progress", Layers: 3})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Host() + "/acme/progress")
	tags := []name.Tag{repo.Tag("1"), repo.Tag("1.0"), repo.Tag("latest")}
	for range 2 {
		if _, err := All(context.Background(), img, repo, tags, opts); err != nil {
			t.Fatalf("All() = %v", err)
		}
	}
}

// Non-distributable layers (Windows base layers, some vendors'): one
// without urls is uploaded like any other, since nobody could fetch it
// otherwise; one with urls is not, and the distribution registry's refusal
// of foreign URLs (its default) names the layer and the URLs.
func TestAllNonDistributableLayers(t *testing.T) {
	t.Parallel()
	reg, opts := startRegistry(t)
	ctx := context.Background()
	layer, err := random.Layer(512, types.OCIRestrictedLayer)
	if err != nil {
		t.Fatal(err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)

	t.Run("without urls", func(t *testing.T) {
		img, err := mutate.Append(base, mutate.Addendum{Layer: layer, MediaType: types.OCIRestrictedLayer})
		if err != nil {
			t.Fatal(err)
		}
		repo, _ := name.NewRepository(reg.Host() + "/acme/nondist")
		if _, err := All(ctx, img, repo, []name.Tag{repo.Tag("1.0")}, opts); err != nil {
			t.Fatalf("All() = %v", err)
		}
		back, err := remote.Image(repo.Tag("1.0"), remote.WithAuthFromKeychain(registrytest.Keychain("pw", reg.Host())))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := layer.Digest()
		l, err := back.LayerByDigest(d)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("fetching the non-distributable layer back: %v", err)
		}
		rc.Close()
	})
	t.Run("with urls", func(t *testing.T) {
		img, err := mutate.Append(base, mutate.Addendum{Layer: layer, MediaType: types.OCIRestrictedLayer, URLs: []string{"https://example.com/layer.tar.gz"}})
		if err != nil {
			t.Fatal(err)
		}
		repo, _ := name.NewRepository(reg.Host() + "/acme/foreign")
		_, err = All(ctx, img, repo, []name.Tag{repo.Tag("1.0")}, opts)
		d, _ := layer.Digest()
		for _, want := range []string{"refused manifest", "layer " + d.String(), "https://example.com/layer.tar.gz", "foreign URLs"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("All() = %v, want an error saying %q", err, want)
			}
		}
	})
}

// A token that expires mid-push (after the blobs, at the first manifest
// write): the registry answers 401, the push authenticates once more and
// sends the manifest again, whole.
func TestAllReauthenticatesWhenTheTokenExpires(t *testing.T) {
	t.Parallel()
	expired := false
	var mu sync.Mutex
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{"pw"}, ExpireTokens: func(r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if expired || r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		expired = true
		return true
	}})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	opts := Options{Sessions: reg.Sessions("pw")}
	img, err := sample.Image(sample.Options{Seed: "expiry", Layers: 2})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Host() + "/acme/expiry")
	if _, err := All(context.Background(), img, repo, []name.Tag{repo.Tag("1.0")}, opts); err != nil {
		t.Fatalf("All() with a token expiring mid-push = %v", err)
	}
	var unauthorized, tokens int
	for _, r := range reg.Requests() {
		if r.Status == http.StatusUnauthorized && r.Method == http.MethodPut {
			unauthorized++
		}
		if r.Path == "/token" {
			tokens++
		}
	}
	if unauthorized != 1 || tokens != 2 {
		t.Errorf("%d manifest writes refused and %d tokens fetched, want 1 and 2 (one renewal)", unauthorized, tokens)
	}
	if _, err := remote.Image(repo.Tag("1.0"), remote.WithAuthFromKeychain(registrytest.Keychain("pw", reg.Host()))); err != nil {
		t.Errorf("reading the image back: %v", err)
	}
}

// fileLayer is a layer whose blob is a file, as a layout's is; its stream
// must not be read: the upload sends the file.
type fileLayer struct {
	v1.Layer
	path string
}

func (l fileLayer) OpenBlobFile() (*os.File, error) { return os.Open(l.path) }
func (l fileLayer) Compressed() (io.ReadCloser, error) {
	return nil, errors.New("the stream was read: the file was not sent as it is")
}

// A layer that is a file is sent from it whole, and the registry checks
// it: the image reads back whole.
func TestAllSendsBlobFiles(t *testing.T) {
	t.Parallel()
	reg, opts := startRegistry(t)
	ctx := context.Background()
	img, err := sample.Image(sample.Options{Seed: "files", Layers: 2, LayerSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.Addendum
	for i, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), fmt.Sprint(i))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.Addendum{Layer: fileLayer{Layer: l, path: path}})
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg.RootFS.DiffIDs = nil
	base, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		t.Fatal(err)
	}
	withFiles, err := mutate.Append(base, adds...)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Host() + "/acme/files")
	res, err := All(ctx, withFiles, repo, []name.Tag{repo.Tag("1.0")}, opts)
	if err != nil {
		t.Fatalf("All() = %v", err)
	}
	got, err := remote.Image(res.Ref, remote.WithAuthFromKeychain(registrytest.Keychain("pw", reg.Host())))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("the image read back: %v", err)
	}
}
