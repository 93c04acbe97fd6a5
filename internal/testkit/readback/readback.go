// Package readback reads what a registry serves back the way an outside
// client does, not through go-containerregistry, which the action itself
// uses: with plain HTTP and the distribution API, and with skopeo. AllTags
// reads every tag of a repository back in full: each tag's index, every
// platform image and attestation it lists, and every blob of each, digests
// checked. It is the test that a clean-up left no tag pointing at missing
// content.
package readback

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/testkit/need"
)

// AllTags lists the tags of host/repo with plain HTTP and returns them;
// then, as a subtest that only skopeo's absence skips (need.WithTool), it
// copies every tag with skopeo copy --all into an OCI layout, which fetches
// and verifies every manifest and blob. creds is user:password for the
// registry; it reaches only the token request and skopeo's command line,
// never a log.
func AllTags(t *testing.T, host, repo, creds string) []string {
	t.Helper()
	var list struct{ Tags []string }
	body, _ := Get(t, host, repo, Token(t, host, repo, creds), "/tags/list", "")
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("listing the tags of %s/%s: %v", host, repo, err)
	}
	need.WithTool(t, "skopeo", func(t *testing.T, skopeo string) {
		copyAll(t, skopeo, "docker://"+host+"/"+repo, creds, list.Tags)
	})
	return list.Tags
}

// copyAll copies every tag of ref with skopeo copy --all into an OCI layout.
func copyAll(t *testing.T, skopeo, ref, creds string, tags []string) {
	t.Helper()
	dir := t.TempDir()
	for i, tag := range tags {
		dest := fmt.Sprintf("oci:%s:t%d", filepath.Join(dir, "layout"), i)
		args := []string{"copy", "--all", "--preserve-digests", "--src-tls-verify=false", "--src-creds", creds, ref + ":" + tag, dest}
		_, err := Run(skopeo, args...)
		if err != nil && strings.Contains(err.Error(), "must be converted") {
			// skopeo 1.9 (Debian 12) does not know OCI 1.1's artifactType
			// in an index entry (a referrers fallback index has it), so it
			// must rewrite the index it writes; it still reads and checks
			// every manifest and blob, which is the point here.
			_, err = Run(skopeo, slices.DeleteFunc(args, func(a string) bool { return a == "--preserve-digests" })...)
		}
		if err != nil {
			t.Errorf("reading %s:%s back in full: %v", ref, tag, err)
		}
	}
}

// Token does the token exchange a registry client does after a 401, for a
// pull token on repo, with creds (user:password) as basic auth; the realm
// is the test registry's (registrytest's /token).
func Token(t testing.TB, host, repo, creds string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+host+"/token?service="+host+"&scope=repository:"+repo+":pull", nil)
	user, pass, _ := strings.Cut(creds, ":")
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	return body.Token
}

// Get fetches path under http://host/v2/REPO with bearer, asking for
// accept when it is not "", and ends the test unless the answer is 200.
func Get(t testing.TB, host, repo, bearer, path, accept string) ([]byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+host+"/v2/"+repo+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return body, resp.Header
}

// Run runs a program and returns its standard output; its error carries
// the program's standard error.
func Run(name string, args ...string) ([]byte, error) {
	out, err := exec.Command(name, args...).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return out, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return out, err
}
