package action

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// echoRegistry refuses every request and echoes the request's credentials
// back in its error body — raw, and decoded — as a careless or hostile
// registry might.
func echoRegistry(t *testing.T) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if r.URL.Path == "/v2/" && auth == "" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="%s"`, srv.URL, srv.Listener.Addr()))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		decoded, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
		_, pass, _ := strings.Cut(string(decoded), ":")
		body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{
			"code":    "DENIED",
			"message": fmt.Sprintf("you sent %q, that is %q, and %v; hex %x, url %s", auth, decoded, r.Header, pass, url.QueryEscape(pass)),
		}}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	echo := echoRegistry(t)
	host := echo.Listener.Addr().String()

	// As GitHub's registry: it gets the token, and echoes it.
	opts := f.options()
	opts.GitHubRegistries = append(opts.GitHubRegistries, host)
	r := runAction(t, f.env(map[string]string{"INPUT_IMAGE": host + "/acme/widget", "INPUT_TAGS": "1"}), opts)
	if r.err == nil {
		t.Fatal("Run() against the echoing registry succeeded")
	}
	assertNoSecret(t, r)
	if !strings.Contains(r.err.Error(), "***") {
		t.Errorf("error %q: want the echoed token shown as ***", r.err)
	}

	// As another registry: it gets the password, and echoes it.
	const password = "hunter2-registry-password"
	r = runAction(t, f.env(map[string]string{"INPUT_IMAGE": host + "/acme/widget", "INPUT_TAGS": "1", "INPUT_PASSWORD": password, "INPUT_USERNAME": "robot"}), f.options())
	if r.err == nil {
		t.Fatal("Run() against the echoing registry succeeded")
	}
	basic := base64.StdEncoding.EncodeToString([]byte("robot:" + password))
	for where, s := range map[string]string{"error": r.err.Error(), "log": withoutMasks(r.log), "outputs": r.raw, "summary": r.summary} {
		if strings.Contains(s, password) || strings.Contains(s, basic) || strings.Contains(s, hex.EncodeToString([]byte(password))) || strings.Contains(s, url.QueryEscape(password)) {
			t.Errorf("the password shows in the %s: %s", where, s)
		}
	}
}

// TestSourceSecretsRedactedPerPart: a source read on a registry that echoes
// the credentials it gets. The error names the source input, and each part a
// user is shown (one annotation per part) is redacted, in every form.
func TestSourceSecretsRedactedPerPart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	echo := echoRegistry(t)
	host := echo.Listener.Addr().String()
	opts := f.options()
	opts.GitHubRegistries = append(opts.GitHubRegistries, host)
	r := runAction(t, f.env(map[string]string{"INPUT_SOURCE": host + "/acme/base:1", "INPUT_TAGS": "1"}), opts)
	if r.err == nil {
		t.Fatal("Run() reading from the echoing registry succeeded")
	}
	parts := inputs.Parts(r.err)
	if len(parts) == 0 || inputs.InputOf(parts[0]) != "source" {
		t.Fatalf("Run() = %v; want an error about the source input", r.err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("octocat:" + token))
	for _, p := range parts {
		for _, form := range []string{token, basic, hex.EncodeToString([]byte(token)), url.QueryEscape(token)} {
			if strings.Contains(p.Error(), form) {
				t.Errorf("the part shown to the user holds a form of the token: %s", p)
			}
		}
	}
	assertNoSecret(t, r)
}
