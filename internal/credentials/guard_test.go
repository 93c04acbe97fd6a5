package credentials_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

const token = "ghs_guardTestToken0123456789"

// reflector records the Authorization headers it receives, as a hostile
// host would, and forwards everything to next.
type reflector struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newReflector(t *testing.T, next *url.URL) *reflector {
	r := &reflector{}
	proxy := httputil.NewSingleHostReverseProxy(next)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Header.Get("Authorization"))
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *reflector) authorizations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.seen {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// TestGuardForeignRealm: a registry whose 401 names a Bearer realm on
// another host. go-containerregistry sends the Basic credentials to any
// realm; the guard refuses the request before it leaves.
func TestGuardForeignRealm(t *testing.T) {
	t.Parallel()
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	regURL := &url.URL{Scheme: "http", Host: reg.Host()}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	keychain := credentials.Keychain{GitHubHosts: credentials.Hosts{reg.Host()}, Username: "octocat", Token: token}
	if err := remote.Write(mustRef(t, reg.Host()+"/acme/widget:v1"), img, remote.WithAuthFromKeychain(keychain)); err != nil {
		t.Fatal(err)
	}

	// The front stands in for ghcr.io: the real registry, with its realm
	// moved to the evil host, which forwards to the real token endpoint
	// so that an unguarded client gets all the way through.
	evil := newReflector(t, regURL)
	// go-containerregistry refuses a realm on a private IP, so the evil
	// host has a name, resolved to the loopback by the test's dialer.
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
	ref := mustRef(t, frontHost+"/acme/widget:v1")
	keychain.GitHubHosts = credentials.Hosts{frontHost}

	t.Run("unguarded, the probe sees the leak", func(t *testing.T) {
		if _, err := remote.Get(ref, remote.WithAuthFromKeychain(keychain), remote.WithTransport(loopback())); err != nil {
			t.Fatalf("unguarded Get: %v", err)
		}
		if len(evil.authorizations()) == 0 {
			t.Fatal("the evil realm saw no credentials: the probe proves nothing")
		}
	})
	t.Run("guarded", func(t *testing.T) {
		evil.mu.Lock()
		evil.seen = nil
		evil.mu.Unlock()
		_, err := remote.Get(ref, remote.WithAuthFromKeychain(keychain), remote.WithTransport(keychain.Transport(loopback())))
		var denied *credentials.DeniedError
		if !errors.As(err, &denied) {
			t.Fatalf("guarded Get = %v; want a *credentials.DeniedError", err)
		}
		if got := evil.authorizations(); len(got) != 0 {
			t.Errorf("the evil realm received %q", got)
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("error %q shows the token", err)
		}
		if !strings.Contains(err.Error(), evilHost) {
			t.Errorf("error %q does not name %s", err, evilHost)
		}
	})
}

// TestGuardRedirectLoop: a registry that answers 307 to the same URL.
// go-containerregistry's redirect check has no hop limit.
func TestGuardRedirectLoop(t *testing.T) {
	t.Parallel()
	const cap = 200 // the unguarded client would loop forever
	var manifestGets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		if manifestGets.Add(1) > cap {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	ref := mustRef(t, strings.TrimPrefix(srv.URL, "http://")+"/acme/widget:v1")

	_, err := remote.Get(ref, remote.WithTransport(credentials.Guard(http.DefaultTransport)))
	var loop *credentials.RedirectError
	if !errors.As(err, &loop) {
		t.Fatalf("Get = %v; want a *credentials.RedirectError", err)
	}
	if n := manifestGets.Load(); n != credentials.MaxRedirects+1 {
		t.Errorf("the registry saw %d manifest requests; want %d (one plus %d redirects)", n, credentials.MaxRedirects+1, credentials.MaxRedirects)
	}
}

// TestGuardRedirectDropsCredentials: a redirect to a host not granted the
// secret is followed without it, even when a transport above the guard
// (oauth2's) sets Authorization on every request it carries.
func TestGuardRedirectDropsCredentials(t *testing.T) {
	t.Parallel()
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			http.Error(w, "got "+a, http.StatusTeapot)
		}
	}))
	t.Cleanup(storage.Close)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, storage.URL+"/blob", http.StatusFound)
	}))
	t.Cleanup(origin.Close)
	originHost := strings.TrimPrefix(origin.URL, "http://")
	client := &http.Client{Transport: setAuth{credentials.Guard(http.DefaultTransport, credentials.Grant{Secret: token, Hosts: credentials.Hosts{originHost}, What: "the GitHub token"})}}
	resp, err := client.Get(origin.URL + "/v2/acme/widget/blobs/sha256:00")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the storage host answered %s; want 200 to a request without credentials", resp.Status)
	}
}

// setAuth sets a Bearer token on every request, as oauth2.Transport does.
type setAuth struct{ next http.RoundTripper }

func (s setAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return s.next.RoundTrip(r)
}

func TestGitHubRegistries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		server string
		host   string
		want   bool
	}{
		{"https://github.com", "ghcr.io", true},
		{"https://github.com", "GHCR.IO", true},
		{"", "docker.pkg.github.com", true},
		{"https://github.com", "ghcr.io.", false},
		{"https://github.com", "ghcr.io.evil.test", false},
		{"https://github.com", "containers.github.com", false},
		// An Enterprise token is no credential for github.com's registry.
		{"https://ghe.example", "containers.ghe.example", true},
		{"https://ghe.example", "docker.ghe.example", true},
		{"https://ghe.example", "ghcr.io", false},
		{"https://ghe.example", "docker.pkg.github.com", false},
		{"https://acme.ghe.com", "containers.acme.ghe.com", true},
	}
	for _, tt := range tests {
		if got := credentials.GitHubRegistries(tt.server).Contains(tt.host); got != tt.want {
			t.Errorf("GitHubRegistries(%q).Contains(%q) = %v, want %v", tt.server, tt.host, got, tt.want)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// loopback is a transport that resolves every host name to 127.0.0.1.
func loopback() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
	}
	return t
}
