// Package readback reads every tag of a repository back in full with
// skopeo, an outside client: each tag's index, every platform image and
// attestation it lists, and every blob of each, digests checked. It is the
// test that a clean-up left no tag pointing at missing content.
package readback

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/testkit/need"
)

// AllTags copies every tag of host/repo with skopeo copy --all into an OCI
// layout, which fetches and verifies every manifest and blob, and returns
// the tags read. creds is user:password for the registry; it reaches only
// skopeo's command line, never a log.
func AllTags(t testing.TB, host, repo, creds string) []string {
	t.Helper()
	skopeo := need.Tool(t, "skopeo")
	ref := "docker://" + host + "/" + repo
	out, err := run(skopeo, "list-tags", "--tls-verify=false", "--creds", creds, ref)
	if err != nil {
		t.Fatalf("skopeo list-tags %s: %v", ref, err)
	}
	var list struct{ Tags []string }
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("skopeo list-tags %s: %v", ref, err)
	}
	dir := t.TempDir()
	for i, tag := range list.Tags {
		dest := fmt.Sprintf("oci:%s:t%d", filepath.Join(dir, "layout"), i)
		args := []string{"copy", "--all", "--preserve-digests", "--src-tls-verify=false", "--src-creds", creds, ref + ":" + tag, dest}
		_, err := run(skopeo, args...)
		if err != nil && strings.Contains(err.Error(), "must be converted") {
			// skopeo 1.9 (Debian 12) does not know OCI 1.1's artifactType
			// in an index entry (a referrers fallback index has it), so it
			// must rewrite the index it writes; it still reads and checks
			// every manifest and blob, which is the point here.
			_, err = run(skopeo, slices.DeleteFunc(args, func(a string) bool { return a == "--preserve-digests" })...)
		}
		if err != nil {
			t.Errorf("reading %s:%s back in full: %v", ref, tag, err)
		}
	}
	return list.Tags
}

func run(name string, args ...string) ([]byte, error) {
	out, err := exec.Command(name, args...).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return out, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return out, err
}
