package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

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
	backoff := opts.Backoff
	if backoff.Steps == 0 {
		backoff = remote.Backoff{Duration: time.Second, Factor: 3, Steps: 3}
	}
	wait := backoff.Duration
	for attempt := 1; ; attempt++ {
		err := probe(ctx, repo, opts)
		if err == nil || attempt > backoff.Steps || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = time.Duration(float64(wait) * backoff.Factor)
	}
}

// retryable reports whether a probe failure may pass: the same answers
// go-containerregistry retries for the push itself.
func retryable(err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

func probe(ctx context.Context, repo name.Repository, opts Options) error {
	auth, err := opts.Keychain.Resolve(repo)
	if err != nil {
		return fmt.Errorf("resolving credentials for %s: %w", repo.RegistryStr(), err)
	}
	base := opts.transport()
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
