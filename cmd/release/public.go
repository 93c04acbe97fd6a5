package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

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
	_, err = remote.Head(ref, remote.WithContext(ctx), remote.WithAuth(authn.Anonymous))
	if err == nil {
		return nil
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			pkg := linkcheck.Describe(ref.Context(), serverURL, org)
			return fmt.Errorf("%s cannot be pulled without credentials (HTTP %d), and runners pull a docker:// action image before any step can log in: make the package public at %s (Danger Zone, Change visibility), then re-run this job",
				ref.Context(), te.StatusCode, pkg.SettingsURL)
		}
	}
	return fmt.Errorf("pulling %s anonymously: %w", ref, err)
}
