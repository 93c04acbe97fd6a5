package stamp

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// attestations: preserve tells an attested image that lacks the metadata
// (Preserved, named by Unstamped, which the action's notice reads) from
// one that was stamped at build time (Unchanged: nothing left out, so no
// notice), and leaves both byte-identical.
func TestIndexPreserveUnstamped(t *testing.T) {
	t.Parallel()
	bare := buildx(t, sample.IndexOptions{Seed: "bare", Attestations: true})
	// Stamped at build time: what buildx --label/--annotation gives, made
	// here by stamping with repoint, which writes the same labels and
	// manifest annotations into every image.
	built, _, err := Index([]*source.Loaded{loadIndex(t, bare, "oci:built")}, derived, RepointAttestations)
	if err != nil {
		t.Fatalf("Index(repoint) = %v", err)
	}
	// Labels alone, without the manifest annotations: still short of the
	// metadata.
	labelsOnly := map[string]string{}
	for _, e := range derived.Labels {
		labelsOnly[e.Key] = e.Value
	}
	partial := buildx(t, sample.IndexOptions{Seed: "partial", Attestations: true, Labels: labelsOnly})

	tests := []struct {
		name          string
		src           *source.Loaded
		wantFates     []Fate
		wantUnstamped []string
		wantLabels    bool // Result.Labels reported: some image carries them
	}{
		{"no metadata", loadIndex(t, bare, "oci:out"), []Fate{Preserved, Preserved, Kept, Kept}, []string{"linux/amd64", "linux/arm64"}, false},
		{"labels only", loadIndex(t, partial, "oci:out"), []Fate{Preserved, Preserved, Kept, Kept}, []string{"linux/amd64", "linux/arm64"}, false},
		{"stamped at build time", &source.Loaded{Line: "oci:out", Index: built}, []Fate{Unchanged, Unchanged, Kept, Kept}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			idx, res, err := Index([]*source.Loaded{tc.src}, derived, PreserveAttested)
			if err != nil {
				t.Fatalf("Index() = %v", err)
			}
			var fates []Fate
			for _, e := range res.Entries {
				fates = append(fates, e.Fate)
			}
			if diff := cmp.Diff(tc.wantFates, fates); diff != "" {
				t.Errorf("fates mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUnstamped, res.Unstamped()); diff != "" {
				t.Errorf("Unstamped() mismatch (-want +got):\n%s", diff)
			}
			if got := len(res.Labels) > 0; got != tc.wantLabels {
				t.Errorf("Result.Labels = %v, want reported %v", res.Labels, tc.wantLabels)
			}
			// Every platform image and attestation is byte-identical.
			want, got := parseRaw(t, tc.src.Index), parseRaw(t, idx)
			if len(got.Manifests) != len(want.Manifests) {
				t.Fatalf("index lists %d manifests, want %d", len(got.Manifests), len(want.Manifests))
			}
			for i := range want.Manifests {
				if got.Manifests[i]["digest"] != want.Manifests[i]["digest"] {
					t.Errorf("manifest %d: digest %v, want %v (unchanged)", i, got.Manifests[i]["digest"], want.Manifests[i]["digest"])
				}
			}
		})
	}
}
