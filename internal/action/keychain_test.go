package action

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// TestEnterpriseKeychain: on GitHub Enterprise the token goes to that
// Enterprise's registries only. ghcr.io is another registry there: a
// destination on it gets the password given, a source on it gets nothing
// (a public image pulls anonymously), never the Enterprise token.
func TestEnterpriseKeychain(t *testing.T) {
	t.Parallel()
	in := inputs.Inputs{Context: inputs.Context{ServerURL: "https://ghe.example"}, Username: "octocat", Token: "ghs_enterpriseToken", Password: "ghcr-password"}
	resolve := func(k authn.Keychain, repo string) authn.AuthConfig {
		t.Helper()
		r, err := name.NewRepository(repo)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := k.Resolve(r)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := authn.Authorization(t.Context(), auth)
		if err != nil {
			t.Fatal(err)
		}
		return *cfg
	}
	tests := []struct {
		dest, repo string
		want       authn.AuthConfig
	}{
		{"ghcr.io/acme/widget", "ghcr.io/acme/widget", authn.AuthConfig{Username: "octocat", Password: "ghcr-password"}},
		{"containers.ghe.example/acme/widget", "ghcr.io/library/base", authn.AuthConfig{}},
		{"containers.ghe.example/acme/widget", "containers.ghe.example/acme/base", authn.AuthConfig{Username: "octocat", Password: "ghs_enterpriseToken"}},
		{"ghcr.io/acme/widget", "docker.pkg.github.com/acme/widget/base", authn.AuthConfig{}},
	}
	for _, tc := range tests {
		dest, err := name.NewRepository(tc.dest)
		if err != nil {
			t.Fatal(err)
		}
		in.Image = dest
		if diff := cmp.Diff(tc.want, resolve(newKeychain(in, Options{}), tc.repo)); diff != "" {
			t.Errorf("publishing to %s, credentials for %s (-want +got):\n%s", tc.dest, tc.repo, diff)
		}
	}
}
