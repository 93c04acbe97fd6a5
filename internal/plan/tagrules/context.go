package tagrules

import (
	"fmt"
	"strings"
	"time"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// Context is what the rules' conditions and expressions read of a run.
type Context struct {
	EventName string
	// Ref is GITHUB_REF; for pull_request_target the rules see
	// refs/pull/N/merge instead (src/context.ts:66-68).
	Ref string
	// SHA is the commit (the pull request's head with
	// DOCKER_METADATA_PR_HEAD_SHA=true).
	SHA            string
	ShortSHALength int
	// DefaultBranch is the payload's repository.default_branch, which
	// {{is_default_branch}} compares with; RepoDefaultBranch is the API's,
	// which type=edge compares with.
	DefaultBranch, RepoDefaultBranch string
	// BaseRef is the payload's base_ref (pushes), PRBaseRef and PRHeadRef
	// the pull request's branches.
	BaseRef, PRBaseRef, PRHeadRef string
	// Now is what {{date}} formats; CommitDate what {{commit_date}} does.
	Now, CommitDate time.Time
}

func (c Context) shortSHA() string {
	n := c.ShortSHALength
	if n <= 0 {
		n = 7
	}
	if n >= len(c.SHA) {
		return c.SHA
	}
	return c.SHA[:n]
}

// globals are the expressions every value, prefix, suffix and enable may
// use (src/meta.ts:399-484).
func (c Context) globals() map[string]helper {
	branch := ""
	if b, ok := strings.CutPrefix(c.Ref, "refs/heads/"); ok {
		branch = b
	} else if strings.HasPrefix(c.Ref, "refs/pull/") {
		// Difference: metadata-action gives '' on pull requests (#485);
		// the branch being built is the pull request's head.
		branch = c.PRHeadRef
	}
	tag, _ := strings.CutPrefix(c.Ref, "refs/tags/")
	if !strings.HasPrefix(c.Ref, "refs/tags/") {
		tag = ""
	}
	baseRef := ""
	switch {
	case strings.HasPrefix(c.Ref, "refs/tags/") && c.BaseRef != "":
		baseRef = strings.TrimPrefix(c.BaseRef, "refs/heads/")
	case strings.HasPrefix(c.Ref, "refs/pull/"):
		baseRef = c.PRBaseRef
	case c.EventName == "merge_group":
		baseRef = strings.TrimPrefix(c.BaseRef, "refs/heads/")
	}
	isDefault := "false"
	// The ref minus refs/heads/, compared with the payload's default
	// branch; some events always run on the default branch.
	if b := strings.TrimPrefix(c.Ref, "refs/heads/"); b != "" {
		if c.DefaultBranch == b {
			isDefault = "true"
		}
		for _, e := range []string{"create", "discussion", "issues", "schedule"} {
			if strings.Contains(c.EventName, e) {
				isDefault = "true"
			}
		}
	}
	isNotDefault := "true"
	if isDefault == "true" {
		isNotDefault = "false"
	}
	return map[string]helper{
		"branch":                value(branch),
		"tag":                   value(tag),
		"sha":                   value(c.shortSHA()),
		"base_ref":              value(baseRef),
		"is_default_branch":     value(isDefault),
		"is_not_default_branch": value(isNotDefault),
		"date":                  dateHelper(c.Now),
		"commit_date":           dateHelper(c.CommitDate),
	}
}

// Expand evaluates the {{…}} expressions of the tag rules in label or
// annotation values, as docker/metadata-action does for its labels and
// annotations inputs; input names the input for errors. A value that
// expands to nothing is left out, rather than read as labels' "key="
// removal. \{{ is a literal {{.
func (c Context) Expand(input string, kvs []inputs.KeyValue) ([]inputs.KeyValue, error) {
	g := c.globals()
	out := make([]inputs.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		if !strings.Contains(kv.Value, "{{") {
			out = append(out, kv)
			continue
		}
		t, err := parseTemplate(kv.Value, globalExprs)
		if err == nil {
			kv.Value, err = t.render(g)
		}
		if err != nil {
			return nil, &inputs.Error{Input: input, Msg: oneLine(fmt.Sprintf("the value of %q: %v; write \\{{ for a literal {{", inputs.Truncate(kv.Key, 60), err))}
		}
		if kv.Value != "" {
			out = append(out, kv)
		}
	}
	return out, nil
}
