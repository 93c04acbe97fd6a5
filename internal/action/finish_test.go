package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestFinishCancelled: a cancelled run says what it leaves, and keeps the
// step's own error under that, so a caller can still tell what the step
// was doing (here, a registry's answer).
func TestFinishCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("signal: terminated"))
	step := fmt.Errorf("pushing ghcr.io/acme/widget: %w", &transport.Error{StatusCode: http.StatusServiceUnavailable})
	err := finish(ctx, step, secrets{})
	if !strings.HasPrefix(err.Error(), "cancelled before the publish finished (signal: terminated): ") {
		t.Errorf("finish() = %q, want the cancellation advice", err)
	}
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("finish() = %v, which does not keep the step's *transport.Error", err)
	}
	if err := finish(context.Background(), step, secrets{}); err.Error() != step.Error() {
		t.Errorf("finish() of a run not cancelled = %q, want the step's error %q", err, step)
	}
}
