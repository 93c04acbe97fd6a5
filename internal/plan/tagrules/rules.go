// Package tagrules is docker/metadata-action's `tags` and `flavor` language
// (README "tags input", src/tag.ts, src/flavor.ts, src/meta.ts at
// dc802804), so that a workflow moves here by copy and paste: Parse reads
// the two inputs, and Rules.Evaluate gives the tags and the version for a
// run's Context. Where this engine deliberately differs, the README's
// "Differences from docker/metadata-action" section says so and why; each
// difference is marked "Difference:" below.
//
// The files follow the jobs: parse.go reads the tags input, flavor.go the
// flavor input, types.go is one entry per rule type, evaluate.go runs the
// rules, latest.go checks latest=auto against a registry's tags,
// template.go and moment.go are the {{…}} expressions, version.go SemVer
// and PEP 440, and jsregexp.go JavaScript regular expressions.
package tagrules

import "regexp"

// Rule is one line of the tags input, parsed.
type Rule struct {
	// Line is the 1-based line in the tags input; 0 for a default rule.
	Line int
	// Text is the line as written.
	Text     string
	Type     string
	Priority float64
	// plain is a tag (or the tag of a full reference) written as is.
	plain string

	attrs          map[string]string
	value, pattern template
	prefix, suffix *template
	enable         template
	match          *regexp.Regexp // semver/pep440 match=, or type=match pattern
	group          int
}

// Rules are the parsed tags and flavor inputs.
type Rules struct {
	Rules  []Rule // in evaluation order: priority, then input order
	Flavor Flavor
	// Default is true when tags was empty and metadata-action's default
	// rules stand in.
	Default bool
}

// knownAttrs are the attributes a rule may have.
var knownAttrs = map[string]bool{
	"type": true, "pattern": true, "value": true, "match": true, "group": true, "event": true,
	"branch": true, "format": true, "enable": true, "priority": true, "prefix": true, "suffix": true,
}

// defaultRules are what metadata-action does with an empty tags input
// (src/tag.ts:56-64).
var defaultRules = []string{"type=schedule", "type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr"}

// Expression sets: what each kind of string may use.
var (
	globalExprs   = map[string]bool{"branch": true, "tag": true, "sha": true, "base_ref": true, "is_default_branch": true, "is_not_default_branch": true, "date": true, "commit_date": true}
	scheduleExprs = map[string]bool{"date": true, "commit_date": true}
	semverExprs   = map[string]bool{"version": true, "major": true, "minor": true, "patch": true, "raw": true, "prerelease": true, "build": true}
	pep440Exprs   = map[string]bool{"version": true, "major": true, "minor": true, "patch": true, "raw": true}
)

// has reports whether the rule's line sets attr, even to "".
func (r Rule) has(attr string) bool {
	_, ok := r.attrs[attr]
	return ok
}

// fail is an *inputs.Error for the rule's line of tags.
func (r Rule) fail(format string, args ...any) error {
	return lineError("tags", r.Line, r.Text, format, args...)
}

// template parses the rule's attr as an expression string that may use
// allowed.
func (r Rule) template(attr string, allowed map[string]bool) (template, error) {
	t, err := parseTemplate(r.attrs[attr], allowed)
	if err != nil {
		return nil, r.fail("%s: %v", attr, err)
	}
	return t, nil
}
