package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/linkcheck"
)

// CheckPublic pulls image's manifest as an anonymous client: a token
// request without credentials, then a manifest HEAD, which is what the
// runner's `docker pull` of a docker:// action image does before any step
// could log in. A new ghcr.io package is private, so the first release of
// a repository fails here until the package is made public.
func CheckPublic(ctx context.Context, image, serverURL string, org bool) error {
	ref, err := name.NewDigest(image, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("-image %q: want the published image by digest, REGISTRY/OWNER/REPO@sha256:…: %w", image, err)
	}
	// linkcheck owns the anonymous pull, as the action's require-public
	// uses it.
	anon, err := linkcheck.PullAnonymously(ctx, ref, linkcheck.PullOptions{})
	if err != nil {
		return err
	}
	if anon.Pullable {
		return nil
	}
	pkg := linkcheck.Describe(ref.Context(), serverURL, org)
	return fmt.Errorf("%s cannot be pulled without credentials (%s), and runners pull a docker:// action image before any step can log in: make the package public at %s (Danger Zone, Change visibility), then re-run this job",
		ref.Context(), anon.Refusal, pkg.SettingsURL)
}
