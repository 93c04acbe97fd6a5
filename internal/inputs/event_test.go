package inputs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// eventPayloads holds trimmed copies of GitHub's documented webhook payloads
// ("Webhook events and payloads"), and the odd shapes GitHub also sends.
var eventPayloads = filepath.Join("testdata", "events")

// eventCase is a payload and event name, and what Read makes of them.
type eventCase struct {
	file    string // under testdata/events; "" means no payload at all
	event   string
	head    HeadOrigin
	why     string // a phrase of HeadUnproven
	push    bool   // with push: auto
	skipped string // a phrase of PushSkipped; "" means none
	headRef string
}

// TestReadEventPayload decides, for each payload shape, where the pull
// request's head lives and whether push: auto writes: only a payload that
// proves head and base are this repository lets a pull_request run push;
// every other shape is a dry run, said so in PushSkipped.
func TestReadEventPayload(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.Mkdir(filepath.Join(ws, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	const unproven = "does not prove this pull request comes from this repository"
	tests := []eventCase{
		{"pull-request-same-repo.json", "pull_request", SameRepository, "", true, "", "feature/pr-images"},
		{"pull-request-fork.json", "pull_request", Fork, "", false, "from a fork", "feature/pr-images"},
		// The case: GitHub sends head.repo null once the fork is
		// deleted; the old check read that as no fork.
		{"pull-request-head-repo-null.json", "pull_request", Unproven, "head.repo is null", false, unproven, "feature/pr-images"},
		{"pull-request-base-repo-null.json", "pull_request", Unproven, "base.repo is null", false, unproven, "feature/pr-images"},
		{"pull-request-no-head.json", "pull_request", Unproven, "head is missing", false, unproven, ""},
		{"pull-request-head-no-full-name.json", "pull_request", Unproven, "head.repo.full_name is missing", false, unproven, "feature/pr-images"},
		// Decision: GitHub names are case-insensitive, and the ids agree.
		{"pull-request-full-name-case.json", "pull_request", SameRepository, "", true, "", "feature/pr-images"},
		{"pull-request-ids-as-strings.json", "pull_request", Unproven, "not a number", false, unproven, "feature/pr-images"},
		{"pull-request-wrong-type.json", "pull_request", Unproven, "no pull_request object", false, unproven, ""},
		// A repository that is itself a fork, its own pull request: the
		// payload marks the head a fork, which is not a proof.
		{"pull-request-within-fork.json", "pull_request", Unproven, "marked as a fork", false, unproven, "feature/pr-images"},
		// The event says pull request, the payload holds none.
		{"push.json", "pull_request", Unproven, "no pull_request object", false, unproven, ""},
		{"", "pull_request", Unproven, "no pull_request object", false, unproven, ""},
		{"pull-request-review-fork.json", "pull_request_review", Fork, "", false, "from a fork", "feature/pr-images"},
		{"pull-request-review-comment-same-repo.json", "pull_request_review_comment", SameRepository, "", true, "", "feature/pr-images"},
		// pull_request_target runs with this repository's token, which
		// writes, fork or not (the fork's branch name is plan's concern).
		{"pull-request-target-fork-latest.json", "pull_request_target", Fork, "", true, "", "latest"},
		{"pull-request-target-head-repo-null.json", "pull_request_target", Unproven, "head.repo is null", true, "", "v9.9.9"},
		// An event named otherwise that carries a pull request is judged
		// by its payload all the same.
		{"pull-request-fork.json", "pull_request_review_thread", Fork, "", false, "from a fork", "feature/pr-images"},
		{"pull-request-same-repo.json", "some_future_event", SameRepository, "", true, "", "feature/pr-images"},
		// Not pull request events: workflow_run's pull_requests are the
		// triggering run's and its token is this repository's (GitHub's
		// advice for publishing what a fork built); a merge queue's branch
		// is in this repository.
		{"workflow-run-pull-requests.json", "workflow_run", NoPullRequest, "", true, "", ""},
		{"merge-group.json", "merge_group", NoPullRequest, "", true, "", ""},
		{"push.json", "push", NoPullRequest, "", true, "", ""},
		{"", "workflow_dispatch", NoPullRequest, "", true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.event+"/"+strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"GITHUB_EVENT_NAME": tt.event, "INPUT_SOURCE": "oci:out", "GITHUB_WORKSPACE": ws}
			if tt.file != "" {
				vars["GITHUB_EVENT_PATH"] = filepath.Join(eventPayloads, tt.file)
			}
			in, err := Read(env(t, vars))
			if err != nil {
				t.Fatalf("Read() = %v", err)
			}
			c := in.Context
			if c.Head != tt.head || !strings.Contains(c.HeadUnproven, tt.why) || (tt.why == "") != (c.HeadUnproven == "") {
				t.Errorf("Head = %v (%q), want %v (%q)", c.Head, c.HeadUnproven, tt.head, tt.why)
			}
			if want := tt.head == Fork || tt.head == Unproven; c.FromFork != want {
				t.Errorf("FromFork = %v, want %v", c.FromFork, want)
			}
			if in.Push != tt.push {
				t.Errorf("push: auto: Push = %v, want %v", in.Push, tt.push)
			}
			if (tt.skipped == "") != (in.PushSkipped == "") || !strings.Contains(in.PushSkipped, tt.skipped) {
				t.Errorf("PushSkipped = %q, want one saying %q", in.PushSkipped, tt.skipped)
			}
			if c.Event.PRHeadRef != tt.headRef {
				t.Errorf("PRHeadRef = %q, want %q", c.Event.PRHeadRef, tt.headRef)
			}
		})
	}
}

// TestEventPayloadKeepsContext: the split of readContext reads what it did
// from a pull request's and a merge queue's payloads.
func TestEventPayloadKeepsContext(t *testing.T) {
	t.Parallel()
	in, err := Read(env(t, map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": filepath.Join(eventPayloads, "pull-request-same-repo.json")}))
	if err != nil {
		t.Fatal(err)
	}
	want := EventInfo{DefaultBranch: "main", PRNumber: 42, PRBaseRef: "main", PRHeadRef: "feature/pr-images", PRHeadSHA: "fedcba9876543210fedcba9876543210fedcba98"}
	if in.Context.Event != want || in.Context.OwnerType != "Organization" || in.Context.RepoVisibility != "public" || in.Context.CommitTime != nil {
		t.Errorf("Context = %+v, want Event %+v, an Organization, public, no commit time", in.Context, want)
	}
	in, err = Read(env(t, map[string]string{"GITHUB_EVENT_NAME": "merge_group", "GITHUB_EVENT_PATH": filepath.Join(eventPayloads, "merge-group.json")}))
	if err != nil {
		t.Fatal(err)
	}
	if in.Context.Event.BaseRef != "refs/heads/main" || in.Context.CommitTime != nil {
		t.Errorf("merge_group: BaseRef = %q, CommitTime = %v; want refs/heads/main and none (merge_group has no top-level head_commit)", in.Context.Event.BaseRef, in.Context.CommitTime)
	}
	in, err = Read(env(t, map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": filepath.Join(eventPayloads, "push.json")}))
	if err != nil {
		t.Fatal(err)
	}
	if in.Context.CommitTime == nil || in.Context.CommitTime.Format("2006-01-02T15:04:05Z") != "2026-10-30T14:15:20Z" {
		t.Errorf("push: CommitTime = %v, want 2026-10-30T14:15:20Z", in.Context.CommitTime)
	}
}
