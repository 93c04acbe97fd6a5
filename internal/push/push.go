// Package push writes a stamped image to its destination: blobs the registry
// lacks, then the manifest by digest, then each tag. Tags are written last, so
// a tag only ever points at content that is complete in the registry.
package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options say how to reach the registry.
type Options struct {
	Keychain authn.Keychain
	// Transport carries requests; nil means go-containerregistry's default,
	// which retries 408, 429 and 5xx answers.
	Transport http.RoundTripper
	// UserAgent identifies the action to the registry.
	UserAgent string
	// Backoff paces retries of failed requests; zero means
	// go-containerregistry's default (1 s, then 3 s, then 9 s).
	Backoff remote.Backoff
	// Jobs bounds how many blobs are uploaded or mounted at once; zero
	// scales it to the work: one per blob, at most max(4, 2×GOMAXPROCS).
	Jobs int
	// Logf, when set, receives progress of uploads that take longer than
	// ProgressInterval: one line per interval with the bytes done, the
	// total, the percentage and the rate, and a closing line. Nil: silent.
	Logf func(format string, args ...any)
	// progressFrom overrides progressThreshold, for tests.
	progressFrom int64
}

// transport is the registry transport with Retry-After honoured.
func (o Options) transport() http.RoundTripper {
	base := o.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	return RetryAfter(base)
}

// backoff is Backoff or go-containerregistry's default.
func (o Options) backoff() remote.Backoff {
	if o.Backoff.Steps > 0 {
		return o.Backoff
	}
	return remote.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}
}

// jobs is how many blob operations run at once for n of them.
func (o Options) jobs(n int) int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return max(1, min(n, max(4, 2*runtime.GOMAXPROCS(0))))
}

// retryStatusCodes are the answers worth another try: go-containerregistry's
// defaults (remote.defaultRetryStatusCodes).
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
	499, // nginx: client closed request
	522, // Cloudflare: connection timed out
}

// temporary is go-containerregistry's default retry predicate
// (remote.defaultRetryPredicate): network failures and answers that say
// so.
func temporary(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if t, ok := err.(interface{ Temporary() bool }); ok && t.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// authenticate returns one transport to repo's registry, authenticated for
// scopes, wrapped so that go-containerregistry uses it as it is. Every
// request of a push goes through it: the registry is pinged and a token
// fetched once, not again for each tag, child or mounted repository.
// Because go-containerregistry adds nothing to a transport.Wrapper, the
// retries and user agent it would add are added here, the same way.
func (o Options) authenticate(ctx context.Context, repo name.Repository, scopes []string) (http.RoundTripper, error) {
	var auth authn.Authenticator = authn.Anonymous
	if o.Keychain != nil {
		var err error
		if auth, err = authn.Resolve(ctx, o.Keychain, repo); err != nil {
			return nil, fmt.Errorf("resolving credentials for %s: %w", repo.RegistryStr(), err)
		}
	}
	t := transport.NewRetry(o.transport(),
		transport.WithRetryBackoff(o.backoff()),
		transport.WithRetryPredicate(temporary),
		transport.WithRetryStatusCodes(retryStatusCodes...))
	t = transport.NewUserAgent(t, o.UserAgent)
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, t, scopes)
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", repo.RegistryStr(), err)
	}
	return rt, nil
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
}

// Artifact is what gets pushed: a v1.Image or a v1.ImageIndex.
type Artifact interface {
	remote.Taggable
	Digest() (v1.Hash, error)
}

// All pushes img (an image, or an index with all its children) to repo and
// points every tag at it. With no tags it is pushed by digest only.
//
// Before anything is uploaded, one HEAD asks whether the registry already
// has the manifest: a re-run then writes only the tags. Otherwise only what
// the registry lacks moves: layers read from another repository of the
// same registry are mounted with one request each (no existence check
// first: a mount of a blob already there succeeds too), layers and images
// read from the destination repository itself are not touched at all, and
// the rest is uploaded by go-containerregistry, which checks existence
// first and streams each blob once.
func All(ctx context.Context, img Artifact, repo name.Repository, tags []name.Tag, opts Options) (Result, error) {
	digest, err := img.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("computing digest: %w", err)
	}
	ref := repo.Digest(digest.String())
	plan, err := planWrite(img, repo)
	if err != nil {
		return Result{}, fmt.Errorf("preparing push to %s: %w", repo, err)
	}
	rt, err := opts.authenticate(ctx, repo, plan.scopes(repo))
	if err != nil {
		return Result{}, err
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(rt),
		remote.WithRetryBackoff(opts.backoff()),
		remote.WithJobs(opts.jobs(plan.operations)),
		// Which non-distributable layers to upload is decided here (see
		// blobs): those without urls, which nobody could fetch otherwise.
		remote.WithNondistributable,
	}
	exists, err := manifestExists(ctx, ref, ropts)
	if err != nil {
		return Result{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	var progress *progressLog
	// Only uploads big enough to outlast a progress interval get progress
	// reporting. Besides, go-containerregistry v0.22's progress reader has a
	// data race when a request fails mid-body (streamBlob's reset reads the
	// byte count the transport goroutine is still adding to): keeping it
	// off small uploads keeps it out of the fault tests, which run -race.
	threshold := int64(progressThreshold)
	if opts.progressFrom > 0 {
		threshold = opts.progressFrom
	}
	if !exists && opts.Logf != nil && plan.uploadBytes >= threshold {
		progress = newProgressLog(opts.Logf, plan.uploadBytes, ProgressInterval, time.Now())
		updates, stop := watchProgress(progress)
		// Every write sends updates, tags too: stop once all have returned.
		defer stop()
		ropts = append(ropts, remote.WithProgress(updates))
	}
	// One Pusher for everything: its per-repository writer, and so every
	// blob upload, manifest and tag, shares the transport above.
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return Result{}, fmt.Errorf("preparing push to %s: %w", repo, err)
	}
	if !exists {
		w := &writer{repo: repo, pusher: pusher, client: &http.Client{Transport: rt}, ropts: ropts, sem: make(chan struct{}, opts.jobs(plan.operations)), progress: progress}
		if err := w.write(ctx, img, digest); err != nil {
			return Result{}, fmt.Errorf("pushing %s: %w", ref, err)
		}
	}
	for _, tag := range tags {
		// Only the manifest: every blob it references is in place by now.
		if err := pusher.Put(ctx, tag, img); err != nil {
			return Result{}, fmt.Errorf("tagging %s: %w", tag, err)
		}
	}
	return Result{Digest: digest, Ref: ref, Tags: tags}, nil
}
