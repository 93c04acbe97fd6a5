package push

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TagLag is how long a tag that does not read back yet is polled.
const TagLag = 10 * time.Second

// readBack confirms what All wrote (read-after-write): the last tag, or
// the manifest by digest when there are no tags. One HEAD when all is
// well: a tag that resolves to the digest shows both. A tag that reads
// stale (ghcr.io's tag reads lag a push at times) is polled for up to
// TagLag; if it still lags, the manifest is confirmed by digest and the
// lag comes back as a warning for the log, not an error. A manifest that
// cannot be read by digest is an error: the push did not land.
func readBack(ctx context.Context, ref name.Digest, tags []name.Tag, digest v1.Hash, ropts []remote.Option, lag time.Duration) (warning string, err error) {
	if len(tags) > 0 {
		tag := tags[len(tags)-1]
		deadline := time.Now().Add(lag)
		for attempt := 1; ; attempt++ {
			desc, err := remote.Head(tag, ropts...)
			if err == nil && desc.Digest == digest {
				return "", nil
			}
			if !time.Now().Before(deadline) || ctx.Err() != nil {
				break
			}
			t := time.NewTimer(min(time.Duration(attempt)*500*time.Millisecond, 2*time.Second))
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		warning = fmt.Sprintf("%s does not read back as %s yet (the registry's tag reads lag its writes); the manifest is in place by digest and the tag should follow", tag, digest)
	}
	if _, err := remote.Head(ref, ropts...); err != nil {
		return warning, fmt.Errorf("reading back %s: %w", ref, err)
	}
	return warning, nil
}
