package registrytest

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest is one manifest a repository holds, as GitHub's Packages API
// sees it: each is a package version of its own, tagged or not.
type Manifest struct {
	Digest string
	// Tags are the tags pointing at it, sorted.
	Tags []string
	// Stored is when the registry stored it: the modification time of its
	// revision link, which a second push of the same manifest renews.
	Stored time.Time
}

// Manifests lists every manifest repo holds, by digest, with the tags that
// point at each; an unknown repository holds none. It reads the registry's
// storage directly, because the distribution API cannot list untagged
// manifests.
func (r *Registry) Manifests(ctx context.Context, repo string) ([]Manifest, error) {
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return nil, err
	}
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	enum, ok := ms.(distribution.ManifestEnumerator)
	if !ok {
		return nil, fmt.Errorf("registrytest: manifests of %s cannot be enumerated", repo)
	}
	var out []Manifest
	err = enum.Enumerate(ctx, func(d digest.Digest) error {
		fi, err := r.driver.Stat(ctx, revisionLink(repo, d))
		if err != nil {
			return err
		}
		out = append(out, Manifest{Digest: d.String(), Stored: fi.ModTime()})
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if errors.As(err, &notFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registrytest: listing manifests of %s: %w", repo, err)
	}
	byDigest, err := r.tagsOf(ctx, rp)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Tags = byDigest[out[i].Digest]
	}
	slices.SortFunc(out, func(a, b Manifest) int { return cmpString(a.Digest, b.Digest) })
	return out, nil
}

// DeleteManifest deletes the manifest d from repo together with the tags
// that point at it, as deleting a package version on GitHub does. Blobs stay
// (nothing collects garbage on ghcr.io either).
func (r *Registry) DeleteManifest(ctx context.Context, repo, d string) error {
	dg, err := digest.Parse(d)
	if err != nil {
		return err
	}
	rp, err := r.repository(ctx, repo)
	if err != nil {
		return err
	}
	tags := rp.Tags(ctx)
	pointing, err := tags.Lookup(ctx, specs.Descriptor{Digest: dg})
	if err != nil {
		return err
	}
	for _, t := range pointing {
		if err := tags.Untag(ctx, t); err != nil {
			return fmt.Errorf("registrytest: untagging %s: %w", t, err)
		}
	}
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return err
	}
	if err := ms.Delete(ctx, dg); err != nil {
		return fmt.Errorf("registrytest: deleting %s@%s: %w", repo, d, err)
	}
	return nil
}

func (r *Registry) repository(ctx context.Context, repo string) (distribution.Repository, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, fmt.Errorf("registrytest: repository %q: %w", repo, err)
	}
	return r.ns.Repository(ctx, named)
}

// tagsOf maps each digest of rp to the tags pointing at it.
func (r *Registry) tagsOf(ctx context.Context, rp distribution.Repository) (map[string][]string, error) {
	ts := rp.Tags(ctx)
	all, err := ts.All(ctx)
	var unknown distribution.ErrRepositoryUnknown
	if errors.As(err, &unknown) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, t := range all {
		desc, err := ts.Get(ctx, t)
		var tagUnknown distribution.ErrTagUnknown
		if errors.As(err, &tagUnknown) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[desc.Digest.String()] = append(out[desc.Digest.String()], t) // All is sorted
	}
	return out, nil
}

// revisionLink is where distribution stores the link that makes a manifest
// part of a repository (registry/storage/paths.go, manifestRevisionLinkPathSpec).
func revisionLink(repo string, d digest.Digest) string {
	return path.Join("/docker/registry/v2/repositories", repo, "_manifests/revisions", d.Algorithm().String(), d.Encoded(), "link")
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sharedStorage lets the registry's application and Manifests use one
// in-memory driver: distribution makes its driver from a factory name, so
// each registry registers its driver under an id the factory looks up.
type sharedStorage struct {
	mu      sync.Mutex
	drivers map[string]storagedriver.StorageDriver
}

var (
	shared     = &sharedStorage{drivers: map[string]storagedriver.StorageDriver{}}
	registerMu sync.Once
	nextID     atomic.Int64
)

const sharedDriverName = "registrytest-shared"

func (s *sharedStorage) Create(_ context.Context, params map[string]interface{}) (storagedriver.StorageDriver, error) {
	id, _ := params["id"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drivers[id]
	if !ok {
		return nil, fmt.Errorf("registrytest: no shared driver %q", id)
	}
	return d, nil
}

// newSharedDriver makes an in-memory driver, the storage configuration that
// hands it to distribution, and a namespace over the same driver with
// deletes enabled (the registry's HTTP API keeps refusing deletes, as
// ghcr.io does).
func newSharedDriver() (storagedriver.StorageDriver, configuration.Storage, distribution.Namespace, func(), error) {
	registerMu.Do(func() { factory.Register(sharedDriverName, shared) })
	drv := inmemory.New()
	id := fmt.Sprintf("r%d", nextID.Add(1))
	shared.mu.Lock()
	shared.drivers[id] = drv
	shared.mu.Unlock()
	release := func() {
		shared.mu.Lock()
		delete(shared.drivers, id)
		shared.mu.Unlock()
	}
	ns, err := storage.NewRegistry(context.Background(), drv, storage.EnableDelete)
	if err != nil {
		release()
		return nil, nil, nil, nil, err
	}
	return drv, configuration.Storage{sharedDriverName: configuration.Parameters{"id": id}}, ns, release, nil
}
