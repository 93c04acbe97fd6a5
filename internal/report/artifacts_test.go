package report_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/report"
)

// TestArtifacts writes the runner's artifacts file: what a publish wrote,
// by digest, one a line, after what earlier steps declared, and never a
// line the runner would misread.
func TestArtifacts(t *testing.T) {
	t.Parallel()
	ref := func(d string) string { return "oci://" + repository(t).String() + "@" + d }
	// earlier is what steps before this one declared.
	earlier := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "oci://ghcr.io/acme/other@sha256:%064x\n", i)
		}
		return b.String()
	}
	hostile := published(t)
	hostile.Digest = digest + "\n" + ref(amd64Digest)
	hostileEntry := multiPlatform(t)
	hostileEntry.Entries[0].Digest = amd64Digest + "=x"

	tests := []struct {
		name    string
		report  report.Report
		before  string // the file before the step; "-" for no file
		want    string // the file after; "-" for no file
		warning []string
	}{
		{"one image", published(t), "-", ref(digest) + "\n", nil},
		{"one image, by digest", pushByDigest(t), "-", ref(digest) + "\n", nil},
		{"index: it and each platform image, no attestation", multiPlatform(t), "-",
			ref(digest) + "\n" + ref(amd64Digest) + "\n" + ref(arm64Digest) + "\n", nil},
		{"a dropped attestation has no digest", dropped(t), "-", ref(digest) + "\n" + ref(amd64Digest) + "\n", nil},
		{"appended to earlier steps'", published(t), earlier(2), earlier(2) + ref(digest) + "\n", nil},
		{"every destination, the primary first", severalRegistries(t), "-",
			ref(digest) + "\n" + ref(amd64Digest) + "\n" + ref(arm64Digest) + "\n" +
				"oci://index.docker.io/acme/widget@" + digest + "\n" + "oci://index.docker.io/acme/widget@" + amd64Digest + "\n" + "oci://index.docker.io/acme/widget@" + arm64Digest + "\n" +
				"oci://quay.io/acme/widget@" + digest + "\n" + "oci://quay.io/acme/widget@" + amd64Digest + "\n" + "oci://quay.io/acme/widget@" + arm64Digest + "\n", nil},
		{"dry run declares nothing", dryRun(t), "-", "-", nil},
		{"metadata-only declares nothing", metadataOnly(t), "-", "-", nil},
		{"no more than the job's 500", multiPlatform(t), earlier(499), earlier(499) + ref(digest) + "\n",
			[]string{ref(amd64Digest) + ": the job already declares the 500", ref(arm64Digest) + ": the job already declares the 500"}},
		{"a digest with a line break is refused whole", hostile, "-", "-", []string{"is not oci://REF@sha256:DIGEST"}},
		{"an entry with '=' is refused, the rest declared", hostileEntry, "-",
			ref(digest) + "\n" + ref(arm64Digest) + "\n", []string{"is not oci://REF@sha256:DIGEST"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "artifacts")
			if tt.before != "-" {
				if err := os.WriteFile(path, []byte(tt.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout bytes.Buffer
			gha := githubactions.New(githubactions.WithGetenv(env(t, map[string]string{
				"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
				"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
				report.ArtifactsFile:  path,
			})), githubactions.WithWriter(&stdout))
			if err := report.Write(gha, tt.report); err != nil {
				t.Fatalf("Write() error = %v", err)
			}
			got := "-"
			if data, err := os.ReadFile(path); err == nil {
				got = string(data)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", report.ArtifactsFile, diff)
			}
			var warnings []string
			for _, l := range strings.Split(stdout.String(), "\n") {
				if strings.HasPrefix(l, "::warning") {
					warnings = append(warnings, l)
				}
			}
			if len(warnings) != len(tt.warning) {
				t.Fatalf("warnings = %q, want %d", warnings, len(tt.warning))
			}
			for i, w := range tt.warning {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d = %q, want it to say %q", i, warnings[i], w)
				}
			}
		})
	}
}

// TestArtifactsOnlyInAWorkflow: with no artifacts file, Write declares
// nothing and says nothing about it.
func TestArtifactsOnlyInAWorkflow(t *testing.T) {
	t.Parallel()
	r := multiPlatform(t)
	want := []string{"oci://" + repository(t).String() + "@" + digest, "oci://" + repository(t).String() + "@" + amd64Digest, "oci://" + repository(t).String() + "@" + arm64Digest}
	if diff := cmp.Diff(want, r.Artifacts()); diff != "" {
		t.Errorf("Artifacts() mismatch (-want +got):\n%s", diff)
	}
	var stdout bytes.Buffer
	gha := githubactions.New(githubactions.WithGetenv(env(t, nil)), githubactions.WithWriter(&stdout))
	if err := report.Write(gha, r); err != nil {
		t.Fatalf("Write() error = %v", err)
	}
	if strings.Contains(stdout.String(), "oci://") || strings.Contains(stdout.String(), report.ArtifactsFile) {
		t.Errorf("Write() without %s printed artifacts:\n%s", report.ArtifactsFile, stdout.String())
	}
}
