package registryhttp

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// lookupKey marks a lookup's context; its value is the attempts each
// request gets.
type lookupKey struct{}

// Lookup bounds ctx for a read the run can do without: one that only
// refines what a run that writes nothing reports (latest=auto's tag list
// with no source or with push: false). Every request made with the
// returned context is sent at most LookupAttempts times under the run's
// policy, and the lookup gives up once the policy's Lookup time (default
// 10 s) has passed, retries, waits and a registry that never answers
// included: such a run must not spend the publish budget (5 minutes) on a
// registry it does not write to. The Retrier's budget bounds it too. Call
// cancel once the lookup is done; Abandoned says whether it ran out.
func (r *Retrier) Lookup(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithValue(ctx, lookupKey{}, LookupAttempts)
	return context.WithTimeoutCause(ctx, r.p.Lookup, &LookupError{Bound: r.p.Lookup})
}

// LookupError is the cause of a lookup's context whose time ran out.
type LookupError struct {
	Bound time.Duration
}

func (e *LookupError) Error() string {
	return fmt.Sprintf("no answer within %s", e.Bound)
}

// Abandoned reports whether the lookup whose context is ctx ran out of
// time, and how much it had: the registry did not answer, as opposed to
// answering with an error.
func Abandoned(ctx context.Context) (time.Duration, bool) {
	var lerr *LookupError
	if errors.As(context.Cause(ctx), &lerr) {
		return lerr.Bound, true
	}
	return 0, false
}
