package stamp

import (
	"testing"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// TestAttestationPolicyMatchesInputs keeps stamp's policies the values of
// the attestations input, which the orchestrator converts.
func TestAttestationPolicyMatchesInputs(t *testing.T) {
	t.Parallel()
	for in, want := range map[inputs.Attestations]AttestationPolicy{
		inputs.Preserve: PreserveAttested,
		inputs.Repoint:  RepointAttestations,
		inputs.Drop:     DropAttestations,
	} {
		if got := AttestationPolicy(in); got != want {
			t.Errorf("AttestationPolicy(inputs.%q) = %q, want %q", in, got, want)
		}
	}
}
