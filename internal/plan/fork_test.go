package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/plan"
)

// TestForkBranchNeverTags: a fork's branch name is its author's to choose.
// Under pull_request_target (the base repository's token, which writes) a
// fork's head branch, or one whose payload proves no origin, makes no tag,
// not latest, not a version, and reaches no label: {{branch}} is empty, and
// a warning on each input that uses it says why. A same-repository pull
// request, a pull_request from a fork (read-only token) and a push keep
// the documented {{branch}}.
func TestForkBranchNeverTags(t *testing.T) {
	t.Parallel()
	const rules = "type=raw,value={{branch}}\ntype=semver,pattern={{version}},value={{branch}}\ntype=ref,event=pr"
	labels := []inputs.KeyValue{{Key: "org.example.branch", Value: "{{ branch }}"}, {Key: "org.example.pr-base", Value: "{{base_ref}}"}}
	pr := func(event string, head inputs.HeadOrigin, why, branch string) func(*inputs.Inputs) {
		return func(in *inputs.Inputs) {
			in.Context.EventName, in.Context.Ref = event, "refs/pull/42/merge"
			if event == "pull_request_target" {
				in.Context.Ref = "refs/heads/main" // the base branch; the rules see refs/pull/42/merge
			}
			in.Context.Head, in.Context.HeadUnproven = head, why
			in.Context.FromFork = head == inputs.Fork || head == inputs.Unproven
			in.Context.Event = inputs.EventInfo{PRNumber: 42, PRHeadRef: branch, PRBaseRef: "main", DefaultBranch: "main"}
		}
	}
	tests := []struct {
		name     string
		setup    func(*inputs.Inputs)
		tags     []string
		label    string   // org.example.branch; "" means not set
		warnings []string // the inputs warned that {{branch}} was emptied
		why      string   // a phrase of those warnings
	}{
		{"pull_request_target from a fork, branch latest", pr("pull_request_target", inputs.Fork, "", "latest"),
			[]string{"pr-42"}, "", []string{"tags", "labels"}, "from a fork"},
		{"pull_request_target from a fork, branch v9.9.9", pr("pull_request_target", inputs.Fork, "", "v9.9.9"),
			[]string{"pr-42"}, "", []string{"tags", "labels"}, "from a fork"},
		{"pull_request_target, head.repo null", pr("pull_request_target", inputs.Unproven, "pull_request.head.repo is null", "latest"),
			[]string{"pr-42"}, "", []string{"tags", "labels"}, "pull_request.head.repo is null"},
		{"pull_request_target in the repository", pr("pull_request_target", inputs.SameRepository, "", "v9.9.9"),
			[]string{"9.9.9", "pr-42", "v9.9.9", "latest"}, "v9.9.9", nil, ""},
		{"pull_request from a fork (read-only token)", pr("pull_request", inputs.Fork, "", "feature/x"),
			[]string{"pr-42", "feature-x"}, "feature/x", nil, ""},
		{"pull_request in the repository", pr("pull_request", inputs.SameRepository, "", "feature/x"),
			[]string{"pr-42", "feature-x"}, "feature/x", nil, ""},
		{"push", func(in *inputs.Inputs) { in.Context.EventName, in.Context.Ref = "push", "refs/heads/feature/x" },
			[]string{"feature-x"}, "feature/x", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tagPush(t)
			in.Tags, in.Labels = rules, labels
			tt.setup(&in)
			p, err := plan.Make(in, widgetInfo())
			if err != nil {
				t.Fatalf("Make() = %v", err)
			}
			var tags []string
			for _, tag := range p.Tags {
				tags = append(tags, tag.TagStr())
			}
			if diff := cmp.Diff(tt.tags, tags); diff != "" {
				t.Errorf("tags mismatch (-want +got):\n%s", diff)
			}
			label := ""
			for _, e := range p.Labels {
				if e.Key == "org.example.branch" {
					label = e.Value
				}
			}
			if label != tt.label {
				t.Errorf("label org.example.branch = %q, want %q", label, tt.label)
			}
			var warned []string
			for _, w := range p.Warnings {
				if strings.Contains(w.Msg, "{{branch}} is empty") {
					warned = append(warned, w.Input)
					if !strings.Contains(w.Msg, tt.why) {
						t.Errorf("warning %q does not say %q", w, tt.why)
					}
				}
			}
			if diff := cmp.Diff(tt.warnings, warned); diff != "" {
				t.Errorf("inputs warned of an empty {{branch}} mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestForkBranchQuietWithoutBranch: a pull_request_target run from a fork
// whose inputs do not use {{branch}} lost nothing, and is not warned.
func TestForkBranchQuietWithoutBranch(t *testing.T) {
	t.Parallel()
	in := tagPush(t)
	in.Context.EventName, in.Context.Ref, in.Context.Head, in.Context.FromFork = "pull_request_target", "refs/heads/main", inputs.Fork, true
	in.Context.Event = inputs.EventInfo{PRNumber: 42, PRHeadRef: "latest", PRBaseRef: "main", DefaultBranch: "main"}
	in.Tags = "type=ref,event=pr\ntype=raw,value=pr-{{base_ref}},enable={{is_not_default_branch}}"
	p, err := plan.Make(in, githubapi.Info{})
	if err != nil {
		t.Fatalf("Make() = %v", err)
	}
	if len(p.Tags) == 0 || p.Tags[0].TagStr() != "pr-42" {
		t.Errorf("tags = %v, want pr-42 first", p.Tags)
	}
	for _, w := range p.Warnings {
		if strings.Contains(w.Msg, "{{branch}}") {
			t.Errorf("warning %q, want none about {{branch}}", w)
		}
	}
}
