package source

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// Transport is what a publish needs to know of one way of reading a source,
// beyond reading it. inputs owns a transport's name and the syntax of its
// address; everything else about it is here, so that adding one is a file
// with its Load and one entry in transports (TestEveryTransportDescribed
// fails until the entry is there), as ratchet adds a CI system with one
// parser and one entry in its parserFactory.
type Transport struct {
	// Load reads src (Load, the package's, sets Loaded.Line).
	Load func(ctx context.Context, src *inputs.Source, opts Options) (*Loaded, error)
	// SlowToRead says that reading takes long before any push could
	// start (an engine's export, an archive to unpack): the publish then
	// checks push access beside the reading, so that a denied push fails
	// in seconds, not after it.
	SlowToRead bool
	// Scopes are the registry access the reading needs, declared up front
	// so that one token per registry covers the reads and the push. Nil:
	// the source reads no registry.
	Scopes func(src *inputs.Source) []Scope
	// InRepository, when src reads an image by digest in repo, returns
	// that digest: a publish that re-stamps it (matrix legs pushed by
	// digest, then merged) leaves it orphaned in the destination. Nil: the
	// source never lives in a registry.
	InRepository func(src *inputs.Source, repo name.Repository) (digest string, ok bool)
}

// Scope is access to one repository: Action is go-containerregistry's
// transport.PullScope or transport.PushScope.
type Scope struct {
	Repository name.Repository
	Action     string
}

// transports describes every transport inputs accepts, keyed by its name.
var transports = map[inputs.Transport]Transport{
	inputs.OCILayout:     {Load: loadLayout},
	inputs.OCIArchive:    {Load: loadOCIArchive, SlowToRead: true},
	inputs.DockerArchive: {Load: loadDockerArchive, SlowToRead: true},
	inputs.DockerDaemon:  {Load: loadDaemon, SlowToRead: true},
	inputs.Registry:      {Load: loadRegistry, Scopes: registryScopes, InRepository: registryInRepository},
}

// SlowToRead reports whether reading src takes long before any push could
// start (see Transport.SlowToRead).
func SlowToRead(src *inputs.Source) bool { return transports[src.Transport].SlowToRead }

// Scopes are the registry access reading src needs (see Transport.Scopes).
func Scopes(src *inputs.Source) []Scope {
	if scopes := transports[src.Transport].Scopes; scopes != nil {
		return scopes(src)
	}
	return nil
}

// InRepository returns the digest src reads in repo, if it reads one there
// by digest (see Transport.InRepository).
func InRepository(src *inputs.Source, repo name.Repository) (string, bool) {
	if in := transports[src.Transport].InRepository; in != nil {
		return in(src, repo)
	}
	return "", false
}

func loadLayout(_ context.Context, src *inputs.Source, _ Options) (*Loaded, error) {
	l, err := fromLayout(src.Path, src.Ref)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", src.Path, err)
	}
	return l, nil
}

func loadOCIArchive(ctx context.Context, src *inputs.Source, opts Options) (*Loaded, error) {
	dir, err := os.MkdirTemp(opts.TempDir, "oci-archive-")
	if err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", src.Path, err)
	}
	cleanup := func() error { return os.RemoveAll(dir) }
	if err := untar(ctx, src.Path, dir); err != nil {
		cleanup()
		return nil, fmt.Errorf("unpacking OCI archive %s: %w", src.Path, err)
	}
	l, err := fromLayout(dir, src.Ref)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("reading OCI archive %s: %w", src.Path, err)
	}
	l.cleanup = cleanup
	return l, nil
}

func loadDockerArchive(ctx context.Context, src *inputs.Source, opts Options) (*Loaded, error) {
	dir, err := os.MkdirTemp(opts.TempDir, "docker-archive-")
	if err != nil {
		return nil, fmt.Errorf("reading docker archive %s: %w", src.Path, err)
	}
	l, err := fromDockerArchive(ctx, src.Path, src.Ref, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("reading docker archive %s: %w", src.Path, err)
	}
	return l, nil
}

func loadDaemon(ctx context.Context, src *inputs.Source, opts Options) (*Loaded, error) {
	dir, err := os.MkdirTemp(opts.TempDir, "docker-daemon-")
	if err != nil {
		return nil, fmt.Errorf("exporting %s: %w", src.Daemon, err)
	}
	l, err := fromDaemon(ctx, opts.DockerHost, src.Daemon, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("reading %s from the Docker engine: %w", src.Daemon, err)
	}
	return l, nil
}

func loadRegistry(ctx context.Context, src *inputs.Source, opts Options) (*Loaded, error) {
	l, err := fromRegistry(ctx, src.Reference, opts)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src.Reference, err)
	}
	return l, nil
}

// registryScopes: a registry source is pulled.
func registryScopes(src *inputs.Source) []Scope {
	return []Scope{{Repository: src.Reference.Context(), Action: transport.PullScope}}
}

func registryInRepository(src *inputs.Source, repo name.Repository) (string, bool) {
	d, ok := src.Reference.(name.Digest)
	if !ok || d.Context().String() != repo.String() {
		return "", false
	}
	return d.DigestStr(), true
}
