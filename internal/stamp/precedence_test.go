package stamp

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
)

// TestPrecedence: an image built FROM another project's image carries that
// project's labels; the run's values replace them, with a warning. An
// image's own labels stay, except those that describe another build.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	run := plan.Plan{Repository: "https://github.com/Acme/Widget", Labels: []plan.Entry{
		{Key: specs.AnnotationCreated, Value: "2026-10-30T14:15:16Z", Origin: plan.FromContext},
		{Key: specs.AnnotationDescription, Value: "Widget builds widgets.", Origin: plan.FromRepository},
		{Key: specs.AnnotationRevision, Value: githubtest.SHA, Origin: plan.FromContext},
		{Key: specs.AnnotationSource, Value: "https://github.com/Acme/Widget", Origin: plan.FromContext},
		{Key: specs.AnnotationVersion, Value: "v1.2.3", Origin: plan.FromContext},
	}}
	tests := []struct {
		name   string
		image  map[string]string
		want   map[string]string
		inWarn []string
	}{{
		name: "inherited from a base image",
		image: map[string]string{
			specs.AnnotationSource:      "https://github.com/Upstream/Base",
			specs.AnnotationRevision:    "fedcba",
			specs.AnnotationDescription: "The base image.",
			specs.AnnotationLicenses:    "GPL-3.0-only",
			specs.AnnotationVersion:     "9.9",
			"com.example.other":         "kept",
		},
		want: map[string]string{
			specs.AnnotationCreated:     "2026-10-30T14:15:16Z",
			specs.AnnotationDescription: "Widget builds widgets.",
			specs.AnnotationRevision:    githubtest.SHA,
			specs.AnnotationSource:      "https://github.com/Acme/Widget",
			specs.AnnotationVersion:     "v1.2.3",
			"com.example.other":         "kept",
		},
		inWarn: []string{"source https://github.com/Upstream/Base", "inherited from a base image", `licenses "GPL-3.0-only" (dropped`, `revision "fedcba"`},
	}, {
		name: "the project's own Dockerfile labels",
		image: map[string]string{
			specs.AnnotationSource:      "https://github.com/acme/widget.git",
			specs.AnnotationDescription: "Our own words.",
			specs.AnnotationRevision:    "fedcba",
			specs.AnnotationLicenses:    "MIT",
		},
		want: map[string]string{
			specs.AnnotationCreated:     "2026-10-30T14:15:16Z",
			specs.AnnotationDescription: "Our own words.",
			specs.AnnotationRevision:    githubtest.SHA,
			specs.AnnotationSource:      "https://github.com/acme/widget.git",
			specs.AnnotationVersion:     "v1.2.3",
			specs.AnnotationLicenses:    "MIT",
		},
		inWarn: []string{`revision "fedcba"`, "describe this build"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, res, err := Image(ociImage(t, tc.image), run)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := out.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, cf.Config.Labels); diff != "" {
				t.Errorf("labels mismatch (-want +got):\n%s", diff)
			}
			warn := strings.Join(res.Warnings, "\n")
			for _, w := range tc.inWarn {
				if !strings.Contains(warn, w) {
					t.Errorf("warnings %q lack %q", res.Warnings, w)
				}
			}
		})
	}
}
