package push

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// Destination is one place a publish writes: a repository, the tags to
// point at the artifact there (tags of Repository; the last is the
// primary tag, as for All), and the sessions of its registry, which hold
// that registry's credentials.
type Destination struct {
	Repository name.Repository
	Tags       []name.Tag
	// Sessions carry every request to the destination's registry, as
	// Options.Sessions do for All. Destinations in one registry may share
	// them: Destinations declares every scope it needs up front, so that
	// one token covers them all (see registryhttp.Sessions.Declare).
	Sessions *registryhttp.Sessions
}

// Destinations publishes img to every destination at once and returns
// what was written at each, in the order of dests. opts.Sessions is not
// used: each destination brings its own.
//
// One destination is All, request for request. Several are written in
// two phases, so that a failure anywhere moves no tag anywhere:
//
//  1. At every destination at once: everything img references, then img
//     by digest, children before an index (a child by digest before its
//     parent, as All writes them). Each blob crosses to each registry
//     once: of the destinations in one registry the first uploads it and
//     the others mount it from there (distribution spec, "Mounting a blob
//     from another repository"), once the first holds every blob.
//  2. Only once every destination holds the manifest: the tags, at every
//     destination at once, the primary tag last at each, as All writes
//     them; then, with ReadBack, each primary tag is read back.
//
// The manifest by digest costs one request per destination that All saves
// (there, the first tag stores it): the price of a publish that either
// reaches every registry or moves no tag. A destination that holds the
// primary tag already (a re-run) skips the first phase and writes only its
// other tags. A failure cancels the other destinations' requests and comes
// back naming the destination it happened at.
func Destinations(ctx context.Context, img Artifact, dests []Destination, opts Options) ([]Result, error) {
	if err := checkDestinations(dests); err != nil {
		return nil, err
	}
	if len(dests) == 1 {
		d := dests[0]
		opts.Sessions = d.Sessions
		res, err := All(ctx, img, d.Repository, d.Tags, opts)
		if err != nil {
			return nil, err
		}
		return []Result{res}, nil
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("computing digest: %w", err)
	}
	fs := fanOut(dests, digest, opts)
	// Sessions opened for blobs a registry turned out to have are
	// cancelled in the background, and waited for before returning.
	defer func() {
		for _, f := range fs {
			if f.w != nil {
				f.w.background.Wait()
			}
		}
	}()
	// One context for both phases: each writer keeps the one it was made
	// with, and a failure in either phase cancels every destination.
	results := make([]Result, len(fs))
	err = all(ctx, len(fs), func(ctx context.Context, i int) error {
		if err := fs[i].stage(ctx, img, digest); err != nil {
			return err
		}
		// No tag anywhere until every destination holds the manifest.
		for _, f := range fs {
			select {
			case <-f.staged:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var err error
		results[i], err = fs[i].finish(ctx, img, digest)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// checkDestinations refuses a list Destinations cannot write as asked:
// none, a destination without sessions, a tag of another repository, a
// repository named twice (its tags belong in one destination).
func checkDestinations(dests []Destination) error {
	if len(dests) == 0 {
		return errors.New("no destination to publish to")
	}
	seen := map[string]bool{}
	for _, d := range dests {
		if d.Sessions == nil {
			return fmt.Errorf("destination %s has no registry sessions", d.Repository)
		}
		if seen[d.Repository.Name()] {
			return fmt.Errorf("destination %s is named twice: name each repository once, with all its tags", d.Repository)
		}
		seen[d.Repository.Name()] = true
		for _, t := range d.Tags {
			if t.Context().Name() != d.Repository.Name() {
				return fmt.Errorf("tag %s is not in destination %s", t, d.Repository)
			}
		}
	}
	return nil
}

// fanout is one destination of a publish to several.
type fanout struct {
	Destination
	ref name.Digest
	// opts are the publish's, with this destination's sessions, and a
	// log that names the destination.
	opts Options
	// lead, when set, is the first destination in this one's registry:
	// this one mounts from it what it would otherwise upload, once the
	// lead's staged is closed.
	lead *fanout
	// staged is closed when this destination holds img by digest.
	staged chan struct{}

	// Set by stage, for finish.
	w    *writer
	held held
}

// fanOut makes the destinations' fanouts, each registry's first the lead
// of the others there, and declares to each destination's sessions every
// scope it will ask for: push on its repository, pull on its lead's.
func fanOut(dests []Destination, digest v1.Hash, opts Options) []*fanout {
	// Progress and throttling lines come from every destination's
	// goroutines at once.
	logf := serialized(opts.Logf)
	leads := map[string]*fanout{}
	fs := make([]*fanout, len(dests))
	for i, d := range dests {
		f := &fanout{Destination: d, ref: d.Repository.Digest(digest.String()), opts: opts, staged: make(chan struct{})}
		f.opts.Sessions = d.Sessions
		f.opts.Logf = naming(logf, d.Repository)
		d.Sessions.Declare(d.Repository, transport.PushScope)
		if lead := leads[d.Repository.RegistryStr()]; lead != nil {
			f.lead = lead
			d.Sessions.Declare(lead.Repository, transport.PullScope)
		} else {
			leads[d.Repository.RegistryStr()] = f
		}
		fs[i] = f
	}
	return fs
}

// naming prefixes each line of logf with the destination repo; nil stays
// nil (silent).
func naming(logf func(format string, args ...any), repo name.Repository) func(format string, args ...any) {
	if logf == nil {
		return nil
	}
	return func(format string, args ...any) {
		logf("%s: "+format, append([]any{repo}, args...)...)
	}
}

// stage is the first phase at this destination: everything img references
// and img itself, by digest, unless the registry holds it already.
func (f *fanout) stage(ctx context.Context, img Artifact, digest v1.Hash) error {
	var sibling *name.Repository
	if f.lead != nil {
		sibling = &f.lead.Repository
	}
	w, p, err := prepare(ctx, img, f.Repository, sibling, f.opts)
	if err != nil {
		return f.failed(err)
	}
	f.w = w
	if f.held, err = w.held(ctx, f.ref, f.Tags, digest); err != nil {
		return f.failed(fmt.Errorf("pushing %s: %w", f.ref, err))
	}
	if !f.held.manifest {
		if f.lead != nil {
			// Mount only what the lead holds: wait for all of it.
			select {
			case <-f.lead.staged:
			case <-ctx.Done():
				return f.failed(ctx.Err())
			}
		}
		stop := w.watchUploads(f.opts, p.uploadBytes)
		err := w.uploadContents(ctx, img, f.ref, digest, true)
		stop()
		if err != nil {
			return f.failed(fmt.Errorf("pushing %s: %w", f.ref, err))
		}
	}
	close(f.staged)
	return nil
}

// finish is the second phase at this destination: the tags, and the read
// back.
func (f *fanout) finish(ctx context.Context, img Artifact, digest v1.Hash) (Result, error) {
	res, err := f.w.finish(ctx, img, f.ref, digest, f.Tags, f.held, f.opts)
	if err != nil {
		return Result{}, f.failed(err)
	}
	return res, nil
}

// failed says at which destination err happened.
func (f *fanout) failed(err error) error {
	return &DestinationError{Repository: f.Repository, Err: err}
}

// DestinationError is a publish to several destinations that failed at one
// of them: callers advise about that destination's registry (its
// credentials, its permissions) without working it out from the error.
type DestinationError struct {
	Repository name.Repository
	Err        error
}

func (e *DestinationError) Error() string {
	return fmt.Sprintf("publishing to %s: %v", e.Repository, e.Err)
}

func (e *DestinationError) Unwrap() error { return e.Err }
