package tagrules

import (
	"errors"
	"fmt"
	"strings"
)

// template is a parsed docker/metadata-action expression string: literal
// text with {{name arg key='v'}} mustaches, the subset of Handlebars that
// metadata-action's helpers use (src/meta.ts:399-484).
type template []segment

// segment is literal text, or a mustache when name is set.
type segment struct {
	text string
	name string
	args []arg
	hash map[string]arg
}

// arg is a helper argument: a quoted string, or a bare path, which
// Handlebars resolves to undefined (so {{date YYYY}} formats with moment's
// default, as metadata-action's pr12 case shows).
type arg struct {
	value string
	bare  bool
}

// parseTemplate parses s; allowed names the helpers s may use.
func parseTemplate(s string, allowed map[string]bool) (template, error) {
	var t template
	lit := strings.Builder{}
	for len(s) > 0 {
		i := strings.Index(s, "{{")
		if i < 0 {
			lit.WriteString(s)
			break
		}
		// \{{ is a literal {{ in Handlebars.
		if i > 0 && s[i-1] == '\\' {
			lit.WriteString(s[:i-1] + "{{")
			s = s[i+2:]
			continue
		}
		lit.WriteString(s[:i])
		s = s[i+2:]
		closing := "}}"
		if strings.HasPrefix(s, "{") {
			s, closing = s[1:], "}}}"
		}
		j := strings.Index(s, closing)
		if j < 0 {
			return nil, fmt.Errorf("an expression opened with {{ is not closed with %s", closing)
		}
		body := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s[:j], "~"), "~"))
		s = s[j+len(closing):]
		seg, err := parseMustache(body)
		if err != nil {
			return nil, err
		}
		if !allowed[seg.name] {
			return nil, fmt.Errorf("{{%s}} is not an expression here; use one of %s", body, names(allowed))
		}
		if lit.Len() > 0 {
			t = append(t, segment{text: lit.String()})
			lit.Reset()
		}
		t = append(t, seg)
	}
	if lit.Len() > 0 {
		t = append(t, segment{text: lit.String()})
	}
	return t, nil
}

func names(allowed map[string]bool) string {
	var out []string
	for _, n := range []string{"branch", "tag", "sha", "base_ref", "is_default_branch", "is_not_default_branch", "date", "commit_date", "version", "major", "minor", "patch", "raw", "prerelease", "build"} {
		if allowed[n] {
			out = append(out, "{{"+n+"}}")
		}
	}
	return strings.Join(out, " ")
}

// parseMustache splits `date 'YYYYMMDD' tz='Asia/Tokyo'` into its parts.
func parseMustache(body string) (segment, error) {
	seg := segment{}
	rest := body
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		key := ""
		if eq := strings.IndexByte(rest, '='); eq > 0 && !strings.ContainsAny(rest[:eq], " '\"") {
			key, rest = rest[:eq], rest[eq+1:]
		}
		var a arg
		switch {
		case rest == "":
			return segment{}, fmt.Errorf("{{%s}}: %s= has no value", body, key)
		case rest[0] == '\'' || rest[0] == '"':
			end := strings.IndexByte(rest[1:], rest[0])
			if end < 0 {
				return segment{}, fmt.Errorf("{{%s}}: a quote is not closed", body)
			}
			a, rest = arg{value: rest[1 : end+1]}, rest[end+2:]
		default:
			end := strings.IndexAny(rest, " \t")
			if end < 0 {
				end = len(rest)
			}
			a, rest = arg{value: rest[:end], bare: true}, rest[end:]
		}
		switch {
		case key != "":
			if seg.hash == nil {
				seg.hash = map[string]arg{}
			}
			seg.hash[key] = a
		case seg.name == "":
			if !a.bare || !validName(a.value) {
				return segment{}, fmt.Errorf("{{%s}} does not start with an expression name", body)
			}
			seg.name = a.value
		default:
			seg.args = append(seg.args, a)
		}
	}
	if seg.name == "" {
		return segment{}, errors.New("{{}} is empty")
	}
	return seg, nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// helper renders one mustache.
type helper func(seg segment) (string, error)

// render evaluates t with helpers.
func (t template) render(helpers map[string]helper) (string, error) {
	var b strings.Builder
	for _, seg := range t {
		if seg.name == "" {
			b.WriteString(seg.text)
			continue
		}
		h, ok := helpers[seg.name]
		if !ok {
			return "", fmt.Errorf("{{%s}} is not an expression here", seg.name)
		}
		v, err := h(seg)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// value returns a helper that ignores its arguments.
func value(v string) helper {
	return func(segment) (string, error) { return v, nil }
}
