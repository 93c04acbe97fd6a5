package tagrules

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// Parse parses the tags and flavor inputs. image is the destination: a
// full reference in tags must name it. Every bad line is reported, each as
// an *inputs.Error naming the input and the line.
func Parse(tags, flavor string, image name.Repository) (Rules, error) {
	var errs []error
	rs := Rules{}
	var err error
	rs.Flavor, err = ParseFlavor(flavor)
	if err != nil {
		errs = append(errs, err)
	}
	lines := tagLines(tags)
	if len(lines) == 0 {
		rs.Default = true
		for _, line := range defaultRules {
			lines = append(lines, numbered{0, line})
		}
	}
	for _, l := range lines {
		rules, err := parseTagLine(l.n, l.line, image)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs.Rules = append(rs.Rules, rules...)
	}
	if len(errs) > 0 {
		return Rules{}, errors.Join(errs...)
	}
	if len(rs.Rules) == 0 {
		return Rules{}, &inputs.Error{Input: "tags", Msg: "lists no tag or rule; give one per line, or leave it empty for the default rules"}
	}
	// A stable sort: equal priorities keep input order (src/tag.ts:69-77).
	sort.SliceStable(rs.Rules, func(i, j int) bool { return rs.Rules[i].Priority > rs.Rules[j].Priority })
	return rs, nil
}

// numbered is a line of the tags input and its 1-based number, 0 for a
// default rule.
type numbered struct {
	n    int
	line string
}

// tagLines are the lines of tags that hold something. A line starting with
// # is a comment, as in metadata-action's getInputList
// (src/context.ts:115-129); with nothing else, the default rules apply.
func tagLines(tags string) []numbered {
	var lines []numbered
	for i, line := range strings.Split(tags, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, numbered{i + 1, line})
		}
	}
	return lines
}

// lineError is an *inputs.Error for a line of tags or flavor.
func lineError(input string, line int, text, format string, args ...any) error {
	where := "default rule"
	if line > 0 {
		where = "line " + strconv.Itoa(line)
	}
	return &inputs.Error{Input: input, Msg: oneLine(fmt.Sprintf("%s %q: %s", where, inputs.Truncate(text, 80), fmt.Sprintf(format, args...)))}
}

// oneLine makes a message safe for a log line and an annotation: control
// characters escaped, at most about 500 bytes.
func oneLine(s string) string {
	return inputs.Truncate(inputs.EscapeControl(s), 500)
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

// parseTagLine reads a line of rule attributes, or of plain tags when no
// field starts with a known attribute.
func parseTagLine(n int, line string, image name.Repository) ([]Rule, error) {
	fields, err := splitFields(line)
	if err != nil {
		return nil, lineError("tags", n, line, "%v", err)
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
	return []Rule{r}, nil
}

// plainTags reads a line of plain tags or full references from
// metadata-action's tags output, separated by commas (as this action always
// took them) or by spaces (tags: 1.2.3 1.2 latest). Only a line with no rule
// attribute gets here, and a tag or a reference holds no space, so a rule's
// value (value=nightly-{{date 'YYYYMMDD'}}) is never split. Difference:
// metadata-action reads `a,b` as one raw rule whose value is b, and `a b` as
// the one tag a-b.
func plainTags(n int, line string, fields []string, image name.Repository) ([]Rule, error) {
	var rules []Rule
	for _, field := range fields {
		for _, f := range strings.FieldsFunc(field, func(r rune) bool { return r == ' ' || r == '\t' }) {
			if k, _, ok := strings.Cut(f, "="); ok {
				if knownAttrs[strings.ToLower(k)] {
					return nil, lineError("tags", n, line, "%q is a rule attribute after a space; write a rule's attributes separated by commas, and each rule or list of tags on its own line", inputs.Truncate(f, 40))
				}
				return nil, lineError("tags", n, line, "%q is not an attribute; use type, pattern, value, match, group, event, branch, format, enable, priority, prefix or suffix", k)
			}
			tag, err := plainTag(f, image)
			if err != nil {
				return nil, lineError("tags", n, line, "%v", err)
			}
			rules = append(rules, Rule{Line: n, Text: line, Type: typeRaw, Priority: ruleTypes[typeRaw].priority, plain: tag})
		}
	}
	return rules, nil
}

// parseRule reads a line of metadata-action's rule attributes.
func parseRule(n int, line string, fields []string) (Rule, error) {
	r := Rule{Line: n, Text: line, attrs: map[string]string{}}
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
			return Rule{}, r.fail("unknown attribute %q; use type, pattern, value, match, group, event, branch, format, enable, priority, prefix or suffix", k)
		}
		r.attrs[k] = v
	}
	r.Type = r.attrs["type"]
	if r.Type == "" {
		r.Type = typeRaw
	}
	rt, ok := ruleTypes[r.Type]
	if !ok {
		return Rule{}, r.fail("unknown type %q; use schedule, semver, pep440, match, edge, ref, raw or sha", r.Type)
	}
	if err := rt.check(&r); err != nil {
		return Rule{}, err
	}
	if err := r.parseCommon(rt.priority); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// parseCommon reads the attributes every type has: value, prefix, suffix,
// enable and priority.
func (r *Rule) parseCommon(defaultPriority float64) error {
	var err error
	if r.value, err = r.template("value", globalExprs); err != nil {
		return err
	}
	for _, a := range []struct {
		attr string
		dst  **template
	}{{"prefix", &r.prefix}, {"suffix", &r.suffix}} {
		if r.has(a.attr) {
			t, err := r.template(a.attr, globalExprs)
			if err != nil {
				return err
			}
			*a.dst = &t
		}
	}
	if !r.has("enable") {
		r.attrs["enable"] = "true"
	}
	if r.enable, err = r.template("enable", globalExprs); err != nil {
		return err
	}
	if len(r.enable) == 1 && r.enable[0].name == "" && r.attrs["enable"] != "true" && r.attrs["enable"] != "false" {
		return r.fail("enable=%s is not true, false or an expression such as {{is_default_branch}}", r.attrs["enable"])
	}
	r.Priority = defaultPriority
	if p, ok := r.attrs["priority"]; ok {
		if r.Priority, err = strconv.ParseFloat(p, 64); err != nil {
			return r.fail("priority=%s is not a number; higher numbers come first (semver is 900, raw 200)", p)
		}
	}
	return nil
}

// plainTag checks a tag written as is, or takes the tag of a full
// reference (metadata-action's tags output) that names image.
func plainTag(s string, image name.Repository) (string, error) {
	if !strings.ContainsAny(s, "/:@") {
		if !inputs.ValidTag(s) {
			return "", fmt.Errorf("%q is not a valid tag: use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", inputs.Truncate(s, 60))
		}
		return s, nil
	}
	if strings.Contains(s, "@") {
		return "", fmt.Errorf("%q is a digest reference; give a tag", inputs.Truncate(s, 80))
	}
	// metadata-action lower-cases image names (src/meta.ts:654-656).
	i := strings.LastIndex(s, ":")
	if i < 0 || i < strings.LastIndex(s, "/") {
		return "", fmt.Errorf("%q is a repository without a tag; give REPOSITORY:TAG or the tag alone", inputs.Truncate(s, 80))
	}
	repo, tag := strings.ToLower(s[:i]), s[i+1:]
	ref, err := name.NewTag(repo+":"+tag, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid reference: %v", inputs.Truncate(s, 80), err)
	}
	// A zero image is a bad image input, reported on its own.
	if image.RepositoryStr() != "" && ref.Context().String() != image.String() {
		return "", fmt.Errorf("names %s, but image is %s; put only this image's tags here (or set image to %s)", ref.Context(), image, ref.Context())
	}
	return ref.TagStr(), nil
}
