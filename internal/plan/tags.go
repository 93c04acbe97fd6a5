package plan

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// The tag rules are docker/metadata-action's `tags` and `flavor` language
// (README "tags input", src/tag.ts, src/flavor.ts, src/meta.ts at
// dc802804), so that a workflow moves here by copy and paste. Where this
// engine deliberately differs, the README's "Differences from
// docker/metadata-action" section says so and why; each difference is marked
// "Difference:" below.

// Rule types and their default priorities (src/tag.ts:43-52).
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

var defaultPriority = map[string]float64{
	typeSchedule: 1000, typeSemver: 900, typePep440: 900, typeMatch: 800,
	typeEdge: 700, typeRef: 600, typeRaw: 200, typeSha: 100,
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

// TagRule is one line of the tags input, parsed.
type TagRule struct {
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

// Flavor is the parsed flavor input (src/flavor.ts).
type Flavor struct {
	// Latest is auto, true or false.
	Latest                     string
	prefix, suffix             template
	PrefixText, SuffixText     string
	PrefixLatest, SuffixLatest bool
}

// TagRules are the parsed tags and flavor inputs.
type TagRules struct {
	Rules  []TagRule // in evaluation order: priority, then input order
	Flavor Flavor
	// Default is true when tags was empty and metadata-action's default
	// rules stand in.
	Default bool
}

// ParseTagRules parses the tags and flavor inputs. image is the
// destination: a full reference in tags must name it. Every bad line is
// reported, each as an *inputs.Error naming the input and the line.
func ParseTagRules(tags, flavor string, image name.Repository) (TagRules, error) {
	var errs []error
	tr := TagRules{}
	var err error
	tr.Flavor, err = ParseFlavor(flavor)
	if err != nil {
		errs = append(errs, err)
	}
	// A line starting with # is a comment, as in metadata-action's
	// getInputList (src/context.ts:115-129); with nothing else, the
	// default rules apply.
	type numbered struct {
		n    int // 0 for a default rule
		line string
	}
	var lines []numbered
	for i, line := range strings.Split(tags, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, numbered{i + 1, line})
		}
	}
	if len(lines) == 0 {
		tr.Default = true
		for _, line := range defaultRules {
			lines = append(lines, numbered{0, line})
		}
	}
	for _, l := range lines {
		n, line := l.n, l.line
		rules, err := parseTagLine(n, line, image)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tr.Rules = append(tr.Rules, rules...)
	}
	if len(errs) > 0 {
		return TagRules{}, errors.Join(errs...)
	}
	if len(tr.Rules) == 0 {
		return TagRules{}, &inputs.Error{Input: "tags", Msg: "lists no tag or rule; give one per line, or leave it empty for the default rules"}
	}
	// A stable sort: equal priorities keep input order (src/tag.ts:69-77).
	sort.SliceStable(tr.Rules, func(i, j int) bool { return tr.Rules[i].Priority > tr.Rules[j].Priority })
	return tr, nil
}

// lineError is an *inputs.Error for a line of tags.
func lineError(input string, line int, text, format string, args ...any) error {
	where := "default rule"
	if line > 0 {
		where = "line " + strconv.Itoa(line)
	}
	return &inputs.Error{Input: input, Msg: oneLine(fmt.Sprintf("%s %q: %s", where, truncate(text, 80), fmt.Sprintf(format, args...)))}
}

// oneLine makes a message safe for a log line and an annotation: control
// characters escaped, at most about 500 bytes.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return truncate(b.String(), 500)
}

// splitFields splits a line as CSV. Difference: metadata-action parses a
// line as CSV twice (once in getInputList, once in tag.ts), so a quoted
// field with a comma ("pattern=\d{1,2}") breaks in a workflow; one pass
// honours the quotes.
func splitFields(line string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(line))
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, errors.New("it is not a comma-separated list (check the quotes)")
	}
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	return rec, nil
}

func parseTagLine(n int, line string, image name.Repository) ([]TagRule, error) {
	fail := func(format string, args ...any) ([]TagRule, error) {
		return nil, lineError("tags", n, line, format, args...)
	}
	fields, err := splitFields(line)
	if err != nil {
		return fail("%v", err)
	}
	isRule := false
	for _, f := range fields {
		if k, _, ok := strings.Cut(f, "="); ok && knownAttrs[strings.ToLower(strings.TrimSpace(k))] {
			isRule = true
		}
	}
	if !isRule {
		return plainTags(n, line, fields, image)
	}
	r, err := parseRule(n, line, fields)
	if err != nil {
		return nil, err
	}
	return []TagRule{r}, nil
}

// plainTags reads a line of plain tags (comma-separated, as this action
// always took them) or full references from metadata-action's tags output.
// Difference: metadata-action reads `a,b` as one raw rule whose value is b.
func plainTags(n int, line string, fields []string, image name.Repository) ([]TagRule, error) {
	var rules []TagRule
	for _, f := range fields {
		if f == "" {
			continue
		}
		if strings.Contains(f, "=") {
			k, _, _ := strings.Cut(f, "=")
			return nil, lineError("tags", n, line, "%q is not an attribute; use type, pattern, value, match, group, event, branch, format, enable, priority, prefix or suffix", k)
		}
		tag, err := plainTag(f, image)
		if err != nil {
			return nil, lineError("tags", n, line, "%v", err)
		}
		rules = append(rules, TagRule{Line: n, Text: line, Type: typeRaw, Priority: defaultPriority[typeRaw], plain: tag})
	}
	return rules, nil
}

// parseRule reads a line of metadata-action's rule attributes.
func parseRule(n int, line string, fields []string) (TagRule, error) {
	fail := func(format string, args ...any) (TagRule, error) {
		return TagRule{}, lineError("tags", n, line, format, args...)
	}
	var err error

	r := TagRule{Line: n, Text: line, attrs: map[string]string{}}
	for _, f := range fields {
		// Split at the first = only (src/tag.ts:96-99); a field without
		// one is the value (`type=raw,foo`).
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			r.attrs["value"] = strings.TrimSpace(f)
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !knownAttrs[k] {
			// Difference: metadata-action ignores unknown attributes, so
			// a typo (`patern=`) silently changes the tags.
			return fail("unknown attribute %q; use type, pattern, value, match, group, event, branch, format, enable, priority, prefix or suffix", k)
		}
		r.attrs[k] = v
	}
	has := func(k string) bool { _, ok := r.attrs[k]; return ok }
	r.Type = r.attrs["type"]
	if r.Type == "" {
		r.Type = typeRaw
	}
	if _, ok := defaultPriority[r.Type]; !ok {
		return fail("unknown type %q; use schedule, semver, pep440, match, edge, ref, raw or sha", r.Type)
	}

	tmpl := func(attr string, allowed map[string]bool) (template, error) {
		t, err := parseTemplate(r.attrs[attr], allowed)
		if err != nil {
			return nil, lineError("tags", n, line, "%s: %v", attr, err)
		}
		return t, nil
	}
	if err := r.checkType(tmpl, func(format string, args ...any) error {
		return lineError("tags", n, line, format, args...)
	}); err != nil {
		return TagRule{}, err
	}
	if r.value, err = tmpl("value", globalExprs); err != nil {
		return TagRule{}, err
	}
	for _, a := range []struct {
		attr string
		dst  **template
	}{{"prefix", &r.prefix}, {"suffix", &r.suffix}} {
		if has(a.attr) {
			t, err := tmpl(a.attr, globalExprs)
			if err != nil {
				return TagRule{}, err
			}
			*a.dst = &t
		}
	}
	if !has("enable") {
		r.attrs["enable"] = "true"
	}
	if r.enable, err = tmpl("enable", globalExprs); err != nil {
		return TagRule{}, err
	}
	if len(r.enable) == 1 && r.enable[0].name == "" && r.attrs["enable"] != "true" && r.attrs["enable"] != "false" {
		return fail("enable=%s is not true, false or an expression such as {{is_default_branch}}", r.attrs["enable"])
	}
	r.Priority = defaultPriority[r.Type]
	if p, ok := r.attrs["priority"]; ok {
		r.Priority, err = strconv.ParseFloat(p, 64)
		if err != nil {
			return fail("priority=%s is not a number; higher numbers come first (semver is 900, raw 200)", p)
		}
	}
	return r, nil
}

// checkType reads the attributes r's type gives meaning to, and sets the
// defaults metadata-action sets for that type.
func (r *TagRule) checkType(tmpl func(attr string, allowed map[string]bool) (template, error), fail func(format string, args ...any) error) error {
	has := func(k string) bool { _, ok := r.attrs[k]; return ok }
	var err error
	switch r.Type {
	case typeSchedule:
		if !has("pattern") {
			r.attrs["pattern"] = "nightly"
		}
		if r.pattern, err = tmpl("pattern", scheduleExprs); err != nil {
			return err
		}
	case typeSemver, typePep440:
		if !has("pattern") {
			return fail("type=%s needs a pattern, e.g. pattern={{version}}", r.Type)
		}
		exprs := semverExprs
		if r.Type == typePep440 {
			exprs = pep440Exprs
		}
		if r.pattern, err = tmpl("pattern", exprs); err != nil {
			return err
		}
		if m := r.attrs["match"]; m != "" {
			if r.match, err = compileJSRegexp(m); err != nil {
				return fail("match: %v", err)
			}
			if r.match.NumSubexp() < 1 {
				return fail("match=%s has no capture group; the version is group 1, e.g. match=v(\\d+\\.\\d+\\.\\d+)$", m)
			}
		}
	case typeMatch:
		if !has("pattern") || r.attrs["pattern"] == "" {
			return fail("type=match needs a pattern (a regular expression), e.g. pattern=\\d+\\.\\d+")
		}
		if r.match, err = compileJSRegexp(r.attrs["pattern"]); err != nil {
			return fail("pattern: %v", err)
		}
		if g := r.attrs["group"]; g != "" {
			if r.group, err = strconv.Atoi(g); err != nil || r.group < 0 {
				return fail("group=%s is not a group number; use 0 for the whole match or 1, 2… for a capture group", g)
			}
		}
		if r.group > r.match.NumSubexp() {
			return fail("group=%d, but the pattern has %d capture groups", r.group, r.match.NumSubexp())
		}
	case typeRef:
		switch r.attrs["event"] {
		case "branch", "tag", "pr":
		case "":
			return fail("type=ref needs event=branch, event=tag or event=pr")
		default:
			return fail("event=%s is not branch, tag or pr", r.attrs["event"])
		}
		// pr- is a default prefix, so the flavor prefix does not apply
		// unless prefix= is written (src/tag.ts:177-179).
		if r.attrs["event"] == "pr" && !has("prefix") {
			r.attrs["prefix"] = "pr-"
		}
	case typeRaw:
		if !has("value") {
			return fail("type=raw needs a value, e.g. type=raw,value=stable")
		}
	case typeSha:
		if !has("prefix") {
			r.attrs["prefix"] = "sha-"
		}
		switch r.attrs["format"] {
		case "":
			r.attrs["format"] = "short"
		case "short", "long":
		default:
			return fail("format=%s is not short or long", r.attrs["format"])
		}
	}
	return nil
}

// plainTag checks a tag written as is, or takes the tag of a full
// reference (metadata-action's tags output) that names image.
func plainTag(s string, image name.Repository) (string, error) {
	if !strings.ContainsAny(s, "/:@") {
		if !inputs.ValidTag(s) {
			return "", fmt.Errorf("%q is not a valid tag: use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", truncate(s, 60))
		}
		return s, nil
	}
	if strings.Contains(s, "@") {
		return "", fmt.Errorf("%q is a digest reference; give a tag", truncate(s, 80))
	}
	// metadata-action lower-cases image names (src/meta.ts:654-656).
	i := strings.LastIndex(s, ":")
	if i < 0 || i < strings.LastIndex(s, "/") {
		return "", fmt.Errorf("%q is a repository without a tag; give REPOSITORY:TAG or the tag alone", truncate(s, 80))
	}
	repo, tag := strings.ToLower(s[:i]), s[i+1:]
	ref, err := name.NewTag(repo+":"+tag, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid reference: %v", truncate(s, 80), err)
	}
	// A zero image is a bad image input, reported on its own.
	if image.RepositoryStr() != "" && ref.Context().String() != image.String() {
		return "", fmt.Errorf("names %s, but image is %s; put only this image's tags here (or set image to %s)", ref.Context(), image, ref.Context())
	}
	return ref.TagStr(), nil
}

// compileJSRegexp compiles a JavaScript regular expression, written bare
// or as /re/flags, into Go's RE2.
func compileJSRegexp(s string) (*regexp.Regexp, error) {
	expr := s
	if m := regexp.MustCompile(`^/(.+)/([a-z]*)$`).FindStringSubmatch(s); m != nil {
		expr = m[1]
		flags := ""
		for _, f := range m[2] {
			switch f {
			case 'i', 'm', 's':
				flags += string(f)
			case 'g', 'u', 'y', 'd':
				// No effect on one match of one string.
			default:
				return nil, fmt.Errorf("/%s/%s: unknown flag %q", m[1], m[2], f)
			}
		}
		if flags != "" {
			expr = "(?" + flags + ")" + expr
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%q is not a regular expression Go's RE2 accepts (no look-arounds or back-references): %v", truncate(s, 60), err)
	}
	return re, nil
}

// ParseFlavor parses the flavor input (src/flavor.ts).
func ParseFlavor(v string) (Flavor, error) {
	f := Flavor{Latest: "auto"}
	var errs []error
	for i, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fail := func(format string, args ...any) {
			errs = append(errs, lineError("flavor", i+1, line, format, args...))
		}
		fields, err := splitFields(line)
		if err != nil {
			fail("%v", err)
			continue
		}
		onlatestFor := ""
		for _, field := range fields {
			// Difference: metadata-action keeps only the text between the
			// first and second '=' (suffix=-a=b gives -a); this keeps it all.
			k, val, ok := strings.Cut(field, "=")
			if !ok {
				fail("%q is not key=value; use latest=, prefix=, suffix= or onlatest=", field)
				continue
			}
			k, val = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(val)
			switch k {
			case "latest":
				if val != "auto" && val != "true" && val != "false" {
					fail("latest=%s is not auto, true or false", val)
				}
				f.Latest = val
			case "prefix", "suffix":
				t, err := parseTemplate(val, globalExprs)
				if err != nil {
					fail("%s: %v", k, err)
					continue
				}
				if k == "prefix" {
					f.prefix, f.PrefixText = t, val
				} else {
					f.suffix, f.SuffixText = t, val
				}
				onlatestFor = k
			case "onlatest":
				if val != "true" && val != "false" {
					fail("onlatest=%s is not true or false", val)
					continue
				}
				switch onlatestFor {
				case "prefix":
					f.PrefixLatest = val == "true"
				case "suffix":
					f.SuffixLatest = val == "true"
				default:
					// Difference: metadata-action ignores a stray onlatest.
					fail("onlatest applies to the prefix= or suffix= before it on the same line, e.g. suffix=-alpine,onlatest=true")
				}
			default:
				fail("unknown key %q; use latest, prefix, suffix or onlatest", k)
			}
		}
	}
	return f, errors.Join(errs...)
}

// TagContext is what the rules' conditions and expressions read.
type TagContext struct {
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

// Version is what the rules produced: metadata-action's version object.
type Version struct {
	// Main is the first non-empty value in priority order: the version
	// output and org.opencontainers.image.version.
	Main string
	// Partial are the other tags, in priority order, without duplicates.
	Partial []string
	// Latest says whether the latest tag is added; LatestTag is its name.
	Latest    bool
	LatestTag string
	// latestAuto says latest=auto set Latest, and mainVersion is the
	// version the main rule parsed: both for the registry check.
	latestAuto  bool
	mainVersion *semVersion
	// flavorPrefix and flavorSuffix are the flavor's, rendered.
	flavorPrefix, flavorSuffix string
	// Warnings are rules that made no tag and why, e.g. a git tag that is
	// not a semantic version.
	Warnings []string
}

// Tags returns the tags in metadata-action's order: main, partials, latest.
func (v Version) Tags() []string {
	if v.Main == "" {
		return nil
	}
	out := []string{v.Main}
	for _, t := range v.Partial {
		// Difference: metadata-action lists latest twice when a rule also
		// gives it (type=raw,value=latest with a semver rule).
		if !v.Latest || t != v.LatestTag {
			out = append(out, t)
		}
	}
	if v.Latest && v.LatestTag != v.Main {
		out = append(out, v.LatestTag)
	}
	return out
}

// Evaluate runs the rules against the context (src/meta.ts:48-109).
func (tr TagRules) Evaluate(c TagContext) (Version, error) {
	v := Version{}
	var err error
	latestSet := false
	plainLatest := false
	g := c.globals()
	for _, r := range tr.Rules {
		if r.plain != "" {
			if r.plain == "latest" {
				// A plain latest is a pointer, not a version: the version
				// is another tag, and latest is written last (this
				// action's rule from before tag rules).
				plainLatest = true
				continue
			}
			if err = v.add(r, r.plain, false, tr.Flavor, &latestSet, nil, true); err != nil {
				return Version{}, err
			}
			continue
		}
		var enabled string
		enabled, err = r.enable.render(g)
		if err != nil {
			return Version{}, lineError("tags", r.Line, r.Text, "enable: %v", err)
		}
		if enabled != "true" && enabled != "false" {
			return Version{}, lineError("tags", r.Line, r.Text, "enable is %q, not true or false", enabled)
		}
		if enabled == "false" {
			continue
		}
		var (
			val, warn string
			auto      bool
			sv        *semVersion
		)
		val, auto, sv, warn, err = r.produce(c, g)
		if err != nil {
			return Version{}, lineError("tags", r.Line, r.Text, "%v", err)
		}
		if warn != "" {
			v.Warnings = append(v.Warnings, oneLine(fmt.Sprintf("line %d %q: %s", r.Line, truncate(r.Text, 80), warn)))
		}
		if val == "" {
			continue
		}
		val, err = tr.affix(r, val, g)
		if err != nil {
			return Version{}, lineError("tags", r.Line, r.Text, "%v", err)
		}
		if err = v.add(r, val, auto, tr.Flavor, &latestSet, sv, false); err != nil {
			return Version{}, err
		}
	}
	if v.flavorPrefix, err = tr.Flavor.prefix.render(g); err != nil {
		return Version{}, &inputs.Error{Input: "flavor", Msg: oneLine(err.Error())}
	}
	if v.flavorSuffix, err = tr.Flavor.suffix.render(g); err != nil {
		return Version{}, &inputs.Error{Input: "flavor", Msg: oneLine(err.Error())}
	}
	if v.Latest && v.LatestTag == "" {
		v.LatestTag = "latest"
		if tr.Flavor.PrefixLatest {
			v.LatestTag = v.flavorPrefix + v.LatestTag
		}
		if tr.Flavor.SuffixLatest {
			v.LatestTag += v.flavorSuffix
		}
		v.LatestTag = sanitizeTag(v.LatestTag)
		if !inputs.ValidTag(v.LatestTag) {
			return Version{}, &inputs.Error{Input: "flavor", Msg: fmt.Sprintf("the latest tag would be %q, which is not a valid tag; change prefix/suffix", truncate(v.LatestTag, 60))}
		}
	}
	if plainLatest {
		switch {
		case v.Main == "":
			v.Main = "latest"
		case v.Latest && v.LatestTag != "latest":
			// The flavor made latest app-latest; plain latest is one more.
			v.Partial = append(v.Partial, "latest")
		default:
			v.Latest, v.LatestTag, v.latestAuto = true, "latest", false
		}
	}
	return v, nil
}

// add records one produced tag (src/meta.ts:357-371).
func (v *Version) add(r TagRule, val string, auto bool, f Flavor, latestSet *bool, sv *semVersion, plain bool) error {
	if !plain {
		val = sanitizeTag(val)
		// Difference: metadata-action emits whatever sanitising leaves,
		// and the registry refuses it later.
		if !inputs.ValidTag(val) {
			return lineError("tags", r.Line, r.Text, "makes the tag %q, which is not valid (at most 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'); change the value, prefix or suffix, or add enable=false", truncate(val, 60))
		}
	}
	if v.Main == "" {
		v.Main = val
		v.mainVersion = sv
	} else if val != v.Main && !slices.Contains(v.Partial, val) {
		v.Partial = append(v.Partial, val)
	}
	if !*latestSet {
		*latestSet = true
		switch f.Latest {
		case "auto":
			v.Latest, v.latestAuto = auto, auto
		default:
			v.Latest = f.Latest == "true"
		}
	}
	return nil
}

// affix applies the rule's prefix and suffix, or else the flavor's: a rule
// that has the attribute at all, even empty, replaces the flavor's
// (src/meta.ts:385-397).
func (tr TagRules) affix(r TagRule, val string, g map[string]helper) (string, error) {
	prefix, suffix := &tr.Flavor.prefix, &tr.Flavor.suffix
	if r.prefix != nil {
		prefix = r.prefix
	}
	if r.suffix != nil {
		suffix = r.suffix
	}
	p, err := prefix.render(g)
	if err != nil {
		return "", err
	}
	s, err := suffix.render(g)
	if err != nil {
		return "", err
	}
	return p + val + s, nil
}

var invalidTagRun = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// sanitizeTag is metadata-action's sanitizeTag (src/meta.ts:658-660): each
// run of characters a tag may not hold becomes one '-'.
func sanitizeTag(s string) string { return invalidTagRun.ReplaceAllString(s, "-") }

// cleanRefName makes a branch or git tag name a valid tag, as this action
// always has: metadata-action's sanitising, then no leading '.' or '-' and
// at most 128 characters. Difference: metadata-action leaves those for the
// registry to refuse. These are names the rule's author cannot change, so
// they are cleaned rather than refused; anything else invalid is an error.
func cleanRefName(s string) string {
	s = strings.TrimLeft(sanitizeTag(s), ".-")
	if len(s) > 128 {
		s = strings.TrimRight(s[:128], ".-")
	}
	return s
}

// produce computes a rule's value before prefix and suffix; auto is
// whether the rule takes latest under latest=auto.
func (r TagRule) produce(c TagContext, g map[string]helper) (val string, auto bool, sv *semVersion, warn string, err error) {
	ref := c.Ref
	switch r.Type {
	case typeSchedule:
		if !strings.Contains(c.EventName, "schedule") {
			return "", false, nil, "", nil
		}
		val, err = r.pattern.render(map[string]helper{"date": dateHelper(c.Now), "commit_date": dateHelper(c.CommitDate)})
		return val, false, nil, "", err

	case typeSemver, typePep440, typeMatch:
		if !strings.HasPrefix(ref, "refs/tags/") && r.attrs["value"] == "" {
			return "", false, nil, "", nil
		}
		raw := strings.TrimPrefix(ref, "refs/tags/")
		if r.attrs["value"] != "" {
			if raw, err = r.value.render(g); err != nil {
				return "", false, nil, "", err
			}
		}
		if r.Type == typeMatch {
			m := r.match.FindStringSubmatch(raw)
			if m == nil {
				return "", false, nil, fmt.Sprintf("pattern %s does not match %q, so this rule made no tag", r.attrs["pattern"], raw), nil
			}
			if !groupMatched(r.match, raw, r.group) {
				return "", false, nil, fmt.Sprintf("group %d of %s matched nothing in %q", r.group, r.attrs["pattern"], raw), nil
			}
			return m[r.group], true, nil, "", nil
		}
		if r.match != nil {
			if m := r.match.FindStringSubmatch(raw); m == nil {
				warn = fmt.Sprintf("match %s does not match %q; the whole string is used", r.attrs["match"], raw)
			} else {
				raw = m[1]
			}
		}
		raw = strings.ReplaceAll(raw, "/", "-")
		if r.Type == typeSemver {
			s, ok := parseSemver(raw)
			if !ok {
				return "", false, nil, join(warn, fmt.Sprintf("%q is not a semantic version (semver.org), so this rule made no tag", raw)), nil
			}
			if len(s.prerelease) > 0 {
				// A prerelease gets its full version (or the raw string),
				// never a shortened pattern (src/meta.ts:187-192).
				if isRawStatement(r.attrs["pattern"]) {
					return s.raw, false, &s, warn, nil
				}
				return s.version(), false, &s, warn, nil
			}
			val, err = r.pattern.render(semverHelpers(s))
			return val, true, &s, warn, err
		}
		p, ok := parsePEP440(raw)
		if !ok {
			return "", false, nil, join(warn, fmt.Sprintf("%q is not a PEP 440 version, so this rule made no tag", raw)), nil
		}
		if p.isPre || p.isPost || p.isDev {
			if isRawStatement(r.attrs["pattern"]) {
				return raw, false, nil, warn, nil
			}
			return p.clean(), false, nil, warn, nil
		}
		val, err = r.pattern.render(map[string]helper{
			"raw": value(raw), "version": value(p.clean()),
			"major": value(p.part(0)), "minor": value(p.part(1)), "patch": value(p.part(2)),
		})
		return val, true, nil, warn, err

	case typeEdge:
		branch, ok := strings.CutPrefix(ref, "refs/heads/")
		if !ok {
			return "", false, nil, "", nil
		}
		want := r.attrs["branch"]
		if want == "" {
			want = c.RepoDefaultBranch
		}
		if want == "" || branch != want {
			return "", false, nil, "", nil
		}
		return "edge", false, nil, "", nil

	case typeRef:
		switch r.attrs["event"] {
		case "branch":
			branch, ok := strings.CutPrefix(ref, "refs/heads/")
			// Difference: a merge queue's temporary branch is not a
			// branch to publish; event=pr names its pull request.
			if !ok || c.EventName == "merge_group" {
				return "", false, nil, "", nil
			}
			return cleanRefName(branch), false, nil, "", nil
		case "tag":
			tag, ok := strings.CutPrefix(ref, "refs/tags/")
			if !ok {
				return "", false, nil, "", nil
			}
			s, isSemver := parseSemver(tag)
			if isSemver {
				return cleanRefName(tag), true, &s, "", nil
			}
			return cleanRefName(tag), true, nil, "", nil
		case "pr":
			if n, ok := mergeQueuePR(c); ok {
				return n, false, nil, "", nil
			}
			pr, ok := strings.CutPrefix(ref, "refs/pull/")
			if !ok {
				return "", false, nil, "", nil
			}
			return strings.TrimSuffix(pr, "/merge"), false, nil, "", nil
		}

	case typeRaw:
		val, err = r.value.render(g)
		return val, false, nil, "", err

	case typeSha:
		if c.SHA == "" {
			return "", false, nil, "", nil
		}
		if r.attrs["format"] == "long" {
			return c.SHA, false, nil, "", nil
		}
		return c.shortSHA(), false, nil, "", nil
	}
	return "", false, nil, "", nil
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
func mergeQueuePR(c TagContext) (string, bool) {
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

func (c TagContext) shortSHA() string {
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
func (c TagContext) globals() map[string]helper {
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

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// candidate is the semantic version that latest=auto gave latest to, or
// nil when latest did not come from latest=auto or the version is not one.
func (v Version) candidate() *semVersion {
	if !v.Latest || !v.latestAuto {
		return nil
	}
	if v.mainVersion != nil {
		return v.mainVersion
	}
	if s, ok := parseSemver(v.strip(v.Main)); ok {
		return &s
	}
	return nil
}

// strip removes the flavor's prefix and suffix from tag.
func (v Version) strip(tag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(tag, sanitizeTag(v.flavorPrefix)), sanitizeTag(v.flavorSuffix))
}

// highestRelease is the highest release (no prerelease) among tags.
func (v Version) highestRelease(tags []string) (string, *semVersion) {
	var best *semVersion
	bestTag := ""
	for _, t := range tags {
		s, ok := parseSemver(v.strip(t))
		if !ok || len(s.prerelease) > 0 {
			continue
		}
		if best == nil || s.compare(*best) > 0 {
			best, bestTag = &s, t
		}
	}
	return bestTag, best
}
