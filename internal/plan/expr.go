package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	// The action runs on scratch, which has no zone database: tz='Zone' in
	// {{date}} needs Go's embedded copy.
	_ "time/tzdata"
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

// dateHelper formats t as metadata-action's date and commit_date helpers
// do: {{date 'FORMAT' tz='Zone'}}, moment.js format tokens, UTC unless tz
// says otherwise.
func dateHelper(t time.Time) helper {
	return func(seg segment) (string, error) {
		loc := time.UTC
		for k, v := range seg.hash {
			if k != "tz" {
				return "", fmt.Errorf("{{%s}}: unknown attribute %s; only tz='Zone' is allowed", seg.name, k)
			}
			l, err := time.LoadLocation(v.value)
			if err != nil {
				return "", fmt.Errorf("{{%s}}: tz=%q is not a time zone; use an IANA name such as Europe/Paris", seg.name, v.value)
			}
			loc = l
		}
		format := ""
		if len(seg.args) > 0 && !seg.args[0].bare {
			format = seg.args[0].value
		}
		return momentFormat(t.In(loc), format), nil
	}
}

// momentTokens are moment.js's format tokens, longest first so that YYYY
// wins over YY (momentjs.com/docs/#/displaying/format/).
var momentTokens = []string{
	"YYYYYY", "YYYY", "YY", "Y",
	"Qo", "Q",
	"MMMM", "MMM", "MM", "Mo", "M",
	"DDDD", "DDDo", "DDD", "DD", "Do", "D",
	"dddd", "ddd", "dd", "do", "d", "E", "e",
	"WW", "Wo", "W", "GGGG",
	"HH", "H", "hh", "h", "kk", "k",
	"mm", "m", "ss", "s",
	"SSSSSSSSS", "SSSSSS", "SSS", "SS", "S",
	"A", "a", "ZZ", "Z", "X", "x",
}

// momentFormat formats t with a moment.js format string; an empty format is
// moment's default, ISO 8601 with Z for UTC.
func momentFormat(t time.Time, format string) string {
	if format == "" {
		if t.Location() == time.UTC {
			return t.Format("2006-01-02T15:04:05Z")
		}
		return t.Format("2006-01-02T15:04:05-07:00")
	}
	var b strings.Builder
	for i := 0; i < len(format); {
		if format[i] == '[' {
			if end := strings.IndexByte(format[i:], ']'); end > 0 {
				b.WriteString(format[i+1 : i+end])
				i += end + 1
				continue
			}
		}
		tok := ""
		for _, candidate := range momentTokens {
			if strings.HasPrefix(format[i:], candidate) {
				tok = candidate
				break
			}
		}
		if tok == "" {
			b.WriteByte(format[i])
			i++
			continue
		}
		b.WriteString(momentToken(t, tok))
		i += len(tok)
	}
	return b.String()
}

func momentToken(t time.Time, tok string) string {
	pad := func(n, width int) string {
		s := strconv.Itoa(n)
		for len(s) < width {
			s = "0" + s
		}
		return s
	}
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	isoYear, isoWeek := t.ISOWeek()
	switch tok {
	case "YYYYYY":
		return "+" + pad(t.Year(), 6)
	case "YYYY":
		return pad(t.Year(), 4)
	case "YY":
		return pad(t.Year()%100, 2)
	case "Y":
		return strconv.Itoa(t.Year())
	case "Q":
		return strconv.Itoa((int(t.Month())-1)/3 + 1)
	case "Qo":
		return ordinal((int(t.Month())-1)/3 + 1)
	case "MMMM":
		return t.Month().String()
	case "MMM":
		return t.Month().String()[:3]
	case "MM":
		return pad(int(t.Month()), 2)
	case "Mo":
		return ordinal(int(t.Month()))
	case "M":
		return strconv.Itoa(int(t.Month()))
	case "DDDD":
		return pad(t.YearDay(), 3)
	case "DDDo":
		return ordinal(t.YearDay())
	case "DDD":
		return strconv.Itoa(t.YearDay())
	case "DD":
		return pad(t.Day(), 2)
	case "Do":
		return ordinal(t.Day())
	case "D":
		return strconv.Itoa(t.Day())
	case "dddd":
		return t.Weekday().String()
	case "ddd":
		return t.Weekday().String()[:3]
	case "dd":
		return t.Weekday().String()[:2]
	case "do":
		return ordinal(int(t.Weekday()))
	case "d", "e":
		return strconv.Itoa(int(t.Weekday()))
	case "E":
		return strconv.Itoa((int(t.Weekday())+6)%7 + 1)
	case "WW":
		return pad(isoWeek, 2)
	case "Wo":
		return ordinal(isoWeek)
	case "W":
		return strconv.Itoa(isoWeek)
	case "GGGG":
		return pad(isoYear, 4)
	case "HH":
		return pad(t.Hour(), 2)
	case "H":
		return strconv.Itoa(t.Hour())
	case "hh":
		return pad(hour12, 2)
	case "h":
		return strconv.Itoa(hour12)
	case "kk":
		return pad(t.Hour()+1, 2)
	case "k":
		return strconv.Itoa(t.Hour() + 1)
	case "mm":
		return pad(t.Minute(), 2)
	case "m":
		return strconv.Itoa(t.Minute())
	case "ss":
		return pad(t.Second(), 2)
	case "s":
		return strconv.Itoa(t.Second())
	case "A":
		if t.Hour() < 12 {
			return "AM"
		}
		return "PM"
	case "a":
		if t.Hour() < 12 {
			return "am"
		}
		return "pm"
	case "ZZ":
		return t.Format("-0700")
	case "Z":
		return t.Format("-07:00")
	case "X":
		return strconv.FormatInt(t.Unix(), 10)
	case "x":
		return strconv.FormatInt(t.UnixMilli(), 10)
	}
	// S… : fractions of a second, as many digits as letters.
	ns := pad(t.Nanosecond(), 9)
	return ns[:len(tok)]
}

func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}
