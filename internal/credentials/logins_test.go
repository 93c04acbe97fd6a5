package credentials_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// internet routes each host name to a registry in process, as DNS would,
// and names each registry's token realm as a test says: the guard and the
// recorder above it see the names a client sees (ghcr.io, quay.io, Docker
// Hub's), the real registries behind them check the credentials.
type internet struct {
	sites map[string]*registrytest.Registry // host → registry serving it
	realm map[string]string                 // host → the host its 401 names as realm
}

func (n internet) RoundTrip(req *http.Request) (*http.Response, error) {
	reg := n.sites[req.URL.Hostname()]
	if reg == nil {
		return nil, fmt.Errorf("no such host %s", req.URL.Host)
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", reg.Host(), req.URL.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if c := resp.Header.Get("WWW-Authenticate"); c != "" {
		realm := n.realm[req.URL.Hostname()]
		if realm == "" {
			realm = req.URL.Hostname()
		}
		resp.Header.Set("WWW-Authenticate", strings.Replace(c, "http://"+reg.Host()+"/token", "https://"+realm+"/token", 1))
	}
	resp.Request = req
	return resp, nil
}

// TestLoginsStayOnTheirRegistries: a publish to GitHub's registry, quay.io
// and Docker Hub (under each of its names) in one run, each with its own
// credentials. Per request, as it leaves: the token reaches GitHub's
// registry only, quay.io's password quay.io only, Docker Hub's password
// its token service only (the registry itself then sees a bearer token);
// and a realm moved to another registry, even one with credentials of its
// own, gets nothing.
func TestLoginsStayOnTheirRegistries(t *testing.T) {
	t.Parallel()
	const quayPassword, hubPassword = "quay-robot-password-42", "dckr_pat_hub-password-42"
	start := func(password string) *registrytest.Registry {
		reg, err := registrytest.Start(registrytest.Options{Passwords: []string{password}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reg.Close() })
		return reg
	}
	ghcr, quay, hub := start(token), start(quayPassword), start(hubPassword)
	sites := map[string]*registrytest.Registry{
		"ghcr.io": ghcr, "quay.io": quay,
		"index.docker.io": hub, "registry-1.docker.io": hub, "auth.docker.io": hub,
	}
	hubRealm := map[string]string{"index.docker.io": "auth.docker.io", "registry-1.docker.io": "auth.docker.io"}
	keychain := credentials.Keychain{
		GitHubHosts: credentials.Hosts{"ghcr.io"},
		Username:    "octocat",
		Token:       token,
		Logins: []credentials.Login{
			{Registry: "quay.io", Username: "robot", Password: quayPassword},
			{Registry: "docker.io", Username: "hubber", Password: hubPassword},
		},
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		keychain credentials.Keychain
		realm    map[string]string // host → realm host, beyond Docker Hub's own
		push     []string          // destinations, pushed in order
		unguard  bool
		want     map[string][]string // host → secrets it received
		denied   bool                // the last push is refused before it leaves
	}{
		{"three registries, Docker Hub under each name", keychain, nil,
			[]string{"ghcr.io/acme/widget:1", "quay.io/acme/widget:1", "docker.io/acme/widget:1", "index.docker.io/acme/widget:2", "registry-1.docker.io/acme/widget:3"}, false,
			map[string][]string{"ghcr.io": {token}, "quay.io": {quayPassword}, "auth.docker.io": {hubPassword}}, false},
		{"unguarded, the probe sees quay.io's password reach GitHub's registry", keychain, map[string]string{"quay.io": "ghcr.io"},
			[]string{"quay.io/acme/widget:1"}, true,
			map[string][]string{"ghcr.io": {quayPassword}}, false},
		{"quay.io's realm on GitHub's registry", keychain, map[string]string{"quay.io": "ghcr.io"},
			[]string{"ghcr.io/acme/widget:1", "quay.io/acme/widget:1"}, false,
			map[string][]string{"ghcr.io": {token}}, true},
		{"GitHub's realm on quay.io", keychain, map[string]string{"ghcr.io": "quay.io"},
			[]string{"quay.io/acme/widget:1", "ghcr.io/acme/widget:1"}, false,
			map[string][]string{"quay.io": {quayPassword}}, true},
		{"quay.io's realm on Docker Hub's token service", keychain, map[string]string{"quay.io": "auth.docker.io"},
			[]string{"docker.io/acme/widget:1", "quay.io/acme/widget:1"}, false,
			map[string][]string{"auth.docker.io": {hubPassword}}, true},
		{"Docker Hub's realm on quay.io", keychain, map[string]string{"index.docker.io": "quay.io"},
			[]string{"docker.io/acme/widget:1"}, false,
			nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			realm := map[string]string{}
			for _, m := range []map[string]string{hubRealm, tt.realm} {
				for k, v := range m {
					realm[k] = v
				}
			}
			rec := &recorder{next: internet{sites: sites, realm: realm}, secrets: []string{token, quayPassword, hubPassword}, got: map[string][]string{}}
			var rt http.RoundTripper = rec
			if !tt.unguard {
				rt = tt.keychain.Transport(rec)
			}
			var err error
			for _, dest := range tt.push {
				if err = remote.Write(mustRef(t, dest), img, remote.WithAuthFromKeychain(tt.keychain), remote.WithTransport(rt)); err != nil {
					break
				}
			}
			var denied *credentials.DeniedError
			switch {
			case tt.denied && !errors.As(err, &denied):
				t.Fatalf("last push = %v; want a *credentials.DeniedError", err)
			case !tt.denied && !tt.unguard && err != nil:
				t.Fatalf("push = %v", err)
			}
			for _, s := range rec.secrets {
				if err != nil && strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows a secret", err)
				}
			}
			got := map[string][]string{}
			for host, secrets := range rec.got {
				slices.Sort(secrets)
				got[host] = slices.Compact(secrets)
			}
			if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
				t.Errorf("secrets received by host (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenNeverALogin: the token given as another registry's password (a
// workflow passing secrets.GITHUB_TOKEN to the wrong registry) is not sent
// there: the registry gets no credentials, and the guard still holds the
// token to GitHub's registries.
func TestTokenNeverALogin(t *testing.T) {
	t.Parallel()
	quay, err := registrytest.Start(registrytest.Options{Passwords: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { quay.Close() })
	keychain := credentials.Keychain{
		GitHubHosts: credentials.Hosts{"ghcr.io"},
		Token:       token,
		Logins:      []credentials.Login{{Registry: "quay.io", Username: "robot", Password: token}},
	}
	if keychain.HasCredentials("quay.io") {
		t.Error("HasCredentials(quay.io) = true for a login whose password is the token")
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: internet{sites: map[string]*registrytest.Registry{"quay.io": quay}}, secrets: []string{token}, got: map[string][]string{}}
	err = remote.Write(mustRef(t, "quay.io/acme/widget:1"), img, remote.WithAuthFromKeychain(keychain), remote.WithTransport(keychain.Transport(rec)))
	if err == nil {
		t.Fatal("push to quay.io succeeded: the token was sent there")
	}
	if len(rec.got) != 0 {
		t.Errorf("secrets received by host: %v, want none", rec.got)
	}
	// Sent by hand, as a realm or redirect could make a client do: refused.
	req, _ := http.NewRequest(http.MethodGet, "https://quay.io/token", nil)
	req.SetBasicAuth("robot", token)
	var denied *credentials.DeniedError
	if _, err := keychain.Transport(rec).RoundTrip(req); !errors.As(err, &denied) {
		t.Errorf("the token in a request to quay.io: %v, want a *credentials.DeniedError", err)
	}
}
