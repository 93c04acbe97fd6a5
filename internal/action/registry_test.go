package action

import (
	"testing"
	"time"

	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// TestOneHandshakePerRun: the run's registry access is built once, so
// every registry request of a publish shares one authentication: the push,
// the read of what its tag pointed at before (prune: orphans) and prune's
// reads of the package's manifests ping the destination once and fetch one
// token between them.
func TestOneHandshakePerRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	f.servePackage(githubtest.Package{})
	writeBuildx(t, f, "v1", sample.IndexOptions{Seed: "v1", Attestations: true})
	if first := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v1", "INPUT_TAGS": "1.0"}); first.err != nil {
		t.Fatalf("first publish: %v\n%s", first.err, first.log)
	}
	if err := f.api.AgePackage(true, "acme", "widget", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	writeBuildx(t, f, "v2", sample.IndexOptions{Seed: "v2", Attestations: true})
	f.reg.ResetRequests()
	second := f.run(t, map[string]string{"INPUT_SOURCE": "oci:v2", "INPUT_TAGS": "1.0", "INPUT_PRUNE": "orphans"})
	if second.err != nil {
		t.Fatalf("second publish: %v\n%s", second.err, second.log)
	}
	if second.outputs["pruned"] == "" {
		t.Fatalf("the second publish pruned nothing, so prune read nothing:\n%s", second.log)
	}
	var pings, tokens int
	for _, r := range f.reg.Requests() {
		switch r.Path {
		case "/v2/", "/v2":
			pings++
		case "/token":
			tokens++
		}
	}
	if pings != 1 || tokens != 1 {
		t.Errorf("a publish with prune: orphans sent %d pings and %d token requests, want 1 and 1", pings, tokens)
	}
}
