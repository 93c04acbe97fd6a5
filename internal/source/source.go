// Package source reads the image to publish from where the user built it: an
// OCI layout directory or archive, a docker save archive, the Docker engine,
// or a registry. transports.go says what each way of reading needs.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/platform"
	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// Options say how to reach registries and where to unpack archives.
type Options struct {
	// Sessions carry every request of a registry source (the manifest,
	// the config, each layer's start): the publish authenticates to each
	// registry once, for its reads and its push, under one retry policy.
	// Required for registry sources. Their base transport must be bounded
	// with BoundManifests.
	Sessions *registryhttp.Sessions
	// TempDir receives unpacked archives and engine exports; empty means
	// os.TempDir().
	TempDir string
	// DockerHost is DOCKER_HOST for docker-daemon sources; empty means the
	// socket the runner mounts, unix:///var/run/docker.sock.
	DockerHost string
}

// Loaded is a source ready to stamp: an image, or an index (a multi-platform
// image, or an image with build attestations). Close it when the publish is
// done: its blobs may be read from files it owns until then.
type Loaded struct {
	// Line is the source line it was read from, for messages.
	Line string
	// Exactly one of Image and Index is set.
	Image v1.Image
	Index v1.ImageIndex
	// Notices tell what reading the source left out, and why.
	Notices []string
	// Missing are the platforms an engine's export listed without their
	// blobs (a multi-platform image only partly pulled), left out.
	Missing []v1.Platform
	cleanup func() error
}

// Close removes any files unpacked for the image.
func (l *Loaded) Close() error {
	if l == nil || l.cleanup == nil {
		return nil
	}
	return l.cleanup()
}

// Load reads src, the way its transport's entry in transports says.
func Load(ctx context.Context, src *inputs.Source, opts Options) (*Loaded, error) {
	t, ok := transports[src.Transport]
	if !ok {
		return nil, fmt.Errorf("unknown transport %q", src.Transport)
	}
	l, err := t.Load(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	l.Line = src.Line
	return l, nil
}

// MaxDocument bounds a manifest, an index (index.json included) or a config
// read into memory: 4 MiB, what distribution and ghcr.io accept for a
// manifest. Real ones are a few KiB; anything larger is refused before it
// is read, so a hostile layout (index.json a link to /dev/zero) cannot
// exhaust memory.
const MaxDocument = 4 << 20

// fromLayout selects the image named ref in an OCI layout's index.json, or the
// only entry when ref is empty (containers/image's oci transport does the same).
func fromLayout(dir, ref string) (*Loaded, error) {
	idx, err := readLayoutIndex(dir)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var chosen []v1.Descriptor
	var names []string
	for _, d := range im.Manifests {
		n := d.Annotations[specs.AnnotationRefName]
		if n != "" {
			names = append(names, n)
		}
		if ref == "" || n == ref {
			chosen = append(chosen, d)
		}
	}
	switch {
	case len(chosen) == 0 && ref != "":
		return nil, fmt.Errorf("no image named %q in index.json (names there: %s)", ref, list(names))
	case len(chosen) == 0:
		return nil, errors.New("index.json lists no image")
	case len(chosen) > 1 && ref == "":
		return nil, fmt.Errorf("index.json lists %d images; add :REF to choose one (names there: %s)", len(chosen), list(names))
	case len(chosen) > 1:
		return nil, fmt.Errorf("index.json lists %d images named %q; rebuild the layout with one", len(chosen), ref)
	}
	d := chosen[0]
	switch {
	case d.MediaType.IsIndex():
		ii, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		if ii, err = verifyIndex(ii, d.Digest, dir); err != nil {
			return nil, err
		}
		return &Loaded{Index: ii}, nil
	case d.MediaType.IsImage():
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		if img, err = verifyImage(img, d.Digest, dir); err != nil {
			return nil, err
		}
		return &Loaded{Image: img}, nil
	}
	return nil, fmt.Errorf("entry %s has media type %q, which is not an image", d.Digest, d.MediaType)
}

// fromDockerArchive reads a docker save archive in place, selecting ref (a
// REPO:TAG) when it holds several images. Plain layers are compressed into
// dir, which Close removes.
func fromDockerArchive(ctx context.Context, archive, ref, dir string) (*Loaded, error) {
	if ref != "" {
		if _, err := name.NewTag(ref); err != nil {
			return nil, fmt.Errorf("%q is not a REPO:TAG to select: %w", ref, err)
		}
	}
	t, err := openTarIndex(archive)
	if err != nil {
		return nil, err
	}
	l, err := newExport(t, dir).load(ctx, ref)
	if err != nil {
		t.Close()
		return nil, err
	}
	l.cleanup = func() error {
		return errors.Join(t.Close(), os.RemoveAll(dir))
	}
	return l, nil
}

func fromRegistry(ctx context.Context, ref name.Reference, opts Options) (*Loaded, error) {
	if opts.Sessions == nil {
		return nil, errors.New("no registry sessions to read it with (source.Options.Sessions is required for registry sources)")
	}
	rt, err := opts.Sessions.Transport(ctx, ref.Context(), ref.Context().Scope(transport.PullScope))
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(ref, remote.WithContext(ctx), remote.WithTransport(rt), registryhttp.NoRemoteRetry())
	if err != nil {
		return nil, err
	}
	if desc.Size > MaxDocument {
		return nil, fmt.Errorf("its manifest is %d bytes, more than the %d a manifest may be", desc.Size, MaxDocument)
	}
	switch {
	case desc.MediaType.IsIndex():
		ii, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		return &Loaded{Index: ii}, nil
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		// The config is read whole, up to the size the manifest gives it.
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		if err := checkConfigSize(m); err != nil {
			return nil, err
		}
		// Read now (go-containerregistry keeps it): sources load at
		// once, and stamping needs it anyway.
		if _, err := img.RawConfigFile(); err != nil {
			return nil, err
		}
		return &Loaded{Image: img}, nil
	}
	return nil, fmt.Errorf("media type %q is neither an image nor an index", desc.MediaType)
}

// BoundManifests bounds what source reads take in through base (nil:
// go-containerregistry's default transport). go-containerregistry reads a
// manifest of up to 100 MiB into memory; a registry's manifest answer is
// cut off at MaxDocument here, so a hostile registry's index children
// cannot either.
func BoundManifests(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = remote.DefaultTransport
	}
	return limitManifests{base}
}

type limitManifests struct{ base http.RoundTripper }

func (t limitManifests) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/manifests/") {
		return resp, err
	}
	if resp.ContentLength > MaxDocument {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: the manifest is %d bytes, more than the %d a manifest may be", req.URL.Path, resp.ContentLength, MaxDocument)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxDocument, path: req.URL.Path}
	return resp, nil
}

// limitedBody fails a read past its limit, rather than ending early as
// io.LimitReader would: a cut manifest must not parse.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	path string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%s: the manifest is more than the %d bytes a manifest may be", b.path, MaxDocument)
		}
		return b.rc.Read(p)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Lacks names the platforms in want that l left out because the engine's
// export had not their blobs, so a platforms input asking for one fails
// with the reason rather than "the sources lack".
func (l *Loaded) Lacks(want []v1.Platform) []string {
	var out []string
	for _, w := range want {
		for _, m := range l.Missing {
			if platform.Key(w) == platform.Key(m) {
				out = append(out, platform.Key(w))
			}
		}
	}
	return out
}
