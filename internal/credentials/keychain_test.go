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
		GitHubHosts:  []string{"ghcr.io", "docker.pkg.github.com", "containers.ghe.example.com"},
		Username:     "octocat",
		Token:        "ghs_token",
		PasswordHost: "registry.example.com",
		Password:     "hunter2",
	}
	tests := []struct {
		repo string
		want authn.AuthConfig
	}{
		{"ghcr.io/acme/widget", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"GHCR.IO/acme/widget", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"docker.pkg.github.com/acme/widget/app", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"containers.ghe.example.com/acme/widget", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"registry.example.com/acme/widget", authn.AuthConfig{Username: "octocat", Password: "hunter2"}},
		// Look-alikes and every other host get nothing.
		{"containers.evil.example/acme/widget", authn.AuthConfig{}},
		{"ghcr.io.evil.example/acme/widget", authn.AuthConfig{}},
		{"index.docker.io/library/alpine", authn.AuthConfig{}},
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
