package push

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Probe asks the registry whether these credentials may push to repo, by
// starting a blob upload and cancelling it (distribution spec, "Pushing
// blobs"). ghcr.io refuses a push at exactly that request, so a denied
// publish fails in seconds instead of after uploading gigabytes. Refusals
// come back as *transport.Error; transient faults are retried by
// opts.Sessions, as every other request of the push is.
func Probe(ctx context.Context, repo name.Repository, opts Options) error {
	rt, err := opts.Sessions.Transport(ctx, repo, repo.Scope(transport.PushScope))
	if err != nil {
		return err
	}
	client := &http.Client{Transport: rt}
	resp, loc, err := startUpload(ctx, client, repo, nil)
	if err != nil {
		return fmt.Errorf("checking push access to %s: %w", repo, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusAccepted); err != nil {
		return fmt.Errorf("checking push access to %s: %w", repo, err)
	}
	cancelUpload(ctx, client, loc)
	return nil
}

// uploadsURL is where blob uploads of repo start.
func uploadsURL(repo name.Repository, query url.Values) *url.URL {
	return &url.URL{
		Scheme:   repo.Scheme(),
		Host:     repo.RegistryStr(),
		Path:     fmt.Sprintf("/v2/%s/blobs/uploads/", repo.RepositoryStr()),
		RawQuery: query.Encode(),
	}
}

// startUpload POSTs to repo's upload endpoint (with query, e.g. a mount)
// and returns the answer and, when it names one, the upload session's URL.
// The caller closes the answer's body.
func startUpload(ctx context.Context, client *http.Client, repo name.Repository, query url.Values) (*http.Response, *url.URL, error) {
	u := uploadsURL(repo, query)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	var loc *url.URL
	if l := resp.Header.Get("Location"); l != "" {
		loc, _ = u.Parse(l)
	}
	return resp, loc, nil
}

// cancelUpload ends an upload session the push will not use, so the
// registry does not keep it. Failing to is harmless: registries expire
// abandoned uploads.
func cancelUpload(ctx context.Context, client *http.Client, loc *url.URL) {
	if loc == nil {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, loc.String(), nil)
	if err != nil {
		return
	}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
	}
}
