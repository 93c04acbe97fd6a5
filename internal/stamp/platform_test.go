package stamp

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// TestPlatformFormsMatchInputs keeps stamp's platform forms the same as
// inputs': CheckPlatforms compares platforms the platforms input parsed
// with the ones stamp found, and the outputs print both.
func TestPlatformFormsMatchInputs(t *testing.T) {
	t.Parallel()
	for _, p := range []v1.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm64", Variant: "v8"},
		{OS: "linux", Architecture: "arm64"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
		{OS: "linux", Architecture: "amd64", Variant: "v8"},
		{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234"},
		{OS: "linux", Architecture: "arm64", Variant: "v8", OSVersion: "1"},
		{OS: "linux"},
		{},
	} {
		if got, want := platformKey(p), inputs.PlatformString(p); got != want {
			t.Errorf("platformKey(%+v) = %q, want %q as inputs.PlatformString", p, got, want)
		}
		if got, want := platformText(p), inputs.PlatformText(p); got != want {
			t.Errorf("platformText(%+v) = %q, want %q as inputs.PlatformText", p, got, want)
		}
	}
}

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
