// Package push writes a stamped image to its destination: blobs the registry
// lacks, then the manifest by digest, then each tag. Tags are written last, so
// a tag only ever points at content that is complete in the registry.
package push

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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
}

// transport is the registry transport with Retry-After honoured.
func (o Options) transport() http.RoundTripper {
	base := o.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	return RetryAfter(base)
}

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
func All(ctx context.Context, img Artifact, repo name.Repository, tags []name.Tag, opts Options) (Result, error) {
	digest, err := img.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("computing digest: %w", err)
	}
	ref := repo.Digest(digest.String())
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(opts.Keychain),
	}
	ropts = append(ropts, remote.WithTransport(opts.transport()))
	if opts.Backoff.Steps > 0 {
		ropts = append(ropts, remote.WithRetryBackoff(opts.Backoff))
	}
	if opts.UserAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(opts.UserAgent))
	}
	// One Pusher for everything: the token exchange happens once per
	// repository and is reused for each tag.
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return Result{}, fmt.Errorf("preparing push to %s: %w", repo, err)
	}
	if err := pusher.Push(ctx, ref, img); err != nil {
		return Result{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	for _, tag := range tags {
		// Only the manifest: every blob it references is in place by now.
		if err := pusher.Put(ctx, tag, img); err != nil {
			return Result{}, fmt.Errorf("tagging %s: %w", tag, err)
		}
	}
	return Result{Digest: digest, Ref: ref, Tags: tags}, nil
}
