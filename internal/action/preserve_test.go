package action

import (
	"strings"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// preserveNoticePrefix starts the one notice attestations: preserve gives
// when it leaves attested images without the metadata.
const preserveNoticePrefix = "::notice title=images left unstamped::attestations: preserve left the images of "

// attestations: preserve says once when it leaves attested platform images
// without the metadata, naming them and both fixes; it says nothing when
// every image was stamped (repoint), or carried the metadata already (a
// build that stamped it, here: an index this action published, read back
// from the registry and published again).
func TestPreserveNotice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	writeBuildx(t, f, "multi", sample.IndexOptions{Seed: "notice", Attestations: true})
	ref := "docker://" + f.reg.Host() + "/acme/widget:stamped"
	steps := []struct {
		name   string
		inputs map[string]string
		notice bool
	}{
		{"preserve, images without the metadata", map[string]string{"INPUT_SOURCE": "oci:multi", "INPUT_TAGS": "preserved"}, true},
		{"repoint stamps every image", map[string]string{"INPUT_SOURCE": "oci:multi", "INPUT_TAGS": "stamped", "INPUT_ATTESTATIONS": "repoint"}, false},
		// The same tags, so the same version label: the metadata the images
		// carry is exactly what this run stamps.
		{"preserve, images stamped already", map[string]string{"INPUT_SOURCE": ref, "INPUT_TAGS": "stamped"}, false},
	}
	// In order: the last step reads what the second published.
	for _, step := range steps {
		r := f.run(t, step.inputs)
		if r.err != nil {
			t.Fatalf("%s: Run() = %v\n%s", step.name, r.err, r.log)
		}
		got := strings.Count(r.log, preserveNoticePrefix)
		if want := map[bool]int{true: 1, false: 0}[step.notice]; got != want {
			t.Errorf("%s: %d preserve notices, want %d:\n%s", step.name, got, want, r.log)
		}
		if !step.notice {
			continue
		}
		for _, want := range []string{"linux/amd64, linux/arm64 byte-identical", "attestations: repoint", "labels and annotations outputs", "Metadata, then build, then publish"} {
			if !strings.Contains(r.log, want) {
				t.Errorf("%s: the notice lacks %q:\n%s", step.name, want, r.log)
			}
		}
	}
}
