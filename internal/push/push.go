// Package push writes a stamped image to its destination: blobs the registry
// lacks, then the manifest by digest, then each tag. Tags are written last, so
// a tag only ever points at content that is complete in the registry.
package push

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// Options say how to reach the registry and how to report.
type Options struct {
	// Sessions carry every request (probe, blob uploads, mounts,
	// manifests, tags, token exchanges): one authenticated transport per
	// registry, shared with the source reads, so that a publish pings each
	// registry and fetches its token once, under one retry policy and
	// budget. Required.
	Sessions *registryhttp.Sessions
	// Jobs bounds how many blobs are uploaded or mounted at once; zero
	// scales it to the work: one per blob, at most max(4, 2×GOMAXPROCS).
	// A registry that rate limits lowers it for the rest of the push.
	Jobs int
	// Logf, when set, receives progress of uploads that take longer than
	// ProgressInterval: one line per interval with the bytes done, the
	// total, the percentage and the rate, and a closing line; and a line
	// when rate limiting lowers the uploads in flight. Nil: silent.
	Logf func(format string, args ...any)
	// ReadBack, when set, reads back what was written once it is all
	// written (one HEAD: the last tag, which shows the manifest too), and
	// reports a tag that reads stale as a warning in Result.Warnings.
	ReadBack bool
	// progressFrom overrides progressThreshold, and tagLag TagLag, for
	// tests.
	progressFrom int64
	tagLag       time.Duration
}

// jobs is how many blob operations run at once for n of them.
func (o Options) jobs(n int) int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return max(1, min(n, max(4, 2*runtime.GOMAXPROCS(0))))
}

// progressThreshold is the smallest upload that reports progress: anything
// less takes about one progress interval even on a slow runner link.
const progressThreshold = 128 << 20

// Result is what was written.
type Result struct {
	Digest v1.Hash
	// Ref is the image by digest, e.g. ghcr.io/acme/widget@sha256:….
	Ref  name.Digest
	Tags []name.Tag
	// Warnings are for the log: a tag that reads back stale.
	Warnings []string
}

// Artifact is what gets pushed: a v1.Image or a v1.ImageIndex.
type Artifact interface {
	remote.Taggable
	Digest() (v1.Hash, error)
}

// All pushes img (an image, or an index with all its children) to repo and
// points every tag at it. With no tags it is pushed by digest only.
//
// It is built around round trips, which a runner far from the registry
// pays for one by one:
//
//   - First one round trip asks what the registry holds: a HEAD of the
//     manifest by digest and, at the same time, of the primary tag (the
//     last in tags). A re-run whose primary tag is in place already has
//     nothing to upload and nothing to read back; it only writes the other
//     tags, all at once.
//   - Only what the registry lacks moves, with every blob operation in
//     flight at once (up to the job limit): layers read from another
//     repository of the same registry are mounted with one request each,
//     layers and images read from the destination repository itself are
//     not touched, and every other blob is checked for and its upload
//     started in the same round trip, then sent and committed with one PUT
//     (see upload).
//   - The manifest is written with the tags, not before them: a PUT by tag
//     stores the manifest too, and every blob it references is in place by
//     then. The other tags go at once, the primary tag last, so a reader of
//     the primary tag finds every other tag written.
//   - With ReadBack, one HEAD of the primary tag confirms the publish.
func All(ctx context.Context, img Artifact, repo name.Repository, tags []name.Tag, opts Options) (Result, error) {
	digest, err := img.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("computing digest: %w", err)
	}
	ref := repo.Digest(digest.String())
	// Progress, and throttling from any upload, log from their own
	// goroutines.
	opts.Logf = serialized(opts.Logf)
	w, p, err := prepare(ctx, img, repo, nil, opts)
	if err != nil {
		return Result{}, err
	}
	// Sessions opened for blobs the registry turned out to have are
	// cancelled in the background, and waited for before returning.
	defer w.background.Wait()

	held, err := w.held(ctx, ref, tags, digest)
	if err != nil {
		return Result{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	if !held.manifest {
		// Uploads count their bytes into progress themselves; the watcher
		// only ticks. Stop it once every write has returned.
		defer w.watchUploads(opts, p.uploadBytes)()
		if err := w.uploadContents(ctx, img, ref, digest, len(tags) == 0); err != nil {
			return Result{}, fmt.Errorf("pushing %s: %w", ref, err)
		}
	}
	return w.finish(ctx, img, ref, digest, tags, held, opts)
}

// finish points tags at img, whose content is in place as ref, and reads
// the publish back when opts say so. held is what the registry held before
// the push: a primary tag in place already (a re-run) confirms the
// manifest, and only the other tags, which may lag, are written.
func (w *writer) finish(ctx context.Context, img Artifact, ref name.Digest, digest v1.Hash, tags []name.Tag, held held, opts Options) (Result, error) {
	res := Result{Digest: digest, Ref: ref, Tags: tags}
	if held.primaryTag {
		if err := w.tags(ctx, img, digest, tags[:len(tags)-1]); err != nil {
			return Result{}, err
		}
		return res, nil
	}
	confirm := opts.ReadBack && (len(tags) > 0 || !held.manifest)
	warning, err := w.tagAndConfirm(ctx, img, ref, digest, tags, confirm, opts.readBackLag())
	if err != nil {
		return Result{}, err
	}
	if warning != "" {
		res.Warnings = append(res.Warnings, warning)
	}
	return res, nil
}

// serialized makes logf safe to call from several goroutines at once; nil
// stays nil (silent).
func serialized(logf func(format string, args ...any)) func(format string, args ...any) {
	if logf == nil {
		return nil
	}
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logf(format, args...)
	}
}

// prepare plans the push of img to repo (mounting from sibling what it
// would upload, when sibling is set) and makes its writer: one
// authenticated transport for the scopes the plan needs (this is where a
// registry is pinged and a token fetched, unless the sessions have them),
// one Pusher for every manifest and tag, and a job limit that rate
// limiting lowers.
func prepare(ctx context.Context, img Artifact, repo name.Repository, sibling *name.Repository, opts Options) (*writer, *plan, error) {
	p, err := planWrite(img, repo, sibling)
	if err != nil {
		return nil, nil, fmt.Errorf("preparing push to %s: %w", repo, err)
	}
	retry := opts.Sessions.Retry()
	rt, err := opts.Sessions.Transport(ctx, repo, p.scopes(repo)...)
	if err != nil {
		return nil, nil, err
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(rt),
		registryhttp.NoRemoteRetry(),
		remote.WithJobs(opts.jobs(p.operations)),
		// Which non-distributable layers to upload is decided here (see
		// blobs): those without urls, which nobody could fetch otherwise.
		remote.WithNondistributable,
	}
	// One Pusher for every manifest and tag: its per-repository writer
	// shares the transport above.
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return nil, nil, fmt.Errorf("preparing push to %s: %w", repo, err)
	}
	w := &writer{repo: repo, sibling: sibling, pusher: pusher, client: &http.Client{Transport: rt}, ropts: ropts, retry: retry, sem: newLimiter(opts.jobs(p.operations))}
	retry.OnThrottle(func() {
		if n, lowered := w.sem.lower(); lowered && opts.Logf != nil {
			opts.Logf("The registry is rate limiting: %d upload(s) at once from now on", n)
		}
	})
	return w, p, nil
}

// watchUploads starts progress reporting when the uploads, uploadBytes in
// all, are big enough to outlast a progress interval and opts log; the
// returned stop ends it with a closing line (a no-op when nothing started).
func (w *writer) watchUploads(opts Options, uploadBytes int64) (stop func()) {
	threshold := int64(progressThreshold)
	if opts.progressFrom > 0 {
		threshold = opts.progressFrom
	}
	if opts.Logf == nil || uploadBytes < threshold {
		return func() {}
	}
	w.progress = newProgressLog(opts.Logf, uploadBytes, ProgressInterval, time.Now())
	_, stop = watchProgress(w.progress)
	return stop
}

// uploadContents writes every blob and child manifest of img the registry
// lacks and, when no tag will store it (byDigestOnly), the manifest by
// digest.
func (w *writer) uploadContents(ctx context.Context, img Artifact, ref name.Digest, digest v1.Hash, byDigestOnly bool) error {
	if err := w.contents(ctx, img, digest); err != nil {
		return err
	}
	if byDigestOnly {
		return w.putManifest(ctx, ref, img, digest)
	}
	return nil
}

// tagAndConfirm points every tag at the manifest ref, the primary tag last
// (see tags), and with confirm reads the publish back, waiting up to lag
// for a tag that reads stale; it returns readBack's warning, if any.
func (w *writer) tagAndConfirm(ctx context.Context, img Artifact, ref name.Digest, digest v1.Hash, tags []name.Tag, confirm bool, lag time.Duration) (warning string, err error) {
	if err := w.tags(ctx, img, digest, tags); err != nil {
		return "", err
	}
	if !confirm {
		return "", nil
	}
	return readBack(ctx, ref, tags, digest, w.ropts, lag)
}

// readBackLag is how long a read-back waits for a stale tag: TagLag, or
// tagLag in tests.
func (o Options) readBackLag() time.Duration {
	if o.tagLag > 0 {
		return o.tagLag
	}
	return TagLag
}
