package action

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// prPayload writes the recorded pull request event file with its head
// branch renamed to branch, and head.repo null when deleted (what GitHub
// sends once the fork is deleted): the fork's author chooses the name.
func prPayload(t *testing.T, file, branch string, deleted bool) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "github", "events", file))
	if err != nil {
		t.Fatal(err)
	}
	var event map[string]any
	if err := json.Unmarshal(raw, &event); err != nil {
		t.Fatal(err)
	}
	head := event["pull_request"].(map[string]any)["head"].(map[string]any)
	head["ref"] = branch
	if deleted {
		head["repo"] = nil
	}
	out, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestForkBranchUnderPullRequestTarget drives the entrypoint through a
// pull_request_target run, which holds this repository's token and
// publishes: a fork's branch named latest or v9.9.9 (or a head the payload
// does not place) writes no such tag, and its name is in no label and in
// neither the tags nor the labels output. The same run from a branch of
// this repository keeps {{branch}}, which shows the rules would tag it.
func TestForkBranchUnderPullRequestTarget(t *testing.T) {
	t.Parallel()
	const rules = "type=raw,value={{branch}}\ntype=semver,pattern={{version}},value={{branch}}\ntype=ref,event=pr"
	for _, tt := range []struct {
		name, file, branch string
		deleted            bool
		tags               []string
		warned             bool
	}{
		{"fork branch latest", "pull-request-fork.json", "latest", false, []string{"pr-42"}, true},
		{"fork branch v9.9.9", "pull-request-fork.json", "v9.9.9", false, []string{"pr-42"}, true},
		{"deleted fork, branch latest", "pull-request-fork.json", "latest", true, []string{"pr-42"}, true},
		{"this repository's branch v9.9.9", "pull-request.json", "v9.9.9", false, []string{"9.9.9", "pr-42", "v9.9.9", "latest"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, registrytest.Options{})
			repo := f.reg.Host() + "/acme/widget"
			r := f.run(t, map[string]string{
				"GITHUB_EVENT_NAME": "pull_request_target",
				"GITHUB_EVENT_PATH": prPayload(t, tt.file, tt.branch, tt.deleted),
				// pull_request_target runs on the base branch.
				"GITHUB_REF":   "refs/heads/main",
				"INPUT_TAGS":   rules,
				"INPUT_LABELS": "org.example.branch={{branch}}",
			})
			if r.err != nil {
				t.Fatalf("Run() = %v", r.err)
			}
			var want []string
			for _, tag := range tt.tags {
				want = append(want, repo+":"+tag)
			}
			if diff := cmp.Diff(want, strings.Split(r.outputs["tags"], "\n")); diff != "" {
				t.Errorf("tags output mismatch (-want +got):\n%s", diff)
			}
			written := tagsIn(t, repo)
			slices.Sort(written)
			wantWritten := slices.Sorted(slices.Values(tt.tags))
			if diff := cmp.Diff(wantWritten, written); diff != "" {
				t.Errorf("tags in the registry mismatch (-want +got):\n%s", diff)
			}
			branchLabel := "org.example.branch=" + tt.branch
			if got := strings.Contains(r.outputs["labels"], branchLabel); got == tt.warned {
				t.Errorf("labels output has %s: %v, want %v:\n%s", branchLabel, got, !tt.warned, r.outputs["labels"])
			}
			if got := strings.Contains(r.log, "{{branch}} is empty"); got != tt.warned {
				t.Errorf("log warns of an empty {{branch}}: %v, want %v:\n%s", got, tt.warned, r.log)
			}
		})
	}
}

// TestPushAutoDeletedFork: a pull_request whose head.repo is null (the
// fork was deleted) proves no origin, so push: auto writes nothing and
// says why; it used to publish.
func TestPushAutoDeletedFork(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	r := f.run(t, map[string]string{
		"GITHUB_EVENT_NAME": "pull_request",
		"GITHUB_EVENT_PATH": prPayload(t, "pull-request-fork.json", "feature/pr-images", true),
		"GITHUB_REF":        "refs/pull/42/merge",
	})
	if r.err != nil {
		t.Fatalf("Run() = %v", r.err)
	}
	want := "push: auto wrote nothing: the event payload does not prove this pull request comes from this repository (pull_request.head.repo is null"
	if !strings.Contains(r.log, want) || !strings.Contains(r.outputs["json"], `"mode":"dry-run"`) {
		t.Errorf("log lacks %q or json output is not a dry run:\n%s\n%s", want, r.log, r.outputs["json"])
	}
	if got := f.writes(); len(got) != 0 {
		t.Errorf("the registry got %d writes, want none: %+v", len(got), got)
	}
}

// tagsIn lists repo's tags; none when it does not exist.
func tagsIn(t *testing.T, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r, remote.WithAuth(&authn.Basic{Username: "reader", Password: token}))
	if err != nil {
		return nil
	}
	return tags
}
