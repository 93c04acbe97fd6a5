package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/prune"
	"github.com/ghcr-publish/publish-action/internal/report"
	"github.com/ghcr-publish/publish-action/internal/stamp"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sha is the commit the run builds.
const sha = githubtest.SHA

const digest = "sha256:ed74d8a66111eb8a2bf6ce0dc439461fd1872d73c3e4930fea500d2a53ed39ff"

// The manifests of a multi-platform index: its images and their BuildKit
// attestations (moby/buildkit, docs/attestations/attestation-storage.md).
const (
	amd64Digest            = "sha256:5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51"
	arm64Digest            = "sha256:f69162950f235e3cdbbad33f1f912d1a504be90d8a37d002c735d6f3e3882265"
	amd64AttestationDigest = "sha256:9c6bd5496b74c574d1efe05bb58297d3de62c21f0d778ec2d05d2b2b81fe4eaf"
	arm64AttestationDigest = "sha256:7a5534a3f42a4adb02016ec0e3730ff5c51a54f2889eefb653b7f8de6774dedd"
)

func repository(t *testing.T) name.Repository {
	t.Helper()
	r, err := name.NewRepository("ghcr.io/acme/widget", name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tags(t *testing.T, ts ...string) []name.Tag {
	t.Helper()
	var out []name.Tag
	for _, s := range ts {
		out = append(out, repository(t).Tag(s))
	}
	return out
}

func entry(key, value string, origin plan.Origin) plan.Entry {
	return plan.Entry{Key: key, Value: value, Origin: origin}
}

// description has everything that could break a markdown table row.
const description = "Widgets | gadgets, <b>bold</b> & more\nsee `widget --help`"

// published is a published image whose labels come from every origin.
func published(t *testing.T) report.Report {
	t.Helper()
	labels := []plan.Entry{
		entry("com.example.team", "platform", plan.FromInput),
		entry(specs.AnnotationCreated, "2026-10-30T14:15:16Z", plan.FromContext),
		entry(specs.AnnotationDescription, description, plan.FromRepository),
		entry(specs.AnnotationLicenses, "GPL-2.0+ OR MIT", plan.FromInput),
		entry(specs.AnnotationRevision, sha, plan.FromContext),
		entry(specs.AnnotationSource, "https://github.com/Acme/Widget", plan.FromContext),
		entry(specs.AnnotationTitle, "Widget", plan.FromRepository),
		entry(specs.AnnotationURL, "https://github.com/Acme/Widget", plan.FromRepository),
		entry(specs.AnnotationVendor, "Acme Corp.", plan.FromImage),
		entry(specs.AnnotationVersion, "v1.2.3_rc.1", plan.FromContext),
	}
	return report.Report{
		Mode:    report.Published,
		Image:   repository(t),
		Digest:  digest,
		Tags:    tags(t, "v1.2.3_rc.1", "1.2", "latest"),
		Version: "v1.2.3_rc.1",
		Labels:  labels,
		Annotations: append([]plan.Entry{
			entry("com.example.build", "nightly", plan.FromInput),
		}, labels[1:]...),
	}
}

// severalRegistries is a publish of one index to ghcr.io (the primary),
// Docker Hub and Quay, with the primary's tags at each.
func severalRegistries(t *testing.T) report.Report {
	t.Helper()
	r := multiPlatform(t)
	r.Destinations = []report.Destination{{Image: r.Image, Tags: r.Tags}}
	for _, other := range []string{"index.docker.io/acme/widget", "quay.io/acme/widget"} {
		repo, err := name.NewRepository(other, name.StrictValidation)
		if err != nil {
			t.Fatal(err)
		}
		d := report.Destination{Image: repo}
		for _, tag := range r.Tags {
			d.Tags = append(d.Tags, repo.Tag(tag.TagStr()))
		}
		r.Destinations = append(r.Destinations, d)
	}
	return r
}

// privatePackage is a publish to a package the API reports as private,
// with the notice the first publish gets.
func privatePackage(t *testing.T) report.Report {
	t.Helper()
	return report.Report{
		Mode:       report.Published,
		Image:      repository(t),
		Digest:     digest,
		Tags:       tags(t, "main"),
		PackageURL: "https://github.com/orgs/acme/packages/container/package/widget",
		Link:       "The package is linked to Acme/Widget.",
		Visibility: "private",
		Notes:      []string{"The package is private, while Acme/Widget is public: only accounts with access can pull it. To let anyone pull it, open https://github.com/orgs/acme/packages/container/widget/settings, Danger Zone, Change visibility, Public."},
	}
}

// pushSkipped is the dry run push: auto chose in a fork's pull request.
func pushSkipped(t *testing.T) report.Report {
	r := dryRun(t)
	r.Skipped = "this is a pull request from a fork, whose GITHUB_TOKEN is read-only"
	r.Notes = []string{"push: auto wrote nothing: this is a pull request from a fork, whose GITHUB_TOKEN is read-only. Everything else ran, as with push: false; the digest is what a publish would give."}
	return r
}

func dryRun(t *testing.T) report.Report {
	t.Helper()
	return report.Report{
		Mode:   report.DryRun,
		Image:  repository(t),
		Digest: digest,
		Tags:   tags(t, "pr-42"),
		Labels: []plan.Entry{
			entry(specs.AnnotationRevision, "fedcba9876543210fedcba9876543210fedcba98", plan.FromContext),
			entry(specs.AnnotationVersion, "pr-42", plan.FromContext),
		},
		Annotations: []plan.Entry{
			entry(specs.AnnotationRevision, "fedcba9876543210fedcba9876543210fedcba98", plan.FromContext),
			entry(specs.AnnotationVersion, "pr-42", plan.FromContext),
		},
	}
}

// metadataOnly pushes nothing, so it has no digest; here no tag either.
func metadataOnly(t *testing.T) report.Report {
	t.Helper()
	return report.Report{
		Mode:  report.MetadataOnly,
		Image: repository(t),
		Labels: []plan.Entry{
			entry(specs.AnnotationSource, "https://github.com/Acme/Widget", plan.FromContext),
		},
		// stamp.Preview gives the annotations the labels' keys.
		Annotations: []plan.Entry{
			entry(specs.AnnotationSource, "https://github.com/Acme/Widget", plan.FromContext),
		},
	}
}

func withNotes(t *testing.T) report.Report {
	t.Helper()
	r := dryRun(t)
	r.Mode = report.Published
	r.Notes = []string{
		"The source's Docker v2 schema 2 manifest was rewritten with OCI media types, because the Docker schema has no annotations; layer blobs are unchanged.",
		"The image already carried this metadata, so it was published unchanged, with its original digest.",
	}
	return r
}

// escaping has keys and values that markdown would otherwise misread.
func escaping(t *testing.T) report.Report {
	t.Helper()
	labels := []plan.Entry{
		entry("com.example.backslash", `C:\Users\widget\ and a\|b`, plan.FromInput),
		entry("com.example.crlf", "windows\r\nline\rold mac", plan.FromInput),
		entry("com.example.html", `<script>alert("x")</script> &amp;`, plan.FromInput),
		entry("com.example.markdown", "**bold** [link](https://example.com) ``code``", plan.FromInput),
		entry("com.example.pixel", "![](https://evil.test/pixel.gif) $x$ ~~gone~~ _em_", plan.FromImage),
		entry("com.example.pipe|key", "x", plan.FromInput),
		entry("com.example.tick`key", "y", plan.FromInput),
		entry("`", "z", plan.FromInput),
	}
	return report.Report{
		Mode:        report.DryRun,
		Image:       repository(t),
		Digest:      digest,
		Tags:        tags(t, "main"),
		Labels:      labels,
		Annotations: labels,
		// A layout path may hold what a table cell may not.
		Entries: []stamp.Entry{
			{Platform: "linux/amd64", Digest: digest, Source: "oci:build/a|b <c>", Fate: stamp.Stamped},
		},
	}
}

// multiPlatform is a published index whose entries have four fates
// (pushByDigest and dropped have the other two). No single attestations
// policy gives all four at once: this tests the table, not stamp.Index.
func multiPlatform(t *testing.T) report.Report {
	t.Helper()
	const src = "ghcr.io/acme/widget-build:sha-0123456"
	labels := []plan.Entry{
		entry(specs.AnnotationRevision, sha, plan.FromContext),
		entry(specs.AnnotationVersion, "1.2.3", plan.FromContext),
	}
	return report.Report{
		Mode:        report.Published,
		Image:       repository(t),
		Digest:      digest,
		Tags:        tags(t, "1.2.3", "latest"),
		Labels:      labels,
		Annotations: labels,
		Entries: []stamp.Entry{
			{Platform: "linux/amd64", Digest: amd64Digest, Source: src, Fate: stamp.Stamped},
			{Platform: "linux/arm64", Written: "linux/arm64/v8", Digest: arm64Digest, Source: src, Fate: stamp.Preserved},
			{Platform: "linux/arm64", Digest: arm64AttestationDigest, Source: src, Fate: stamp.Kept, Attestation: true},
			{Platform: "linux/amd64", Digest: amd64AttestationDigest, Source: src, Fate: stamp.Repointed, Attestation: true},
		},
	}
}

// dropped is an index whose attestation went with attestations: drop, so it
// has no digest.
func dropped(t *testing.T) report.Report {
	t.Helper()
	const src = "oci:build/oci"
	labels := []plan.Entry{
		entry(specs.AnnotationRevision, sha, plan.FromContext),
	}
	return report.Report{
		Mode:        report.Published,
		Image:       repository(t),
		Digest:      digest,
		Tags:        tags(t, "main"),
		Labels:      labels,
		Annotations: labels,
		Entries: []stamp.Entry{
			{Platform: "linux/amd64", Digest: amd64Digest, Source: src, Fate: stamp.Stamped},
			{Platform: "linux/amd64", Source: src, Fate: stamp.Dropped, Attestation: true},
		},
	}
}

const oldDigest = "sha256:0123456789012345678901234567890123456789012345678901234567890123"

// pruned is a multi-platform publish whose clean-up met every outcome.
func pruned(t *testing.T) report.Report {
	t.Helper()
	r := multiPlatform(t)
	r.Prune = &prune.Result{
		Decisions: []prune.Decision{
			{Version: prune.Version{ID: 81000003, Digest: oldDigest}, Outcome: prune.Deleted, Reason: "no tag reaches it"},
			{Version: prune.Version{ID: 81000004, Digest: amd64AttestationDigest}, Outcome: prune.Kept, Reason: "attestation of sha256:aaaaaaaaaaaa"},
			{Version: prune.Version{ID: 81000005, Digest: arm64Digest, Tags: []string{"rollback"}}, Outcome: prune.Skipped, Reason: "gained tag rollback between listing and deleting"},
			{Version: prune.Version{ID: 81000006, Digest: amd64Digest}, Outcome: prune.Refused, Reason: "400 Publicly visible package versions with more than 5000 downloads cannot be deleted."},
		},
		Pruned:    []string{oldDigest},
		Reachable: []string{amd64Digest, digest},
		Versions:  9,
		Tagged:    2,
	}
	return r
}

func TestPruneOutputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                    string
		report                  func(*testing.T) report.Report
		wantPruned, wantReached string
	}{
		// Without a prune, reachable is what the stamp step published.
		{"multi-platform", multiPlatform, "", strings.Join(sortedCopy(digest, amd64Digest, arm64Digest, arm64AttestationDigest, amd64AttestationDigest), "\n")},
		{"dropped attestation", dropped, "", strings.Join(sortedCopy(digest, amd64Digest), "\n")},
		{"metadata only", metadataOnly, "", ""},
		// With one, the walk over the registry's content says.
		{"pruned", pruned, oldDigest, amd64Digest + "\n" + digest},
	} {
		got, err := tc.report(t).Outputs()
		if err != nil {
			t.Fatal(err)
		}
		if got["pruned"] != tc.wantPruned || got["reachable"] != tc.wantReached {
			t.Errorf("%s: pruned, reachable = %q, %q; want %q, %q", tc.name, got["pruned"], got["reachable"], tc.wantPruned, tc.wantReached)
		}
	}
}

func sortedCopy(s ...string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// pushByDigest publishes one image under no tag: only its digest names it.
func pushByDigest(t *testing.T) report.Report {
	t.Helper()
	labels := []plan.Entry{
		entry(specs.AnnotationRevision, sha, plan.FromImage),
	}
	return report.Report{
		Mode:        report.Published,
		Image:       repository(t),
		Digest:      digest,
		Labels:      labels,
		Annotations: labels,
		Entries: []stamp.Entry{
			{Platform: "linux/amd64", Digest: digest, Source: "docker-archive:dist/widget.tar", Fate: stamp.Unchanged},
		},
	}
}

func TestOutputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		report   func(*testing.T) report.Report
		want     map[string]string
		wantJSON map[string]any
	}{{
		name:   "published",
		report: published,
		want: map[string]string{
			"digest":  digest,
			"image":   "ghcr.io/acme/widget@" + digest,
			"tags":    "ghcr.io/acme/widget:v1.2.3_rc.1\nghcr.io/acme/widget:1.2\nghcr.io/acme/widget:latest",
			"version": "v1.2.3_rc.1",
			"labels": "com.example.team=platform\n" +
				"org.opencontainers.image.created=2026-10-30T14:15:16Z\n" +
				"org.opencontainers.image.description=" + strings.ReplaceAll(description, "\n", " ") + "\n" +
				"org.opencontainers.image.licenses=GPL-2.0+ OR MIT\n" +
				"org.opencontainers.image.revision=" + sha + "\n" +
				"org.opencontainers.image.source=https://github.com/Acme/Widget\n" +
				"org.opencontainers.image.title=Widget\n" +
				"org.opencontainers.image.url=https://github.com/Acme/Widget\n" +
				"org.opencontainers.image.vendor=Acme Corp.\n" +
				"org.opencontainers.image.version=v1.2.3_rc.1",
			"annotations": "com.example.build=nightly\n" +
				"org.opencontainers.image.created=2026-10-30T14:15:16Z\n" +
				"org.opencontainers.image.description=" + strings.ReplaceAll(description, "\n", " ") + "\n" +
				"org.opencontainers.image.licenses=GPL-2.0+ OR MIT\n" +
				"org.opencontainers.image.revision=" + sha + "\n" +
				"org.opencontainers.image.source=https://github.com/Acme/Widget\n" +
				"org.opencontainers.image.title=Widget\n" +
				"org.opencontainers.image.url=https://github.com/Acme/Widget\n" +
				"org.opencontainers.image.vendor=Acme Corp.\n" +
				"org.opencontainers.image.version=v1.2.3_rc.1",
			"platforms": "[]",
		},
		wantJSON: map[string]any{
			"mode":       "published",
			"repository": "ghcr.io/acme/widget",
			"digest":     digest,
			"image":      "ghcr.io/acme/widget@" + digest,
			"tags":       []any{"ghcr.io/acme/widget:v1.2.3_rc.1", "ghcr.io/acme/widget:1.2", "ghcr.io/acme/widget:latest"},
			"version":    "v1.2.3_rc.1",
			"labels": map[string]any{
				"com.example.team":                     "platform",
				"org.opencontainers.image.created":     "2026-10-30T14:15:16Z",
				"org.opencontainers.image.description": description,
				"org.opencontainers.image.licenses":    "GPL-2.0+ OR MIT",
				"org.opencontainers.image.revision":    sha,
				"org.opencontainers.image.source":      "https://github.com/Acme/Widget",
				"org.opencontainers.image.title":       "Widget",
				"org.opencontainers.image.url":         "https://github.com/Acme/Widget",
				"org.opencontainers.image.vendor":      "Acme Corp.",
				"org.opencontainers.image.version":     "v1.2.3_rc.1",
			},
			"annotations": map[string]any{
				"com.example.build":                    "nightly",
				"org.opencontainers.image.created":     "2026-10-30T14:15:16Z",
				"org.opencontainers.image.description": description,
				"org.opencontainers.image.licenses":    "GPL-2.0+ OR MIT",
				"org.opencontainers.image.revision":    sha,
				"org.opencontainers.image.source":      "https://github.com/Acme/Widget",
				"org.opencontainers.image.title":       "Widget",
				"org.opencontainers.image.url":         "https://github.com/Acme/Widget",
				"org.opencontainers.image.vendor":      "Acme Corp.",
				"org.opencontainers.image.version":     "v1.2.3_rc.1",
			},
			"platforms": []any{},
		},
	}, {
		name:   "dry run",
		report: dryRun,
		want: map[string]string{
			"digest":      digest,
			"image":       "ghcr.io/acme/widget@" + digest,
			"tags":        "ghcr.io/acme/widget:pr-42",
			"labels":      "org.opencontainers.image.revision=fedcba9876543210fedcba9876543210fedcba98\norg.opencontainers.image.version=pr-42",
			"annotations": "org.opencontainers.image.revision=fedcba9876543210fedcba9876543210fedcba98\norg.opencontainers.image.version=pr-42",
			"platforms":   "[]",
		},
		wantJSON: map[string]any{
			"mode":       "dry-run",
			"repository": "ghcr.io/acme/widget",
			"digest":     digest,
			"image":      "ghcr.io/acme/widget@" + digest,
			"tags":       []any{"ghcr.io/acme/widget:pr-42"},
			"labels": map[string]any{
				"org.opencontainers.image.revision": "fedcba9876543210fedcba9876543210fedcba98",
				"org.opencontainers.image.version":  "pr-42",
			},
			"annotations": map[string]any{
				"org.opencontainers.image.revision": "fedcba9876543210fedcba9876543210fedcba98",
				"org.opencontainers.image.version":  "pr-42",
			},
			"platforms": []any{},
		},
	}, {
		// No digest, so no image reference; no tags is an empty list in
		// json, never null.
		name:   "metadata only",
		report: metadataOnly,
		want: map[string]string{
			"digest":      "",
			"image":       "",
			"tags":        "",
			"labels":      "org.opencontainers.image.source=https://github.com/Acme/Widget",
			"annotations": "org.opencontainers.image.source=https://github.com/Acme/Widget",
			"platforms":   "[]",
		},
		wantJSON: map[string]any{
			"mode":        "metadata-only",
			"repository":  "ghcr.io/acme/widget",
			"digest":      "",
			"image":       "",
			"tags":        []any{},
			"labels":      map[string]any{"org.opencontainers.image.source": "https://github.com/Acme/Widget"},
			"annotations": map[string]any{"org.opencontainers.image.source": "https://github.com/Acme/Widget"},
			"platforms":   []any{},
		},
	}, {
		name: "nothing known",
		report: func(t *testing.T) report.Report {
			return report.Report{Mode: report.MetadataOnly, Image: repository(t)}
		},
		want: map[string]string{"digest": "", "image": "", "tags": "", "labels": "", "annotations": "", "platforms": "[]"},
		wantJSON: map[string]any{
			"mode":        "metadata-only",
			"repository":  "ghcr.io/acme/widget",
			"digest":      "",
			"image":       "",
			"tags":        []any{},
			"labels":      map[string]any{},
			"annotations": map[string]any{},
			"platforms":   []any{},
		},
	}, {
		// Attestations are not platforms: they are left out. A variant
		// stays as the index writes it (arm64/v8).
		name:   "multi-platform",
		report: multiPlatform,
		want: map[string]string{
			"digest":      digest,
			"image":       "ghcr.io/acme/widget@" + digest,
			"tags":        "ghcr.io/acme/widget:1.2.3\nghcr.io/acme/widget:latest",
			"labels":      "org.opencontainers.image.revision=" + sha + "\norg.opencontainers.image.version=1.2.3",
			"annotations": "org.opencontainers.image.revision=" + sha + "\norg.opencontainers.image.version=1.2.3",
			"platforms": `[{"platform":"linux/amd64","digest":"` + amd64Digest + `"},` +
				`{"platform":"linux/arm64/v8","digest":"` + arm64Digest + `"}]`,
		},
		wantJSON: map[string]any{
			"mode":       "published",
			"repository": "ghcr.io/acme/widget",
			"digest":     digest,
			"image":      "ghcr.io/acme/widget@" + digest,
			"tags":       []any{"ghcr.io/acme/widget:1.2.3", "ghcr.io/acme/widget:latest"},
			"labels": map[string]any{
				"org.opencontainers.image.revision": sha,
				"org.opencontainers.image.version":  "1.2.3",
			},
			"annotations": map[string]any{
				"org.opencontainers.image.revision": sha,
				"org.opencontainers.image.version":  "1.2.3",
			},
			"platforms": []any{
				map[string]any{"platform": "linux/amd64", "digest": amd64Digest},
				map[string]any{"platform": "linux/arm64/v8", "digest": arm64Digest},
			},
		},
	}, {
		name:   "dropped attestation",
		report: dropped,
		want: map[string]string{
			"digest":      digest,
			"image":       "ghcr.io/acme/widget@" + digest,
			"tags":        "ghcr.io/acme/widget:main",
			"labels":      "org.opencontainers.image.revision=" + sha,
			"annotations": "org.opencontainers.image.revision=" + sha,
			"platforms":   `[{"platform":"linux/amd64","digest":"` + amd64Digest + `"}]`,
		},
		wantJSON: map[string]any{
			"mode":        "published",
			"repository":  "ghcr.io/acme/widget",
			"digest":      digest,
			"image":       "ghcr.io/acme/widget@" + digest,
			"tags":        []any{"ghcr.io/acme/widget:main"},
			"labels":      map[string]any{"org.opencontainers.image.revision": sha},
			"annotations": map[string]any{"org.opencontainers.image.revision": sha},
			"platforms":   []any{map[string]any{"platform": "linux/amd64", "digest": amd64Digest}},
		},
	}, {
		name:   "private package",
		report: privatePackage,
		want: map[string]string{
			"digest":      digest,
			"image":       "ghcr.io/acme/widget@" + digest,
			"tags":        "ghcr.io/acme/widget:main",
			"labels":      "",
			"annotations": "",
			"platforms":   "[]",
			"package-url": "https://github.com/orgs/acme/packages/container/package/widget",
			"visibility":  "private",
		},
		wantJSON: map[string]any{
			"mode":        "published",
			"repository":  "ghcr.io/acme/widget",
			"digest":      digest,
			"image":       "ghcr.io/acme/widget@" + digest,
			"tags":        []any{"ghcr.io/acme/widget:main"},
			"labels":      map[string]any{},
			"annotations": map[string]any{},
			"platforms":   []any{},
			"package-url": "https://github.com/orgs/acme/packages/container/package/widget",
			"visibility":  "private",
		},
	}, {
		// No tags, but a digest, so an image reference.
		name:   "push by digest",
		report: pushByDigest,
		want: map[string]string{
			"digest":      digest,
			"image":       "ghcr.io/acme/widget@" + digest,
			"tags":        "",
			"labels":      "org.opencontainers.image.revision=" + sha,
			"annotations": "org.opencontainers.image.revision=" + sha,
			"platforms":   `[{"platform":"linux/amd64","digest":"` + digest + `"}]`,
		},
		wantJSON: map[string]any{
			"mode":        "published",
			"repository":  "ghcr.io/acme/widget",
			"digest":      digest,
			"image":       "ghcr.io/acme/widget@" + digest,
			"tags":        []any{},
			"labels":      map[string]any{"org.opencontainers.image.revision": sha},
			"annotations": map[string]any{"org.opencontainers.image.revision": sha},
			"platforms":   []any{map[string]any{"platform": "linux/amd64", "digest": digest}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.report(t).Outputs()
			if err != nil {
				t.Fatalf("Outputs() error = %v", err)
			}
			var gotJSON map[string]any
			if err := json.Unmarshal([]byte(got["json"]), &gotJSON); err != nil {
				t.Fatalf("Outputs() json = %q, not JSON: %v", got["json"], err)
			}
			if strings.Contains(got["json"], "\n") {
				t.Errorf("Outputs() json = %q, want one line", got["json"])
			}
			delete(got, "json")
			want := maps.Clone(tc.want)
			for _, k := range []string{"package-url", "visibility"} {
				if _, ok := want[k]; !ok {
					want[k] = "" // for GitHub's registry only
				}
			}
			wantJSON := maps.Clone(tc.wantJSON)
			if _, ok := wantJSON["destinations"]; !ok {
				// One destination: the primary, as the fields above say.
				image, _ := wantJSON["image"].(string)
				if wantJSON["digest"] == "" {
					image = ""
				}
				wantJSON["destinations"] = []any{map[string]any{"repository": wantJSON["repository"], "image": image, "tags": wantJSON["tags"], "digest": wantJSON["digest"]}}
			}
			if _, ok := want["version"]; !ok {
				want["version"], wantJSON["version"] = "", "" // no tag rule fired
			}
			// None of these reports pruned; TestPruneOutputs checks both.
			want["pruned"] = ""
			delete(got, "reachable")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Outputs() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantJSON, gotJSON); diff != "" {
				t.Errorf("Outputs() json mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		golden string
		report func(*testing.T) report.Report
		// want are fragments the summary must hold, whatever the golden
		// file says, so that a careless -update cannot bless a regression.
		want    []string
		notWant []string
	}{{
		golden: "published.md",
		report: published,
		want: []string{
			"### Published `ghcr.io/acme/widget`",
			"| Tags | `ghcr.io/acme/widget:v1.2.3_rc.1`<br>`ghcr.io/acme/widget:1.2`<br>`ghcr.io/acme/widget:latest` |",
			"| `org.opencontainers.image.description` | Widgets \\| gadgets, &lt;b&gt;bold&lt;/b&gt; &amp; more<br>see &#96;widget --help&#96; | repository |",
			// text/template: '+' stays as it is.
			"| `org.opencontainers.image.licenses` | GPL-2.0+ OR MIT | input |",
			"| `org.opencontainers.image.vendor` | Acme Corp. | image |",
			"| `com.example.team` | platform | input |",
			"| `org.opencontainers.image.created` | 2026-10-30T14:15:16Z | context |",
			"docker pull ghcr.io/acme/widget@" + digest,
		},
		// An index's table comes only with entries.
		notWant: []string{"&#43;", "<b>", "#### Platforms", "by digest only"},
	}, {
		golden: "dry-run.md",
		report: dryRun,
		want: []string{
			"### Dry run for `ghcr.io/acme/widget` (push: false, nothing written)",
			"| Digest | `" + digest + "` |",
			"| Tags | `ghcr.io/acme/widget:pr-42` |",
		},
		notWant: []string{"docker pull"},
	}, {
		golden: "metadata-only.md",
		report: metadataOnly,
		want: []string{
			"### Metadata for `ghcr.io/acme/widget` (no source, nothing pushed)",
			"| Tags | none |",
		},
		notWant: []string{"Digest", "docker pull", "@sha256", "by digest only", "#### Platforms"},
	}, {
		golden: "notes.md",
		report: withNotes,
		want: []string{
			"\n\n> The source's Docker v2 schema 2 manifest was rewritten",
			"\n\n> The image already carried this metadata",
		},
	}, {
		golden: "escaping.md",
		report: escaping,
		want: []string{
			"| `com.example.backslash` | C:\\\\Users\\\\widget\\\\ and a\\\\\\|b | input |",
			"| `com.example.crlf` | windows<br>line<br>old mac | input |",
			"| `com.example.html` | &lt;script&gt;alert\\(\"x\"\\)&lt;/script&gt; &amp;amp; | input |",
			// Markdown in a value is shown, not rendered: no image (a
			// tracking pixel), no link, no emphasis.
			"| `com.example.markdown` | \\*\\*bold\\*\\* \\[link\\]\\(https://example.com\\) &#96;&#96;code&#96;&#96; | input |",
			"| `com.example.pixel` | \\!\\[\\]\\(https://evil.test/pixel.gif\\) \\$x\\$ \\~\\~gone\\~\\~ \\_em\\_ | image |",
			"| `com.example.pipe\\|key` | x | input |",
			"| ``com.example.tick`key`` | y | input |",
			"| `` ` `` | z | input |",
			"| linux/amd64 | `" + digest + "` | oci:build/a\\|b &lt;c&gt; | stamped |",
		},
	}, {
		golden: "multi-platform.md",
		report: multiPlatform,
		want: []string{
			"\n\n#### Platforms\n\n| Platform | Digest | Source | Metadata |\n|---|---|---|---|\n",
			"| linux/amd64 | `" + amd64Digest + "` | ghcr.io/acme/widget-build:sha-0123456 | stamped |",
			"| linux/arm64 | `" + arm64Digest + "` | ghcr.io/acme/widget-build:sha-0123456 | left byte-identical: it has attestations (attestations: preserve) |",
			"| attestation of linux/arm64 | `" + arm64AttestationDigest + "` | ghcr.io/acme/widget-build:sha-0123456 | kept |",
			"| attestation of linux/amd64 | `" + amd64AttestationDigest + "` | ghcr.io/acme/widget-build:sha-0123456 | repointed to the stamped image (the statement inside names the original digest) |",
			"| Tags | `ghcr.io/acme/widget:1.2.3`<br>`ghcr.io/acme/widget:latest` |",
			"docker pull ghcr.io/acme/widget@" + digest,
		},
	}, {
		golden: "dropped.md",
		report: dropped,
		want: []string{
			"| linux/amd64 | `" + amd64Digest + "` | oci:build/oci | stamped |",
			"| attestation of linux/amd64 | - | oci:build/oci | dropped (attestations: drop) |",
		},
	}, {
		golden: "private-package.md",
		report: privatePackage,
		want: []string{
			"| Package | https://github.com/orgs/acme/packages/container/package/widget |",
			"| Visibility | private |",
			"\n\n> The package is private",
		},
	}, {
		golden: "push-skipped.md",
		report: pushSkipped,
		want: []string{
			"### Dry run for `ghcr.io/acme/widget` (push: auto, nothing written: the token is read-only)",
			"\n\n> push: auto wrote nothing:",
		},
		notWant: []string{"(push: false", "docker pull", "Visibility"},
	}, {
		golden: "pruned.md",
		report: pruned,
		want: []string{
			"\n\n#### Clean-up\n\n1 deleted, 1 kept, 1 skipped, 1 not deleted, of 9 versions; 2 tagged versions and everything they reach are kept.\n",
			"| 81000003 | `" + oldDigest + "` |  | deleted | no tag reaches it |",
			"| 81000004 | `" + amd64AttestationDigest + "` |  | kept | attestation of sha256:aaaaaaaaaaaa |",
			"| 81000005 | `" + arm64Digest + "` | rollback | skipped | gained tag rollback between listing and deleting |",
			"| 81000006 | `" + amd64Digest + "` |  | not deleted | 400 Publicly visible package versions with more than 5000 downloads cannot be deleted. |",
		},
	}, {
		golden: "several-registries.md",
		report: severalRegistries,
		want: []string{
			"### Published `ghcr.io/acme/widget`",
			"| Image | `ghcr.io/acme/widget@" + digest + "` |",
			"| Tags | `ghcr.io/acme/widget:1.2.3`<br>`ghcr.io/acme/widget:latest` |",
			"\n\n#### Also published to\n\n| Image | Tags |\n|---|---|\n",
			"| `index.docker.io/acme/widget` | `index.docker.io/acme/widget:1.2.3`<br>`index.docker.io/acme/widget:latest` |",
			"| `quay.io/acme/widget` | `quay.io/acme/widget:1.2.3`<br>`quay.io/acme/widget:latest` |",
		},
	}, {
		golden: "push-by-digest.md",
		report: pushByDigest,
		want: []string{
			"| Image | `ghcr.io/acme/widget@" + digest + "` |",
			"| Tags | none (by digest only) |",
			"| linux/amd64 | `" + digest + "` | docker-archive:dist/widget.tar | already stamped, unchanged |",
			"docker pull ghcr.io/acme/widget@" + digest,
		},
	}}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			t.Parallel()
			got, err := tc.report(t).Summary()
			if err != nil {
				t.Fatalf("Summary() error = %v", err)
			}
			golden(t, tc.golden, got)
			checkTables(t, got)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Summary() does not hold %q:\n%s", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("Summary() holds %q:\n%s", w, got)
				}
			}
		})
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("Summary() mismatch with %s (-want +got):\n%s", path, diff)
	}
}

// lineEnd is every CommonMark line ending: LF, CR LF and a lone CR.
var lineEnd = regexp.MustCompile(`\r\n|\r|\n`)

// checkTables fails if a row of a markdown table has a different number
// of cells from its header, the way GitHub splits rows: on line endings,
// and on pipes that no backslash escapes (GFM spec, Tables).
func checkTables(t *testing.T, md string) {
	t.Helper()
	header := -1
	for i, line := range lineEnd.Split(md, -1) {
		if !strings.HasPrefix(line, "|") {
			header = -1
			continue
		}
		n, closed := cells(line)
		if !closed {
			t.Errorf("line %d %q does not end with an unescaped '|'", i+1, line)
		}
		if header < 0 {
			header = n
			continue
		}
		if n != header {
			t.Errorf("line %d %q has %d cells, its table's header %d", i+1, line, n, header)
		}
	}
}

// cells counts the cells of a table row and reports whether it ends with an
// unescaped pipe.
func cells(row string) (n int, closed bool) {
	pipes, last := 0, -1
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++ // the next character is escaped
		case '|':
			pipes++
			last = i
		}
	}
	return pipes - 1, last == len(row)-1
}

func TestCheckTables(t *testing.T) {
	t.Parallel()
	// checkTables is what says the escaping works: make sure it can fail.
	for _, tc := range []struct {
		row    string
		n      int
		closed bool
	}{
		{"| a | b | c |", 3, true},
		{`| a \| b | c |`, 2, true},
		{`| a \\\| b | c |`, 2, true},
		{`| a | b \|`, 1, false},
	} {
		if n, closed := cells(tc.row); n != tc.n || closed != tc.closed {
			t.Errorf("cells(%q) = %d, %v, want %d, %v", tc.row, n, closed, tc.n, tc.closed)
		}
	}
}

// env is a strict getenv: only the runner's file variables may be read.
func env(t *testing.T, vars map[string]string) githubactions.GetenvFunc {
	return func(key string) string {
		if key != "GITHUB_OUTPUT" && key != "GITHUB_STEP_SUMMARY" && key != report.ArtifactsFile {
			t.Errorf("Write() read unexpected environment variable %q", key)
		}
		return vars[key]
	}
}

// outputLine opens an output in GITHUB_OUTPUT's multi-line form
// (GitHub docs, "Workflow commands", Multiline strings).
var outputLine = regexp.MustCompile(`^([A-Za-z0-9_-]+)<<(.+)$`)

// parseOutputs reads the name<<DELIM ... DELIM blocks of a GITHUB_OUTPUT
// file, returning the names in order and the values.
func parseOutputs(t *testing.T, data string) ([]string, map[string]string) {
	t.Helper()
	var names []string
	values := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		m := outputLine.FindStringSubmatch(lines[i])
		if m == nil {
			t.Fatalf("GITHUB_OUTPUT line %d %q is not NAME<<DELIMITER:\n%s", i+1, lines[i], data)
		}
		start := i + 1
		for i++; i < len(lines) && lines[i] != m[2]; i++ {
		}
		if i == len(lines) {
			t.Fatalf("GITHUB_OUTPUT output %s has no closing %s:\n%s", m[1], m[2], data)
		}
		names = append(names, m[1])
		values[m[1]] = strings.Join(lines[start:i], "\n")
	}
	return names, values
}

func TestWrite(t *testing.T) {
	t.Parallel()
	// action.yml's order.
	order := report.OutputNames()
	tests := []struct {
		name                string
		setOutput, setSumry bool
	}{
		{"in a workflow", true, true},
		{"outside a workflow", false, false},
		{"outputs file only", true, false},
		{"summary file only", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := published(t)
			outputs, err := r.Outputs()
			if err != nil {
				t.Fatal(err)
			}
			summary, err := r.Summary()
			if err != nil {
				t.Fatal(err)
			}

			dir := t.TempDir()
			vars := map[string]string{}
			outputPath := filepath.Join(dir, "output")
			summaryPath := filepath.Join(dir, "summary")
			if tc.setOutput {
				vars["GITHUB_OUTPUT"] = outputPath
			}
			if tc.setSumry {
				vars["GITHUB_STEP_SUMMARY"] = summaryPath
			}
			var stdout bytes.Buffer
			gha := githubactions.New(githubactions.WithGetenv(env(t, vars)), githubactions.WithWriter(&stdout))
			if err := report.Write(gha, r); err != nil {
				t.Fatalf("Write() error = %v", err)
			}

			// What is not written to a file is printed, in this order.
			var wantStdout strings.Builder
			if tc.setOutput {
				data, err := os.ReadFile(outputPath)
				if err != nil {
					t.Fatal(err)
				}
				names, values := parseOutputs(t, string(data))
				if diff := cmp.Diff(order, names); diff != "" {
					t.Errorf("Write() GITHUB_OUTPUT order mismatch (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(outputs, values); diff != "" {
					t.Errorf("Write() GITHUB_OUTPUT mismatch with Outputs() (-want +got):\n%s", diff)
				}
			} else {
				for _, k := range order {
					wantStdout.WriteString(k + "=" + outputs[k] + "\n")
				}
				if _, err := os.Stat(outputPath); !os.IsNotExist(err) {
					t.Errorf("Write() created %s with GITHUB_OUTPUT unset (stat: %v)", outputPath, err)
				}
			}
			if tc.setSumry {
				data, err := os.ReadFile(summaryPath)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(summary+"\n", string(data)); diff != "" {
					t.Errorf("Write() GITHUB_STEP_SUMMARY mismatch with Summary() (-want +got):\n%s", diff)
				}
			} else {
				wantStdout.WriteString(summary + "\n")
				if _, err := os.Stat(summaryPath); !os.IsNotExist(err) {
					t.Errorf("Write() created %s with GITHUB_STEP_SUMMARY unset (stat: %v)", summaryPath, err)
				}
			}
			if diff := cmp.Diff(wantStdout.String(), stdout.String()); diff != "" {
				t.Errorf("Write() printed mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteAppends(t *testing.T) {
	t.Parallel()
	// Earlier steps' outputs and summaries are in the same files: keep them.
	dir := t.TempDir()
	outputPath := filepath.Join(dir, "output")
	summaryPath := filepath.Join(dir, "summary")
	if err := os.WriteFile(outputPath, []byte("earlier<<EOF\nvalue\nEOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(summaryPath, []byte("# Earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := metadataOnly(t)
	gha := githubactions.New(githubactions.WithGetenv(env(t, map[string]string{
		"GITHUB_OUTPUT":       outputPath,
		"GITHUB_STEP_SUMMARY": summaryPath,
	})), githubactions.WithWriter(&bytes.Buffer{}))
	if err := report.Write(gha, r); err != nil {
		t.Fatalf("Write() error = %v", err)
	}
	data, err := os.ReadFile(outputPath)
	if err != nil {
		t.Fatal(err)
	}
	_, values := parseOutputs(t, string(data))
	if got := values["earlier"]; got != "value" {
		t.Errorf("Write() left earlier=%q in GITHUB_OUTPUT, want %q", got, "value")
	}
	summary, err := r.Summary()
	if err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(summaryPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("# Earlier step\n"+summary+"\n", string(data)); diff != "" {
		t.Errorf("Write() GITHUB_STEP_SUMMARY mismatch (-want +got):\n%s", diff)
	}
}

// TestOutputsSeveralDestinations: tags lists every destination's tags,
// the primary's first; image and digest name the primary; json keeps its
// fields and lists each destination.
func TestOutputsSeveralDestinations(t *testing.T) {
	t.Parallel()
	got, err := severalRegistries(t).Outputs()
	if err != nil {
		t.Fatalf("Outputs() error = %v", err)
	}
	all := []string{
		"ghcr.io/acme/widget:1.2.3", "ghcr.io/acme/widget:latest",
		"index.docker.io/acme/widget:1.2.3", "index.docker.io/acme/widget:latest",
		"quay.io/acme/widget:1.2.3", "quay.io/acme/widget:latest",
	}
	want := map[string]string{"digest": digest, "image": "ghcr.io/acme/widget@" + digest, "tags": strings.Join(all, "\n")}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("output %s = %q, want %q", k, got[k], v)
		}
	}
	type destination struct {
		Repository, Image, Digest string
		Tags                      []string
	}
	var j struct {
		Repository, Image, Digest string
		Tags                      []string
		Destinations              []destination
	}
	if err := json.Unmarshal([]byte(got["json"]), &j); err != nil {
		t.Fatalf("json output %q: %v", got["json"], err)
	}
	wantJSON := struct {
		Repository, Image, Digest string
		Tags                      []string
		Destinations              []destination
	}{"ghcr.io/acme/widget", "ghcr.io/acme/widget@" + digest, digest, all, []destination{
		{"ghcr.io/acme/widget", "ghcr.io/acme/widget@" + digest, digest, all[0:2]},
		{"index.docker.io/acme/widget", "index.docker.io/acme/widget@" + digest, digest, all[2:4]},
		{"quay.io/acme/widget", "quay.io/acme/widget@" + digest, digest, all[4:6]},
	}}
	if diff := cmp.Diff(wantJSON, j); diff != "" {
		t.Errorf("json output mismatch (-want +got):\n%s", diff)
	}
}
