package push

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// Tags lists the tags repo has now (distribution spec, "Listing tags"),
// with pull access only. A repository that does not exist yet has none:
// the first publish of a package is not an error.
func Tags(ctx context.Context, repo name.Repository, opts Options) ([]string, error) {
	rt, err := opts.Sessions.Transport(ctx, repo, repo.Scope(transport.PullScope))
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	tags, err := remote.List(repo, remote.WithContext(ctx), remote.WithTransport(rt), registryhttp.NoRemoteRetry())
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound || hasCode(terr, transport.NameUnknownErrorCode)) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	return tags, nil
}

func hasCode(terr *transport.Error, code transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}
