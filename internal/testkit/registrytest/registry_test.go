package registrytest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const password = "s3cret"

// seenOnly compares requests by what the client sent and the status it
// got, not by how much the server wrote back or when.
var seenOnly = cmpopts.IgnoreFields(Request{}, "ResponseBytes", "Start", "End")

func start(t *testing.T, opts Options) *Registry {
	t.Helper()
	reg, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := reg.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return reg
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatalf("random.Image: %v", err)
	}
	return img
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatalf("name.NewTag(%q): %v", s, err)
	}
	return tag
}

// layerDigests identifies an image by everything a pull must reproduce.
func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	out := []string{d.String()}
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("Layers: %v", err)
	}
	for _, l := range layers {
		ld, err := l.Digest()
		if err != nil {
			t.Fatalf("layer Digest: %v", err)
		}
		out = append(out, ld.String())
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		auth authn.Authenticator
		// wantTokenExchanges are the /token requests the push makes.
		wantTokenExchanges []Request
	}{
		{
			name: "token auth",
			opts: Options{Passwords: []string{"other", password}},
			auth: &authn.Basic{Username: "octocat", Password: password},
			wantTokenExchanges: []Request{{
				Method:        http.MethodGet,
				Path:          "/token",
				RawQuery:      "scope=repository%3Aacme%2Fapp%3Apush%2Cpull&service=HOST",
				Authorization: "Basic " + basic("octocat", password),
				Status:        http.StatusOK,
			}},
		},
		{
			name: "anonymous",
			opts: Options{},
			auth: authn.Anonymous,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := start(t, tc.opts)
			tag := mustTag(t, reg.Host()+"/acme/app:v1")
			img := randomImage(t)

			reg.ResetRequests()
			if err := remote.Write(tag, img, remote.WithAuth(tc.auth)); err != nil {
				t.Fatalf("remote.Write: %v", err)
			}
			pushed := reg.Requests()

			var tokens []Request
			var manifestPut *Request
			for i, r := range pushed {
				if r.Path == "/token" {
					r.RawQuery = strings.ReplaceAll(r.RawQuery, url.QueryEscape(reg.Host()), "HOST")
					tokens = append(tokens, r)
				}
				if r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/") {
					manifestPut = &pushed[i]
				}
			}
			if diff := cmp.Diff(tc.wantTokenExchanges, tokens, seenOnly); diff != "" {
				t.Errorf("token exchanges (-want +got):\n%s", diff)
			}
			if manifestPut == nil || manifestPut.Status != http.StatusCreated || manifestPut.BodyBytes == 0 {
				t.Errorf("manifest PUT = %+v, want status 201 with a body", manifestPut)
			}
			if len(tc.opts.Passwords) > 0 {
				// After the exchange every registry call must carry the
				// token, and only the unauthenticated ping is refused.
				var unauthorized []string
				for _, r := range pushed[1:] {
					if r.Path != "/token" && !strings.HasPrefix(r.Authorization, "Bearer ") {
						t.Errorf("%s %s sent without bearer token", r.Method, r.Path)
					}
					if r.Status == http.StatusUnauthorized {
						unauthorized = append(unauthorized, r.Method+" "+r.Path)
					}
				}
				if diff := cmp.Diff([]Request{{Method: http.MethodGet, Path: "/v2/", Status: http.StatusUnauthorized}}, pushed[:1], seenOnly); diff != "" {
					t.Errorf("first request (-want +got):\n%s", diff)
				}
				if len(unauthorized) > 0 {
					t.Errorf("requests refused after the token exchange: %v", unauthorized)
				}
			} else {
				for _, r := range pushed {
					if r.Status == http.StatusUnauthorized || r.Authorization != "" {
						t.Errorf("anonymous registry: %s %s status %d, Authorization %q", r.Method, r.Path, r.Status, r.Authorization)
					}
				}
			}

			got, err := remote.Image(tag, remote.WithAuth(tc.auth))
			if err != nil {
				t.Fatalf("remote.Image: %v", err)
			}
			if diff := cmp.Diff(layerDigests(t, img), layerDigests(t, got)); diff != "" {
				t.Errorf("pulled image differs (-pushed +pulled):\n%s", diff)
			}
		})
	}
}

func TestPushRefused(t *testing.T) {
	t.Parallel()
	opts := Options{Passwords: []string{password}, ReadOnly: []string{"acme/locked"}}
	tests := []struct {
		name       string
		repo       string
		auth       authn.Authenticator
		wantStatus int
		wantCode   transport.ErrorCode
	}{
		{
			name:       "wrong password",
			repo:       "acme/app",
			auth:       &authn.Basic{Username: "octocat", Password: "wrong"},
			wantStatus: http.StatusUnauthorized,
			wantCode:   transport.UnauthorizedErrorCode,
		},
		{
			name:       "no credentials",
			repo:       "acme/app",
			auth:       authn.Anonymous,
			wantStatus: http.StatusUnauthorized,
			wantCode:   transport.UnauthorizedErrorCode,
		},
		{
			name:       "read-only repository",
			repo:       "acme/locked",
			auth:       &authn.Basic{Username: "octocat", Password: password},
			wantStatus: http.StatusForbidden,
			wantCode:   transport.DeniedErrorCode,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := start(t, opts)
			tag := mustTag(t, reg.Host()+"/"+tc.repo+":v1")

			err := remote.Write(tag, randomImage(t), remote.WithAuth(tc.auth))
			var terr *transport.Error
			if !errors.As(err, &terr) {
				t.Fatalf("remote.Write error = %v, want a *transport.Error", err)
			}
			if terr.StatusCode != tc.wantStatus {
				t.Errorf("StatusCode = %d, want %d (%v)", terr.StatusCode, tc.wantStatus, err)
			}
			if len(terr.Errors) == 0 || terr.Errors[0].Code != tc.wantCode {
				t.Errorf("Errors = %+v, want first code %s", terr.Errors, tc.wantCode)
			}

			// Read back with good credentials: the refused push must have
			// left nothing behind, and reading must be allowed (404, not
			// 401/403).
			tags, err := remote.List(tag.Repository, remote.WithAuth(&authn.Basic{Username: "octocat", Password: password}))
			if err == nil {
				if len(tags) != 0 {
					t.Errorf("tags after refused push = %v, want none", tags)
				}
			} else if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
				t.Errorf("remote.List after refused push: %v, want 404 or no tags", err)
			}

			for _, r := range reg.SettledRequests() {
				if r.Status == 0 {
					t.Errorf("%s %s recorded without a status", r.Method, r.Path)
				}
			}
		})
	}
}

// TestRawProtocol checks the wire details clients depend on, which
// go-containerregistry's errors do not expose.
func TestRawProtocol(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// scope, if set, is requested from /token with the right password
		// and the token is sent with the request.
		scope      []string
		badToken   bool
		method     string
		path       string
		wantStatus int
		// wantChallenge uses HOST for the registry address.
		wantChallenge string
		wantBody      string
	}{
		{
			name:          "base without token",
			method:        http.MethodGet,
			path:          "/v2/",
			wantStatus:    http.StatusUnauthorized,
			wantChallenge: `Bearer realm="http://HOST/token",service="HOST"`,
			wantBody:      `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`,
		},
		{
			name:          "pull without token",
			method:        http.MethodHead,
			path:          "/v2/acme/app/manifests/v1",
			wantStatus:    http.StatusUnauthorized,
			wantChallenge: `Bearer realm="http://HOST/token",service="HOST",scope="repository:acme/app:pull"`,
		},
		{
			name:          "push without token",
			method:        http.MethodPost,
			path:          "/v2/acme/app/blobs/uploads/",
			wantStatus:    http.StatusUnauthorized,
			wantChallenge: `Bearer realm="http://HOST/token",service="HOST",scope="repository:acme/app:pull,push"`,
		},
		{
			name:          "unknown token",
			badToken:      true,
			method:        http.MethodGet,
			path:          "/v2/acme/app/tags/list",
			wantStatus:    http.StatusUnauthorized,
			wantChallenge: `Bearer realm="http://HOST/token",service="HOST",scope="repository:acme/app:pull",error="invalid_token"`,
		},
		{
			name:          "push with pull-only token",
			scope:         []string{"repository:acme/app:pull"},
			method:        http.MethodPost,
			path:          "/v2/acme/app/blobs/uploads/",
			wantStatus:    http.StatusUnauthorized,
			wantChallenge: `Bearer realm="http://HOST/token",service="HOST",scope="repository:acme/app:pull,push",error="insufficient_scope"`,
		},
		{
			name:          "token for another repository",
			scope:         []string{"repository:acme/other:pull"},
			method:        http.MethodGet,
			path:          "/v2/acme/app/tags/list",
			wantStatus:    http.StatusUnauthorized,
			wantChallenge: `Bearer realm="http://HOST/token",service="HOST",scope="repository:acme/app:pull",error="insufficient_scope"`,
		},
		{
			name:       "base with any token",
			scope:      []string{"repository:acme/other:pull"},
			method:     http.MethodGet,
			path:       "/v2/",
			wantStatus: http.StatusOK,
		},
		{
			name:       "read-only write",
			scope:      []string{"repository:acme/locked:push,pull"},
			method:     http.MethodPost,
			path:       "/v2/acme/locked/blobs/uploads/",
			wantStatus: http.StatusForbidden,
			wantBody:   `{"errors":[{"code":"DENIED","message":"permission_denied: write_package"}]}`,
		},
		{
			name:       "read-only read",
			scope:      []string{"repository:acme/locked:pull"},
			method:     http.MethodGet,
			path:       "/v2/acme/locked/tags/list",
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "push with push token",
			scope:      []string{"repository:acme/app:pull,push"},
			method:     http.MethodPost,
			path:       "/v2/acme/app/blobs/uploads/",
			wantStatus: http.StatusAccepted,
		},
		{
			name:       "scopes in one space-separated parameter",
			scope:      []string{"repository:acme/other:pull repository:acme/app:*"},
			method:     http.MethodPost,
			path:       "/v2/acme/app/blobs/uploads/",
			wantStatus: http.StatusAccepted,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := start(t, Options{Passwords: []string{password}, ReadOnly: []string{"acme/locked"}})
			var authz string
			switch {
			case tc.badToken:
				authz = "Bearer not-a-token"
			case tc.scope != nil:
				authz = "Bearer " + fetchToken(t, reg, tc.scope...)
			}

			status, header, body := do(t, tc.method, "http://"+reg.Host()+tc.path, authz)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d; body %s", status, tc.wantStatus, body)
			}
			challenge := strings.ReplaceAll(header.Get("WWW-Authenticate"), reg.Host(), "HOST")
			if diff := cmp.Diff(tc.wantChallenge, challenge); diff != "" {
				t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
			}
			if tc.wantBody != "" {
				if diff := cmp.Diff(tc.wantBody, body); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		authz      string
		scope      string // default repository:a/b:pull
		wantStatus int
	}{
		{name: "right password", authz: "Basic " + basic("anyone", password), wantStatus: http.StatusOK},
		{name: "wrong password", authz: "Basic " + basic("anyone", "nope"), wantStatus: http.StatusUnauthorized},
		{name: "empty user", authz: "Basic " + basic("", password), wantStatus: http.StatusUnauthorized},
		{name: "no credentials", wantStatus: http.StatusUnauthorized},
		{name: "no credentials, public repository", scope: "repository:acme/public:pull", wantStatus: http.StatusOK},
		{name: "no credentials, push to a public repository", scope: "repository:acme/public:pull,push", wantStatus: http.StatusUnauthorized},
		{name: "no credentials, public and private", scope: "repository:acme/public:pull repository:a/b:pull", wantStatus: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := start(t, Options{Passwords: []string{password}, Public: []string{"acme/public"}})
			scope := tc.scope
			if scope == "" {
				scope = "repository:a/b:pull"
			}
			status, _, body := do(t, http.MethodGet, "http://"+reg.Host()+"/token?service=x&scope="+url.QueryEscape(scope), tc.authz)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, tc.wantStatus, body)
			}
			if status != http.StatusOK {
				want := `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`
				if diff := cmp.Diff(want, body); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				return
			}
			var resp struct {
				Token       string `json:"token"`
				AccessToken string `json:"access_token"`
				ExpiresIn   int    `json:"expires_in"`
			}
			if err := json.Unmarshal([]byte(body), &resp); err != nil {
				t.Fatalf("token response %s: %v", body, err)
			}
			if resp.Token == "" || resp.AccessToken != resp.Token || resp.ExpiresIn != 300 {
				t.Errorf("token response = %+v, want token == access_token and expires_in 300", resp)
			}
		})
	}
}

// TestMountFallback checks that a cross-repository mount needs pull on the
// source, and that without it the registry quietly starts a normal upload,
// which is what clients rely on to fall back to uploading the blob.
func TestMountFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		scope      []string
		wantStatus int
	}{
		{
			name:       "pull on source",
			scope:      []string{"repository:acme/dst:push,pull", "repository:acme/src:pull"},
			wantStatus: http.StatusCreated,
		},
		{
			name:       "no pull on source",
			scope:      []string{"repository:acme/dst:push,pull"},
			wantStatus: http.StatusAccepted,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := start(t, Options{Passwords: []string{password}})
			img := randomImage(t)
			auth := remote.WithAuth(&authn.Basic{Username: "octocat", Password: password})
			if err := remote.Write(mustTag(t, reg.Host()+"/acme/src:v1"), img, auth); err != nil {
				t.Fatalf("remote.Write: %v", err)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			digest, err := layers[0].Digest()
			if err != nil {
				t.Fatal(err)
			}

			u := "http://" + reg.Host() + "/v2/acme/dst/blobs/uploads/?" + url.Values{
				"mount": {digest.String()},
				"from":  {"acme/src"},
			}.Encode()
			status, _, body := do(t, http.MethodPost, u, "Bearer "+fetchToken(t, reg, tc.scope...))
			if status != tc.wantStatus {
				t.Errorf("mount status = %d, want %d; body %s", status, tc.wantStatus, body)
			}
		})
	}
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func fetchToken(t *testing.T, reg *Registry, scopes ...string) string {
	t.Helper()
	q := url.Values{"service": {reg.Host()}, "scope": scopes}
	status, _, body := do(t, http.MethodGet, "http://"+reg.Host()+"/token?"+q.Encode(), "Basic "+basic("octocat", password))
	if status != http.StatusOK {
		t.Fatalf("token: status %d: %s", status, body)
	}
	var resp struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("token response %s: %v", body, err)
	}
	return resp.Token
}

func do(t *testing.T, method, u, authz string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// TestAnonymousPull pulls the way docker pull does before any login: a token
// request with no credentials, then the manifest. A public repository
// answers; a private one refuses at the token request, as ghcr.io does.
func TestAnonymousPull(t *testing.T) {
	t.Parallel()
	reg := start(t, Options{Passwords: []string{password}, Public: []string{"acme/public"}})
	owner := remote.WithAuth(&authn.Basic{Username: "octocat", Password: password})
	img := randomImage(t)
	for _, repo := range []string{"acme/public", "acme/private"} {
		if err := remote.Write(mustTag(t, reg.Host()+"/"+repo+":v1"), img, owner); err != nil {
			t.Fatalf("pushing %s: %v", repo, err)
		}
	}
	if _, err := remote.Head(mustTag(t, reg.Host()+"/acme/public:v1"), remote.WithAuth(authn.Anonymous)); err != nil {
		t.Errorf("anonymous pull of a public repository: %v", err)
	}
	reg.ResetRequests()
	_, err := remote.Head(mustTag(t, reg.Host()+"/acme/private:v1"), remote.WithAuth(authn.Anonymous))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous pull of a private repository = %v, want 401", err)
	}
	var got []string
	for _, r := range reg.Requests() {
		got = append(got, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	want := []string{"GET /v2/ 401", "GET /token 401"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests of a refused anonymous pull (-want +got):\n%s", diff)
	}
	// The owner still may.
	if _, err := remote.Head(mustTag(t, reg.Host()+"/acme/private:v1"), owner); err != nil {
		t.Errorf("authenticated pull of a private repository: %v", err)
	}
}

// TestGoneOwner: after an owner is renamed its old namespace refuses every
// write with ghcr's DENIED "not_found: owner not found", and no redirect.
func TestGoneOwner(t *testing.T) {
	t.Parallel()
	reg := start(t, Options{Passwords: []string{password}, GoneOwners: []string{"old-acme"}})
	auth := remote.WithAuth(&authn.Basic{Username: "octocat", Password: password})
	err := remote.Write(mustTag(t, reg.Host()+"/old-acme/widget:v1"), randomImage(t), auth)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden || len(terr.Errors) == 0 ||
		terr.Errors[0].Code != transport.DeniedErrorCode || terr.Errors[0].Message != "not_found: owner not found" {
		t.Fatalf("push under a gone owner = %v, want 403 DENIED not_found: owner not found", err)
	}
	if err := remote.Write(mustTag(t, reg.Host()+"/acme/widget:v1"), randomImage(t), auth); err != nil {
		t.Errorf("push under another owner: %v", err)
	}
}
