package registryhttp

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// NoRemoteRetry turns go-containerregistry's own retries off. Every
// request is retried once, by the Retrier in the session's transport;
// go-containerregistry retrying around it would multiply the attempts.
func NoRemoteRetry() remote.Option {
	return remote.WithRetryPredicate(func(error) bool { return false })
}

// RemoteOptions are go-containerregistry options that reach repo through
// its registry's session, good for scopes: the session's token, retries
// and user agent, with go-containerregistry's own retries off. Its
// transport is a *transport.Wrapper, which go-containerregistry uses as
// it is: no second ping, no second token.
func (s *Sessions) RemoteOptions(ctx context.Context, repo name.Repository, scopes ...string) ([]remote.Option, error) {
	rt, err := s.Transport(ctx, repo, scopes...)
	if err != nil {
		return nil, err
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithTransport(rt), NoRemoteRetry()}, nil
}
