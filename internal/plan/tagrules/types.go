package tagrules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Rule types (src/tag.ts:43-52).
const (
	typeSchedule = "schedule"
	typeSemver   = "semver"
	typePep440   = "pep440"
	typeMatch    = "match"
	typeEdge     = "edge"
	typeRef      = "ref"
	typeRaw      = "raw"
	typeSha      = "sha"
)

// ruleType is what one type= means: its default priority
// (src/tag.ts:43-52); check, run when the input is parsed, reads the
// attributes the type gives meaning to and sets metadata-action's defaults
// for them; produce makes the rule's value in a run.
type ruleType struct {
	priority float64
	check    func(r *Rule) error
	produce  func(r Rule, c Context, g map[string]helper) (produced, error)
}

var ruleTypes = map[string]ruleType{
	typeSchedule: {priority: 1000, check: (*Rule).checkSchedule, produce: Rule.produceSchedule},
	typeSemver:   {priority: 900, check: (*Rule).checkVersion, produce: Rule.produceSemver},
	typePep440:   {priority: 900, check: (*Rule).checkVersion, produce: Rule.producePEP440},
	typeMatch:    {priority: 800, check: (*Rule).checkMatch, produce: Rule.produceMatch},
	typeEdge:     {priority: 700, check: func(*Rule) error { return nil }, produce: Rule.produceEdge},
	typeRef:      {priority: 600, check: (*Rule).checkRef, produce: Rule.produceRef},
	typeRaw:      {priority: 200, check: (*Rule).checkRaw, produce: Rule.produceRaw},
	typeSha:      {priority: 100, check: (*Rule).checkSha, produce: Rule.produceSha},
}

// produced is a rule's value before prefix and suffix; an empty value is
// no tag.
type produced struct {
	value string
	// auto says the rule takes latest under latest=auto.
	auto bool
	// semver is the version the value came from, for the registry check.
	semver *semVersion
	// warning says why the rule made no tag, or what it fell back to.
	warning string
}

func (r *Rule) checkSchedule() error {
	if !r.has("pattern") {
		r.attrs["pattern"] = "nightly"
	}
	var err error
	r.pattern, err = r.template("pattern", scheduleExprs)
	return err
}

func (r Rule) produceSchedule(c Context, _ map[string]helper) (produced, error) {
	if !strings.Contains(c.EventName, "schedule") {
		return produced{}, nil
	}
	val, err := r.pattern.render(map[string]helper{"date": dateHelper(c.Now), "commit_date": dateHelper(c.CommitDate)})
	return produced{value: val}, err
}

// checkVersion is type=semver's and type=pep440's.
func (r *Rule) checkVersion() error {
	if !r.has("pattern") {
		return r.fail("type=%s needs a pattern, e.g. pattern={{version}}", r.Type)
	}
	exprs := semverExprs
	if r.Type == typePep440 {
		exprs = pep440Exprs
	}
	var err error
	if r.pattern, err = r.template("pattern", exprs); err != nil {
		return err
	}
	if m := r.attrs["match"]; m != "" {
		if r.match, err = compileJSRegexp(m); err != nil {
			return r.fail("match: %v", err)
		}
		if r.match.NumSubexp() < 1 {
			return r.fail("match=%s has no capture group; the version is group 1, e.g. match=v(\\d+\\.\\d+\\.\\d+)$", m)
		}
	}
	return nil
}

// versionInput is what a semver, pep440 or match rule reads: its value
// when set, else the git tag; ok is false on a run that is not for a tag.
func (r Rule) versionInput(c Context, g map[string]helper) (raw string, ok bool, err error) {
	if r.attrs["value"] != "" {
		raw, err = r.value.render(g)
		return raw, err == nil, err
	}
	raw, ok = strings.CutPrefix(c.Ref, "refs/tags/")
	return raw, ok, nil
}

// versionString is what a semver or pep440 rule parses: group 1 of match=
// when it matches, and / made -.
func (r Rule) versionString(c Context, g map[string]helper) (raw, warn string, ok bool, err error) {
	raw, ok, err = r.versionInput(c, g)
	if !ok || err != nil {
		return "", "", false, err
	}
	if r.match != nil {
		if m := r.match.FindStringSubmatch(raw); m == nil {
			warn = fmt.Sprintf("match %s does not match %q; the whole string is used", r.attrs["match"], raw)
		} else {
			raw = m[1]
		}
	}
	return strings.ReplaceAll(raw, "/", "-"), warn, true, nil
}

func (r Rule) produceSemver(c Context, g map[string]helper) (produced, error) {
	raw, warn, ok, err := r.versionString(c, g)
	if !ok || err != nil {
		return produced{}, err
	}
	s, ok := parseSemver(raw)
	if !ok {
		return produced{warning: join(warn, fmt.Sprintf("%q is not a semantic version (semver.org), so this rule made no tag", raw))}, nil
	}
	if len(s.prerelease) > 0 {
		// A prerelease gets its full version (or the raw string), never a
		// shortened pattern (src/meta.ts:187-192).
		if isRawStatement(r.attrs["pattern"]) {
			return produced{value: s.raw, semver: &s, warning: warn}, nil
		}
		return produced{value: s.version(), semver: &s, warning: warn}, nil
	}
	val, err := r.pattern.render(semverHelpers(s))
	return produced{value: val, auto: true, semver: &s, warning: warn}, err
}

func (r Rule) producePEP440(c Context, g map[string]helper) (produced, error) {
	raw, warn, ok, err := r.versionString(c, g)
	if !ok || err != nil {
		return produced{}, err
	}
	p, ok := parsePEP440(raw)
	if !ok {
		return produced{warning: join(warn, fmt.Sprintf("%q is not a PEP 440 version, so this rule made no tag", raw))}, nil
	}
	if p.isPre || p.isPost || p.isDev {
		if isRawStatement(r.attrs["pattern"]) {
			return produced{value: raw, warning: warn}, nil
		}
		return produced{value: p.clean(), warning: warn}, nil
	}
	val, err := r.pattern.render(map[string]helper{
		"raw": value(raw), "version": value(p.clean()),
		"major": value(p.part(0)), "minor": value(p.part(1)), "patch": value(p.part(2)),
	})
	return produced{value: val, auto: true, warning: warn}, err
}

func (r *Rule) checkMatch() error {
	if !r.has("pattern") || r.attrs["pattern"] == "" {
		return r.fail("type=match needs a pattern (a regular expression), e.g. pattern=\\d+\\.\\d+")
	}
	var err error
	if r.match, err = compileJSRegexp(r.attrs["pattern"]); err != nil {
		return r.fail("pattern: %v", err)
	}
	if g := r.attrs["group"]; g != "" {
		if r.group, err = strconv.Atoi(g); err != nil || r.group < 0 {
			return r.fail("group=%s is not a group number; use 0 for the whole match or 1, 2… for a capture group", g)
		}
	}
	if r.group > r.match.NumSubexp() {
		return r.fail("group=%d, but the pattern has %d capture groups", r.group, r.match.NumSubexp())
	}
	return nil
}

func (r Rule) produceMatch(c Context, g map[string]helper) (produced, error) {
	raw, ok, err := r.versionInput(c, g)
	if !ok || err != nil {
		return produced{}, err
	}
	m := r.match.FindStringSubmatch(raw)
	if m == nil {
		return produced{warning: fmt.Sprintf("pattern %s does not match %q, so this rule made no tag", r.attrs["pattern"], raw)}, nil
	}
	if !groupMatched(r.match, raw, r.group) {
		return produced{warning: fmt.Sprintf("group %d of %s matched nothing in %q", r.group, r.attrs["pattern"], raw)}, nil
	}
	return produced{value: m[r.group], auto: true}, nil
}

func (r Rule) produceEdge(c Context, _ map[string]helper) (produced, error) {
	branch, ok := strings.CutPrefix(c.Ref, "refs/heads/")
	if !ok {
		return produced{}, nil
	}
	want := r.attrs["branch"]
	if want == "" {
		want = c.RepoDefaultBranch
	}
	if want == "" || branch != want {
		return produced{}, nil
	}
	return produced{value: "edge"}, nil
}

func (r *Rule) checkRef() error {
	switch r.attrs["event"] {
	case "branch", "tag", "pr":
	case "":
		return r.fail("type=ref needs event=branch, event=tag or event=pr")
	default:
		return r.fail("event=%s is not branch, tag or pr", r.attrs["event"])
	}
	// pr- is a default prefix, so the flavor prefix does not apply unless
	// prefix= is written (src/tag.ts:177-179).
	if r.attrs["event"] == "pr" && !r.has("prefix") {
		r.attrs["prefix"] = "pr-"
	}
	return nil
}

func (r Rule) produceRef(c Context, _ map[string]helper) (produced, error) {
	switch r.attrs["event"] {
	case "branch":
		branch, ok := strings.CutPrefix(c.Ref, "refs/heads/")
		// Difference: a merge queue's temporary branch is not a branch to
		// publish; event=pr names its pull request.
		if !ok || c.EventName == "merge_group" {
			return produced{}, nil
		}
		return produced{value: cleanRefName(branch)}, nil
	case "tag":
		tag, ok := strings.CutPrefix(c.Ref, "refs/tags/")
		if !ok {
			return produced{}, nil
		}
		if s, isSemver := parseSemver(tag); isSemver {
			return produced{value: cleanRefName(tag), auto: true, semver: &s}, nil
		}
		return produced{value: cleanRefName(tag), auto: true}, nil
	case "pr":
		if n, ok := mergeQueuePR(c); ok {
			return produced{value: n}, nil
		}
		pr, ok := strings.CutPrefix(c.Ref, "refs/pull/")
		if !ok {
			return produced{}, nil
		}
		return produced{value: strings.TrimSuffix(pr, "/merge")}, nil
	}
	return produced{}, nil
}

func (r *Rule) checkRaw() error {
	if !r.has("value") {
		return r.fail("type=raw needs a value, e.g. type=raw,value=stable")
	}
	return nil
}

func (r Rule) produceRaw(_ Context, g map[string]helper) (produced, error) {
	val, err := r.value.render(g)
	return produced{value: val}, err
}

func (r *Rule) checkSha() error {
	if !r.has("prefix") {
		r.attrs["prefix"] = "sha-"
	}
	switch r.attrs["format"] {
	case "":
		r.attrs["format"] = "short"
	case "short", "long":
	default:
		return r.fail("format=%s is not short or long", r.attrs["format"])
	}
	return nil
}

func (r Rule) produceSha(c Context, _ map[string]helper) (produced, error) {
	if c.SHA == "" {
		return produced{}, nil
	}
	if r.attrs["format"] == "long" {
		return produced{value: c.SHA}, nil
	}
	return produced{value: c.shortSHA()}, nil
}

// groupMatched reports whether group g took part in the match: JavaScript
// gives undefined for a group that did not, and metadata-action skips the
// rule then; an empty group that did take part is an empty tag, skipped too.
func groupMatched(re *regexp.Regexp, s string, g int) bool {
	loc := re.FindStringSubmatchIndex(s)
	return loc != nil && loc[2*g] >= 0
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// mergeQueueRef is a merge queue's branch: gh-readonly-queue/BASE/pr-N-SHA
// (GitHub docs, "Managing a merge queue").
var mergeQueueRef = regexp.MustCompile(`^refs/heads/gh-readonly-queue/.+/pr-([0-9]+)-[0-9a-f]+$`)

// mergeQueuePR is the pull request a merge_group run tests.
// Difference: metadata-action has no merge_group support (#529).
func mergeQueuePR(c Context) (string, bool) {
	if c.EventName != "merge_group" {
		return "", false
	}
	m := mergeQueueRef.FindStringSubmatch(c.Ref)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func semverHelpers(s semVersion) map[string]helper {
	return map[string]helper{
		"version":    value(s.version()),
		"major":      value(strconv.FormatUint(s.major, 10)),
		"minor":      value(strconv.FormatUint(s.minor, 10)),
		"patch":      value(strconv.FormatUint(s.patch, 10)),
		"raw":        value(s.raw),
		"prerelease": value(strings.Join(s.prerelease, ",")),
		"build":      value(strings.Join(s.build, ",")),
	}
}

// isRawStatement reports whether pattern is exactly {{raw}}
// (src/meta.ts:373-383).
func isRawStatement(pattern string) bool {
	t, err := parseTemplate(pattern, map[string]bool{"raw": true, "version": true, "major": true, "minor": true, "patch": true, "prerelease": true, "build": true})
	return err == nil && len(t) == 1 && t[0].name == "raw"
}
