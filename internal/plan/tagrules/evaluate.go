package tagrules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

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
func (rs Rules) Evaluate(c Context) (Version, error) {
	e := evaluation{flavor: rs.Flavor, c: c, g: c.globals()}
	for _, r := range rs.Rules {
		if err := e.rule(r); err != nil {
			return Version{}, err
		}
	}
	if err := e.finish(); err != nil {
		return Version{}, err
	}
	return e.v, nil
}

// evaluation is one run of the rules: the version being built, and what
// decides latest.
type evaluation struct {
	flavor Flavor
	c      Context
	g      map[string]helper
	v      Version
	// latestSet says the first rule that made a tag has decided latest
	// (src/meta.ts:357-371).
	latestSet bool
	// plainLatest says a plain latest was written: a pointer, not a
	// version, placed when the rules are done.
	plainLatest bool
}

// rule evaluates one rule and adds the tag it makes.
func (e *evaluation) rule(r Rule) error {
	if r.plain != "" {
		if r.plain == "latest" {
			// A plain latest is a pointer, not a version: the version is
			// another tag, and latest is written last (this action's rule
			// from before tag rules).
			e.plainLatest = true
			return nil
		}
		return e.add(r, produced{value: r.plain}, true)
	}
	enabled, err := r.enable.render(e.g)
	if err != nil {
		return r.fail("enable: %v", err)
	}
	if enabled != "true" && enabled != "false" {
		return r.fail("enable is %q, not true or false", enabled)
	}
	if enabled == "false" {
		return nil
	}
	p, err := ruleTypes[r.Type].produce(r, e.c, e.g)
	if err != nil {
		return r.fail("%v", err)
	}
	if p.warning != "" {
		e.v.Warnings = append(e.v.Warnings, oneLine(fmt.Sprintf("line %d %q: %s", r.Line, inputs.Truncate(r.Text, 80), p.warning)))
	}
	if p.value == "" {
		return nil
	}
	if p.value, err = e.affix(r, p.value); err != nil {
		return r.fail("%v", err)
	}
	return e.add(r, p, false)
}

// finish renders the flavor's prefix and suffix, names the latest tag, and
// places a plain latest.
func (e *evaluation) finish() error {
	v := &e.v
	var err error
	if v.flavorPrefix, err = e.flavor.prefix.render(e.g); err != nil {
		return &inputs.Error{Input: "flavor", Msg: oneLine(err.Error())}
	}
	if v.flavorSuffix, err = e.flavor.suffix.render(e.g); err != nil {
		return &inputs.Error{Input: "flavor", Msg: oneLine(err.Error())}
	}
	if v.Latest && v.LatestTag == "" {
		v.LatestTag = "latest"
		if e.flavor.PrefixLatest {
			v.LatestTag = v.flavorPrefix + v.LatestTag
		}
		if e.flavor.SuffixLatest {
			v.LatestTag += v.flavorSuffix
		}
		v.LatestTag = sanitizeTag(v.LatestTag)
		if !inputs.ValidTag(v.LatestTag) {
			return &inputs.Error{Input: "flavor", Msg: fmt.Sprintf("the latest tag would be %q, which is not a valid tag; change prefix/suffix", inputs.Truncate(v.LatestTag, 60))}
		}
	}
	if e.plainLatest {
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
	return nil
}

// add records one produced tag (src/meta.ts:357-371); a plain tag was
// checked when it was parsed.
func (e *evaluation) add(r Rule, p produced, plain bool) error {
	v, val := &e.v, p.value
	if !plain {
		val = sanitizeTag(val)
		// Difference: metadata-action emits whatever sanitising leaves,
		// and the registry refuses it later.
		if !inputs.ValidTag(val) {
			return r.fail("makes the tag %q, which is not valid (at most 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'); change the value, prefix or suffix, or add enable=false", inputs.Truncate(val, 60))
		}
	}
	if v.Main == "" {
		v.Main = val
		v.mainVersion = p.semver
	} else if val != v.Main && !slices.Contains(v.Partial, val) {
		v.Partial = append(v.Partial, val)
	}
	if !e.latestSet {
		e.latestSet = true
		switch e.flavor.Latest {
		case "auto":
			v.Latest, v.latestAuto = p.auto, p.auto
		default:
			v.Latest = e.flavor.Latest == "true"
		}
	}
	return nil
}

// affix applies the rule's prefix and suffix, or else the flavor's: a rule
// that has the attribute at all, even empty, replaces the flavor's
// (src/meta.ts:385-397).
func (e *evaluation) affix(r Rule, val string) (string, error) {
	prefix, suffix := &e.flavor.prefix, &e.flavor.suffix
	if r.prefix != nil {
		prefix = r.prefix
	}
	if r.suffix != nil {
		suffix = r.suffix
	}
	p, err := prefix.render(e.g)
	if err != nil {
		return "", err
	}
	s, err := suffix.render(e.g)
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
