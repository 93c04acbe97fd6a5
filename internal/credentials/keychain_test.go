package credentials

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	k := Keychain{
		GitHubHosts: []string{"ghcr.io", "docker.pkg.github.com", "containers.ghe.example.com"},
		Username:    "octocat",
		Token:       "ghs_token",
		Logins: []Login{
			{Registry: "registry.example.com", Username: "robot", Password: "hunter2"},
			{Registry: "docker.io", Username: "hubber", Password: "hub-token"},
			// Never used: GitHub's registries get the token, and the token
			// goes nowhere else, not even as a login's password.
			{Registry: "ghcr.io", Username: "someone", Password: "other"},
			{Registry: "quay.io", Username: "octocat", Password: "ghs_token"},
		},
	}
	tests := []struct {
		repo string
		want authn.AuthConfig
	}{
		{"ghcr.io/acme/widget", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"GHCR.IO/acme/widget", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"docker.pkg.github.com/acme/widget/app", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"containers.ghe.example.com/acme/widget", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"registry.example.com/acme/widget", authn.AuthConfig{Username: "robot", Password: "hunter2"}},
		{"REGISTRY.example.com/acme/widget", authn.AuthConfig{Username: "robot", Password: "hunter2"}},
		// Docker Hub's names are one registry.
		{"docker.io/acme/widget", authn.AuthConfig{Username: "hubber", Password: "hub-token"}},
		{"index.docker.io/library/alpine", authn.AuthConfig{Username: "hubber", Password: "hub-token"}},
		{"registry-1.docker.io/acme/widget", authn.AuthConfig{Username: "hubber", Password: "hub-token"}},
		{"quay.io/acme/widget", authn.AuthConfig{}},
		{"registry.example.com:5000/acme/widget", authn.AuthConfig{}},
		// Look-alikes and every other host get nothing.
		{"containers.evil.example/acme/widget", authn.AuthConfig{}},
		{"ghcr.io.evil.example/acme/widget", authn.AuthConfig{}},
		{"auth.docker.io/acme/widget", authn.AuthConfig{}},
	}
	for _, tt := range tests {
		repo, err := name.NewRepository(tt.repo, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := k.Resolve(repo)
		if err != nil {
			t.Fatalf("Resolve(%s) = %v", tt.repo, err)
		}
		got, err := authn.Authorization(t.Context(), auth)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, *got); diff != "" {
			t.Errorf("Resolve(%s) mismatch (-want +got):\n%s", tt.repo, diff)
		}
	}
}

func TestResolveWithoutToken(t *testing.T) {
	t.Parallel()
	auth, err := Keychain{GitHubHosts: []string{"ghcr.io"}, Username: "octocat"}.Resolve(name.MustParseReference("ghcr.io/a/b").Context())
	if err != nil || auth != authn.Anonymous {
		t.Errorf("Resolve() without a token = %v, %v; want anonymous", auth, err)
	}
}

// TestHasCredentials: what the push's advice for a 401 asks, per registry.
func TestHasCredentials(t *testing.T) {
	t.Parallel()
	k := Keychain{
		GitHubHosts: []string{"ghcr.io"},
		Token:       "ghs_token",
		Logins:      []Login{{Registry: "index.docker.io", Username: "u", Password: "p"}, {Registry: "empty.example", Username: "u"}},
	}
	withConfig := k
	withConfig.Fallback = configKeychain{"config.example": {Username: "u", Password: "from-config"}}
	tests := []struct {
		keychain Keychain
		registry string
		want     bool
	}{
		{k, "ghcr.io", true},
		{Keychain{GitHubHosts: []string{"ghcr.io"}}, "ghcr.io", false},
		{k, "docker.io", true},
		{k, "registry-1.docker.io", true},
		{k, "quay.io", false},
		{k, "empty.example", false},
		{k, "config.example", false},
		{withConfig, "config.example", true},
		{withConfig, "quay.io", false},
	}
	for _, tt := range tests {
		if got := tt.keychain.HasCredentials(tt.registry); got != tt.want {
			t.Errorf("HasCredentials(%q) = %v, want %v (fallback %v)", tt.registry, got, tt.want, tt.keychain.Fallback != nil)
		}
	}
}

// configKeychain stands in for the Docker config.
type configKeychain map[string]authn.AuthConfig

func (c configKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := c[target.RegistryStr()]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}
