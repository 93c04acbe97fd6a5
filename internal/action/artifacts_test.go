package action

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// TestArtifactsDeclared: a multi-platform publish declares, in the
// runner's $GITHUB_ARTIFACTS file, the index and each platform image by
// digest, after what earlier steps declared; not the attestation
// manifests, which describe the images. A following actions/attest step
// with no subject attests exactly those. A dry run declares nothing.
func TestArtifactsDeclared(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	writeBuildx(t, f, "multi", sample.IndexOptions{Seed: "artifacts", Attestations: true})
	const earlier = "oci://ghcr.io/acme/other@sha256:0123456789012345678901234567890123456789012345678901234567890123\n"
	for _, push := range []string{"true", "false"} {
		t.Run("push "+push, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "artifacts")
			if err := os.WriteFile(path, []byte(earlier), 0o644); err != nil {
				t.Fatal(err)
			}
			r := f.run(t, map[string]string{
				"INPUT_SOURCE": "oci:multi", "INPUT_TAGS": "1.0", "INPUT_ATTESTATIONS": "preserve",
				"INPUT_PUSH": push, "GITHUB_ARTIFACTS": path,
			})
			if r.err != nil {
				t.Fatalf("Run() = %v\n%s", r.err, r.log)
			}
			want := earlier
			if push == "true" {
				repo := f.reg.Host() + "/acme/widget"
				want += "oci://" + repo + "@" + r.outputs["digest"] + "\n"
				var platforms []struct{ Digest string }
				if err := json.Unmarshal([]byte(r.outputs["platforms"]), &platforms); err != nil || len(platforms) != 2 {
					t.Fatalf("platforms output %q: %v", r.outputs["platforms"], err)
				}
				for _, p := range platforms {
					want += "oci://" + repo + "@" + p.Digest + "\n"
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("GITHUB_ARTIFACTS mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
