package push

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// origin says where a blob already is, relative to the destination.
type origin int

const (
	// elsewhere: in a file, or on another registry; it is uploaded.
	elsewhere origin = iota
	// sameRepository: read from the destination repository itself, so
	// the registry has it there.
	sameRepository
	// sameRegistry: read from another repository of the destination's
	// registry, so it can be mounted (distribution spec, "Mounting a blob
	// from another repository").
	sameRegistry
)

// originOf places l. go-containerregistry marks every layer (and config)
// of an image read from a registry as a *remote.MountableLayer carrying the
// reference it was read through; stamping keeps that wrapper.
func originOf(l v1.Layer, repo name.Repository) (origin, name.Repository) {
	ml, ok := l.(*remote.MountableLayer)
	if !ok {
		return elsewhere, name.Repository{}
	}
	src := ml.Reference.Context()
	switch {
	case src.Name() == repo.Name():
		return sameRepository, src
	case src.RegistryStr() == repo.RegistryStr():
		return sameRegistry, src
	}
	return elsewhere, src
}

// inRepository reports whether img is known to be in repo already: it was
// read from repo by its own digest (its layers say so), so the registry
// has its manifest there, and so everything the manifest references. An
// image read by tag, or changed since it was read, is not known.
func inRepository(img v1.Image, digest v1.Hash, repo name.Repository) bool {
	ls, err := img.Layers()
	if err != nil || len(ls) == 0 {
		return false
	}
	ml, ok := ls[0].(*remote.MountableLayer)
	if !ok {
		return false
	}
	ref, ok := ml.Reference.(name.Digest)
	return ok && ref.Context().Name() == repo.Name() && ref.DigestStr() == digest.String()
}

// blobs are an image's layers and its config.
func blobs(img v1.Image) ([]v1.Layer, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	cl, err := partial.ConfigLayer(img)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	// The config first: it is small, and done early it is not a round
	// trip or two added after the last layer. The layers largest first,
	// so that the uploads in flight finish close together (a large one
	// started last would run on alone).
	type sized struct {
		l    v1.Layer
		size int64
	}
	var layers []sized
	for i, l := range ls {
		if i < len(m.Layers) && fetchedFromURLs(m.Layers[i]) {
			continue
		}
		var size int64
		if i < len(m.Layers) {
			size = m.Layers[i].Size
		}
		layers = append(layers, sized{l, size})
	}
	slices.SortStableFunc(layers, func(a, b sized) int { return cmp.Compare(b.size, a.size) })
	out := make([]v1.Layer, 0, len(layers)+1)
	out = append(out, cl)
	for _, s := range layers {
		out = append(out, s.l)
	}
	return out, nil
}

// fetchedFromURLs reports whether a layer is one clients fetch from its
// urls rather than from the registry: a non-distributable layer that lists
// some (image-spec, "Non-distributable layers"). One without urls is
// uploaded like any other, or nobody could ever fetch it.
func fetchedFromURLs(d v1.Descriptor) bool {
	return !d.MediaType.IsDistributable() && len(d.URLs) > 0
}

// foreignURLs names the first layer of img that lists urls, and them, for
// an error: registries commonly refuse such manifests (distribution's
// default allows no urls).
func hasForeignURLs(img v1.Image) bool {
	_, urls := foreignURLs(img)
	return len(urls) > 0
}

func foreignURLs(img v1.Image) (v1.Hash, []string) {
	m, err := img.Manifest()
	if err != nil {
		return v1.Hash{}, nil
	}
	for _, d := range m.Layers {
		if len(d.URLs) > 0 {
			return d.Digest, d.URLs
		}
	}
	return v1.Hash{}, nil
}

// plan is what a push will have to do, known before it starts: which
// repositories blobs are mounted from (the token must allow pulling from
// them), how many blob operations there are, and how many bytes upload.
type plan struct {
	sources     map[string]name.Repository
	operations  int
	uploadBytes int64
	// sibling, when set, is a repository of the destination's registry
	// that will hold every blob before this push writes any: blobs from
	// elsewhere are mounted from it rather than uploaded (see
	// Destinations).
	sibling *name.Repository
}

func planWrite(a Artifact, repo name.Repository, sibling *name.Repository) (*plan, error) {
	p := &plan{sources: map[string]name.Repository{}, sibling: sibling}
	return p, p.add(a, repo)
}

func (p *plan) add(a any, repo name.Repository) error {
	switch a := a.(type) {
	case v1.ImageIndex:
		children, err := partial.Manifests(a)
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := p.add(c, repo); err != nil {
				return err
			}
		}
	case v1.Image:
		digest, err := a.Digest()
		if err != nil {
			return err
		}
		if inRepository(a, digest, repo) {
			return nil
		}
		bs, err := blobs(a)
		if err != nil {
			return err
		}
		for _, l := range bs {
			if err := p.add(l, repo); err != nil {
				return err
			}
		}
	case v1.Layer:
		where, src := originOf(a, repo)
		if where == elsewhere && p.sibling != nil {
			where, src = sameRegistry, *p.sibling
		}
		switch where {
		case sameRepository:
		case sameRegistry:
			p.sources[src.Name()] = src
			p.operations++
		default:
			size, err := a.Size()
			if err != nil {
				return err
			}
			p.uploadBytes += size
			p.operations++
		}
	}
	return nil
}

// scopes are the token scopes the push needs: push to repo, pull from each
// repository a blob is mounted from.
func (p *plan) scopes(repo name.Repository) []string {
	scopes := []string{repo.Scope(transport.PushScope)}
	for _, src := range p.sources {
		scopes = append(scopes, src.Scope(transport.PullScope))
	}
	slices.Sort(scopes[1:])
	return scopes
}

// writer writes an artifact's blobs and manifests, children before
// parents, so that the registry never holds a manifest whose references are
// missing.
type writer struct {
	repo   name.Repository
	pusher *remote.Pusher
	client *http.Client
	ropts  []remote.Option
	retry  *registryhttp.Retrier
	// sem bounds the blob operations in flight; rate limiting lowers it.
	sem    *limiter
	mounts sync.Map // v1.Hash → *mountOnce
	// progress, when set, learns of planned uploads that turn out not to
	// be needed.
	progress *progressLog
	// background holds requests nobody waits for (cancelling upload
	// sessions not needed after all); All waits for them before it
	// returns.
	background sync.WaitGroup
	// rewriting lets one rewrite at a time put back what a registry says
	// is missing: the others then find it in place.
	rewriting sync.Mutex
	// sibling, when set, holds every blob by the time this writer writes
	// any: see plan.sibling.
	sibling *name.Repository
}

// held is what the registry holds of a push already.
type held struct {
	// manifest: the manifest, by digest.
	manifest bool
	// primaryTag: the primary tag, pointing at the manifest.
	primaryTag bool
}

// held asks, in one round trip, whether the registry has the manifest by
// digest and where the primary tag (the last of tags) points.
func (w *writer) held(ctx context.Context, ref name.Digest, tags []name.Tag, digest v1.Hash) (held, error) {
	var h held
	var tagErr error
	var wg sync.WaitGroup
	if len(tags) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			desc, err := remote.Head(tags[len(tags)-1], append(slices.Clip(w.ropts), remote.WithContext(ctx))...)
			if err == nil {
				h.primaryTag = desc.Digest == digest
				return
			}
			if !isMissing(err) {
				tagErr = fmt.Errorf("checking %s: %w", tags[len(tags)-1], err)
			}
		}()
	}
	exists, err := manifestExists(ctx, ref, w.ropts)
	wg.Wait()
	if err != nil {
		return held{}, err
	}
	if tagErr != nil {
		return held{}, tagErr
	}
	h.manifest = exists || h.primaryTag
	return h, nil
}

// contents writes everything a (by digest) references: an image's blobs,
// an index's children with everything they reference.
func (w *writer) contents(ctx context.Context, a Artifact, digest v1.Hash) error {
	switch a := a.(type) {
	case v1.ImageIndex:
		children, err := partial.Manifests(a)
		if err != nil {
			return err
		}
		return w.children(ctx, children, digest)
	case v1.Image:
		bs, err := blobs(a)
		if err != nil {
			return err
		}
		return all(ctx, len(bs), func(ctx context.Context, i int) error { return w.blob(ctx, bs[i]) })
	}
	return fmt.Errorf("%s is %T, neither an image nor an index", digest, a)
}

// rewrite puts back what a registry says a manifest references and it
// lacks: every blob and child is checked again, mounts included.
func (w *writer) rewrite(ctx context.Context, a Artifact, digest v1.Hash) error {
	w.rewriting.Lock()
	defer w.rewriting.Unlock()
	w.mounts.Clear()
	return w.contents(ctx, a, digest)
}

// write writes a (by digest) and everything it references.
func (w *writer) write(ctx context.Context, a Artifact, digest v1.Hash) error {
	if err := w.contents(ctx, a, digest); err != nil {
		return err
	}
	return w.putManifest(ctx, w.repo.Digest(digest.String()), a, digest)
}

// putManifest writes a as ref. A registry that answers
// MANIFEST_BLOB_UNKNOWN (or BLOB_UNKNOWN) lost, or never committed, a blob
// the manifest references although its upload was answered as done: then
// what is missing is put back, and the manifest is tried again, under the
// retry budget.
func (w *writer) putManifest(ctx context.Context, ref name.Reference, a Artifact, digest v1.Hash) error {
	for attempt := 1; ; attempt++ {
		err := w.pusher.Put(ctx, ref, a)
		if err == nil || !blobUnknown(err) {
			if err != nil {
				err = w.explainForeign(a, digest, err)
			}
			return err
		}
		if img, ok := a.(v1.Image); ok && hasForeignURLs(img) {
			// Missing because it is fetched from elsewhere: writing
			// again cannot help.
			return w.explainForeign(a, digest, err)
		}
		if err := w.retry.Wait(ctx, attempt, 0, err); err != nil {
			return err
		}
		if err := w.rewrite(ctx, a, digest); err != nil {
			return err
		}
	}
}

// explainForeign says why a registry may refuse an image whose layers list
// urls: many refuse such foreign layers.
func (w *writer) explainForeign(a Artifact, digest v1.Hash, err error) error {
	img, ok := a.(v1.Image)
	if !ok {
		return err
	}
	if layer, urls := foreignURLs(img); len(urls) > 0 {
		return fmt.Errorf("the registry refused manifest %s, which lists layer %s to be fetched from %s rather than from the registry (many registries refuse such foreign URLs): publish an image whose layers are all in it: %w", digest, layer, strings.Join(urls, ", "), err)
	}
	return err
}

// tags points every tag at a, whose content is all in place: the primary
// tag (the last) after all the others, which are written at once.
func (w *writer) tags(ctx context.Context, a Artifact, digest v1.Hash, tags []name.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	put := func(ctx context.Context, tag name.Tag) error {
		if err := w.putManifest(ctx, tag, a, digest); err != nil {
			return fmt.Errorf("tagging %s: %w", tag, err)
		}
		return nil
	}
	others, primary := tags[:len(tags)-1], tags[len(tags)-1]
	if err := all(ctx, len(others), func(ctx context.Context, i int) error { return put(ctx, others[i]) }); err != nil {
		return err
	}
	return put(ctx, primary)
}

// blobUnknown reports whether a manifest write was refused for a
// reference the registry does not have.
func blobUnknown(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestBlobUnknownErrorCode || d.Code == transport.BlobUnknownErrorCode {
			return true
		}
	}
	return false
}

// children writes every child of index digest the registry lacks.
func (w *writer) children(ctx context.Context, children []partial.Describable, digest v1.Hash) error {
	return all(ctx, len(children), func(ctx context.Context, i int) error {
		switch c := children[i].(type) {
		case v1.ImageIndex:
			d, err := c.Digest()
			if err != nil {
				return err
			}
			if exists, err := w.exists(ctx, c, d); err != nil || exists {
				return err
			}
			return w.write(ctx, c, d)
		case v1.Image:
			d, err := c.Digest()
			if err != nil {
				return err
			}
			if inRepository(c, d, w.repo) {
				return nil
			}
			if exists, err := w.exists(ctx, c, d); err != nil || exists {
				return err
			}
			return w.write(ctx, c, d)
		case v1.Layer:
			return w.blob(ctx, c)
		}
		return fmt.Errorf("index %s lists %T, which is neither an image, an index nor a blob", digest, children[i])
	})
}

// blob makes l present in the repository: nothing to do if it was read
// from there, a mount if it was read from a sibling repository, else an
// upload (existence check, then one stream, resumed after faults; see
// upload). Layers fetched from their urls are not among the blobs.
func (w *writer) blob(ctx context.Context, l v1.Layer) error {
	where, src := originOf(l, w.repo)
	if where == sameRepository {
		return nil
	}
	if where == elsewhere && w.sibling != nil {
		// A destination of the same publish in this registry has it.
		where, src = sameRegistry, *w.sibling
	}
	if err := w.sem.acquire(ctx); err != nil {
		return err
	}
	defer w.sem.release()
	if where == sameRegistry {
		digest, err := l.Digest()
		if err != nil {
			return err
		}
		mounted, err := w.mount(ctx, digest, src)
		if err != nil || mounted {
			return err
		}
		// Not mountable after all: send the bytes.
	}
	return w.upload(ctx, l)
}

type mountOnce struct {
	once    sync.Once
	mounted bool
	err     error
}

// mount asks the registry to link blob digest from src into the
// repository: one POST, without the existence check go-containerregistry
// makes first, since a registry that has the blob answers the mount with
// 201 Created just the same. It reports false, having cancelled the upload
// the registry started instead, when the registry will not mount (the blob
// is not in src, or cross-repository mounts are not supported).
func (w *writer) mount(ctx context.Context, digest v1.Hash, src name.Repository) (bool, error) {
	v, _ := w.mounts.LoadOrStore(digest, &mountOnce{})
	m := v.(*mountOnce)
	m.once.Do(func() { m.mounted, m.err = w.tryMount(ctx, digest, src) })
	return m.mounted, m.err
}

func (w *writer) tryMount(ctx context.Context, digest v1.Hash, src name.Repository) (bool, error) {
	resp, loc, err := startUpload(ctx, w.client, w.repo, url.Values{"mount": {digest.String()}, "from": {src.RepositoryStr()}})
	if err != nil {
		return false, fmt.Errorf("mounting %s from %s: %w", digest, src, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusCreated:
		return true, nil
	case resp.StatusCode == http.StatusAccepted:
		// An upload session instead of a mount: cancel it.
		cancelUpload(ctx, w.client, loc)
		return false, nil
	case resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		// Refused (no pull access to src, say): the upload that follows
		// gets the registry's answer to the push itself.
		return false, nil
	}
	return false, fmt.Errorf("mounting %s from %s: %w", digest, src, transport.CheckError(resp, http.StatusCreated))
}

// exists asks the registry whether it has child a (by digest) already;
// if so, the bytes planned for its blobs will not move.
func (w *writer) exists(ctx context.Context, a Artifact, digest v1.Hash) (bool, error) {
	exists, err := manifestExists(ctx, w.repo.Digest(digest.String()), w.ropts)
	if exists && w.progress != nil {
		if p, err := planWrite(a, w.repo, w.sibling); err == nil {
			w.progress.unplan(p.uploadBytes)
		}
	}
	return exists, err
}

// manifestExists asks the registry whether it has ref, as
// go-containerregistry does before writing a manifest: 404 (and 403, which
// some registries answer instead) means no.
func manifestExists(ctx context.Context, ref name.Digest, ropts []remote.Option) (bool, error) {
	_, err := remote.Head(ref, append(slices.Clip(ropts), remote.WithContext(ctx))...)
	if err == nil {
		return true, nil
	}
	if isMissing(err) {
		return false, nil
	}
	return false, fmt.Errorf("checking for %s: %w", ref, err)
}

// isMissing reports whether a HEAD says the registry does not have what it
// asked for: 404, or 403, which some registries answer instead.
func isMissing(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound || terr.StatusCode == http.StatusForbidden)
}

// all runs f for 0..n-1 concurrently and returns the first error; the
// first failure cancels the others' context.
func all(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = f(ctx, i); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// The first real failure, not the cancellations it caused.
	var first error
	for _, err := range errs {
		if err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = err
		}
	}
	return first
}
