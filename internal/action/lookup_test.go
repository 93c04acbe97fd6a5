package action

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// unavailableRegistry answers every request 503, forever, and counts them.
func unavailableRegistry(t *testing.T) (host string, requests func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"down for maintenance"}]}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestRunThatWritesNothingDoesNotWaitOnTheRegistry: with no source
// (metadata-only) or push: false, latest=auto's tag list is a bounded
// lookup. A registry that never answers, or answers 503 forever, costs a
// warning that names it, not the publish budget; the outputs are what the
// rules give, latest included.
func TestRunThatWritesNothingDoesNotWaitOnTheRegistry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	release := map[string]string{
		"GITHUB_REF": "refs/tags/v2.0.0", "GITHUB_REF_NAME": "v2.0.0", "GITHUB_REF_TYPE": "tag",
		"INPUT_TAGS": "type=semver,pattern={{version}}",
	}
	tests := []struct {
		name   string
		silent bool // else 503 forever
		extra  map[string]string
	}{
		{"metadata-only, silent", true, map[string]string{"INPUT_SOURCE": ""}},
		{"push false, silent", true, map[string]string{"INPUT_PUSH": "false"}},
		{"metadata-only, 503", false, map[string]string{"INPUT_SOURCE": ""}},
		{"push false, 503", false, map[string]string{"INPUT_PUSH": "false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var host string
			var held func() int
			var requests func() []string
			// The lookup's time: short where only time can end it (a
			// registry that never answers), an hour where the attempts
			// must.
			bound := time.Hour
			if tt.silent {
				host, held = registrytest.Silent(t)
				bound = 200 * time.Millisecond
			} else {
				host, requests = unavailableRegistry(t)
			}
			vars := map[string]string{"INPUT_IMAGE": host + "/acme/widget"}
			for k, v := range release {
				vars[k] = v
			}
			for k, v := range tt.extra {
				vars[k] = v
			}
			opts := f.options()
			opts.RegistryRetry = registryhttp.Policy{Base: time.Millisecond, Max: time.Millisecond, Lookup: bound, Seed: 1}
			r := runAction(t, f.env(vars), opts)
			assertNoSecret(t, r)
			if r.err != nil {
				t.Fatalf("Run() = %v\n%s", r.err, r.log)
			}
			want := host + "/acme/widget:2.0.0\n" + host + "/acme/widget:latest"
			if r.outputs["tags"] != want {
				t.Errorf("tags output = %q, want %q", r.outputs["tags"], want)
			}
			warning := "flavor latest=auto: could not read the tags of " + host + "/acme/widget"
			if tt.silent {
				warning = "flavor latest=auto: skipped reading the tags of " + host + "/acme/widget: " + host + " did not answer within 200ms, and a run that pushes nothing does not wait on a registry"
			}
			var warnings []string
			for _, line := range strings.Split(r.log, "\n") {
				if strings.HasPrefix(line, "::warning") {
					warnings = append(warnings, line)
				}
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], warning) {
				t.Errorf("warnings = %q, want one saying %q", warnings, warning)
			}
			if tt.silent {
				// Abandoned: the run returned while the registry still
				// holds the connection it accepted and never answered.
				if n := held(); n == 0 {
					t.Errorf("the silent registry was never asked")
				}
				return
			}
			// The lookup's request is sent LookupAttempts times, not
			// retried for the publish budget.
			list := "GET /v2/acme/widget/tags/list"
			if diff := cmp.Diff(slices.Repeat([]string{list}, registryhttp.LookupAttempts), requests()); diff != "" {
				t.Errorf("requests to the 503 registry mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
