package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/report"
)

// TestWriteHostileValues: values from an image are data. Printed outside a
// workflow they start no workflow command; in a workflow they are cut to
// what GitHub accepts, with a notice.
func TestWriteHostileValues(t *testing.T) {
	t.Parallel()
	inject := "x\n::add-mask::y\n::stop-commands::z\r::error::w"
	huge := strings.Repeat("é", 1<<20) // 2 MiB
	r := published(t)
	r.Labels = append(r.Labels, entry("com.example.inject", inject, plan.FromImage), entry("com.example.huge", huge, plan.FromImage))
	r.Annotations = append(r.Annotations, entry("com.example.huge", huge, plan.FromImage))

	t.Run("printed", func(t *testing.T) {
		t.Parallel()
		var stdout bytes.Buffer
		gha := githubactions.New(githubactions.WithGetenv(env(t, nil)), githubactions.WithWriter(&stdout))
		if err := report.Write(gha, r); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(stdout.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::") && !strings.HasPrefix(line, "::notice::") {
				t.Errorf("a value printed a workflow command: %q", line)
			}
		}
		if !strings.Contains(stdout.String(), "::notice::2 label or annotation values longer than") {
			t.Errorf("no notice of the cut values:\n%.2000s", stdout.String())
		}
	})
	t.Run("files", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		vars := map[string]string{"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary")}
		gha := githubactions.New(githubactions.WithGetenv(env(t, vars)), githubactions.WithWriter(&bytes.Buffer{}))
		if err := report.Write(gha, r); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(vars["GITHUB_OUTPUT"])
		if err != nil {
			t.Fatal(err)
		}
		_, values := parseOutputs(t, string(data))
		for k, v := range values {
			if len(v) > report.MaxOutput {
				t.Errorf("output %s is %d bytes, more than GitHub's %d", k, len(v), report.MaxOutput)
			}
		}
		summary, err := os.ReadFile(vars["GITHUB_STEP_SUMMARY"])
		if err != nil {
			t.Fatal(err)
		}
		if len(summary) > report.MaxSummary {
			t.Errorf("summary is %d bytes, more than GitHub's %d", len(summary), report.MaxSummary)
		}
	})
}

func TestLogLines(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain\nlines":              "plain\nlines",
		"a\n::set-output name=x::1": "a%0A::set-output name=x::1",
		"  ::warning::x":            "  ::warning::x",
		"50% off\r::error::x":       "50%25 off%0D::error::x",
	} {
		if got := report.LogLines(in); got != want {
			t.Errorf("LogLines(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHostileVisibility: the Packages API's visibility is data too. A value
// with line breaks, workflow commands or markdown reaches neither the
// visibility output (whose heredoc a line break could end) nor the summary
// raw.
func TestHostileVisibility(t *testing.T) {
	t.Parallel()
	const hostile = "private\n_GitHubActionsFileCommandDelimeter_\ndigest<<EOF\n::add-mask::x\n![t](https://evil.test/t.png)"
	r := published(t)
	r.Visibility = hostile
	outputs, err := r.Outputs()
	if err != nil {
		t.Fatal(err)
	}
	if got := outputs["visibility"]; strings.ContainsAny(got, "\r\n") {
		t.Errorf("visibility output = %q, want it on one line", got)
	}
	if strings.Contains(outputs["json"], hostile) {
		t.Errorf("json output holds the value raw: %s", outputs["json"])
	}
	summary, err := r.Summary()
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"\n::add-mask::", "![t](", "\n_GitHubActionsFileCommandDelimeter_"} {
		if strings.Contains(summary, raw) {
			t.Errorf("summary holds %q raw:\n%s", raw, summary)
		}
	}
}
