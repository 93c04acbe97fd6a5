package push

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Probe asks the registry whether these credentials may push to repo, by
// starting a blob upload and cancelling it (distribution spec, "Pushing
// blobs"). ghcr.io refuses a push at exactly that request, so a denied
// publish fails in seconds instead of after uploading gigabytes. Refusals
// come back as *transport.Error.
func Probe(ctx context.Context, repo name.Repository, opts Options) error {
	auth, err := opts.Keychain.Resolve(repo)
	if err != nil {
		return fmt.Errorf("resolving credentials for %s: %w", repo.RegistryStr(), err)
	}
	base := opts.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	if opts.UserAgent != "" {
		base = transport.NewUserAgent(base, opts.UserAgent)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, base, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return fmt.Errorf("authenticating to %s: %w", repo.RegistryStr(), err)
	}
	client := &http.Client{Transport: rt}
	start := &url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: "/v2/" + repo.RepositoryStr() + "/blobs/uploads/"}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, start.String(), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("checking push access to %s: %w", repo, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusAccepted); err != nil {
		return fmt.Errorf("checking push access to %s: %w", repo, err)
	}
	// Cancel the upload so the registry does not keep an empty session.
	// Failing to is harmless: registries expire abandoned uploads.
	if loc, err := start.Parse(resp.Header.Get("Location")); err == nil && resp.Header.Get("Location") != "" {
		if del, err := http.NewRequestWithContext(ctx, http.MethodDelete, loc.String(), nil); err == nil {
			if resp, err := client.Do(del); err == nil {
				resp.Body.Close()
			}
		}
	}
	return nil
}
