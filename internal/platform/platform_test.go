package platform_test

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ghcr-publish/publish-action/internal/platform"
)

func TestForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p         v1.Platform
		key, text string
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64", "linux/amd64"},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, "linux/arm64", "linux/arm64/v8"},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64", "linux/arm64"},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7", "linux/arm/v7"},
		// v8 is arm64's default only: elsewhere it is kept.
		{v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v8"}, "linux/amd64/v8", "linux/amd64/v8"},
		{v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234"}, "windows/amd64:10.0.17763.1234", "windows/amd64:10.0.17763.1234"},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8", OSVersion: "1"}, "linux/arm64:1", "linux/arm64/v8:1"},
		{v1.Platform{OS: "linux"}, "linux/", "linux/"},
		{v1.Platform{}, "/", "/"},
	}
	for _, tc := range tests {
		if got := platform.Key(tc.p); got != tc.key {
			t.Errorf("Key(%+v) = %q, want %q", tc.p, got, tc.key)
		}
		if got := platform.Text(tc.p); got != tc.text {
			t.Errorf("Text(%+v) = %q, want %q", tc.p, got, tc.text)
		}
	}
}
