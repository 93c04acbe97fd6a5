package tagrules

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	// The action runs on scratch, which has no zone database: tz='Zone' in
	// {{date}} needs Go's embedded copy.
	_ "time/tzdata"
)

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

// momentToken is one of moment.js's format tokens and what it writes
// (momentjs.com/docs/#/displaying/format/).
type momentToken struct {
	token  string
	format func(t time.Time) string
}

// momentTokens are in matching order, longest first so that YYYY wins over
// YY.
var momentTokens = []momentToken{
	{"YYYYYY", func(t time.Time) string { return "+" + pad(t.Year(), 6) }},
	{"YYYY", func(t time.Time) string { return pad(t.Year(), 4) }},
	{"YY", func(t time.Time) string { return pad(t.Year()%100, 2) }},
	{"Y", func(t time.Time) string { return strconv.Itoa(t.Year()) }},
	{"Qo", func(t time.Time) string { return ordinal(quarter(t)) }},
	{"Q", func(t time.Time) string { return strconv.Itoa(quarter(t)) }},
	{"MMMM", func(t time.Time) string { return t.Month().String() }},
	{"MMM", func(t time.Time) string { return t.Month().String()[:3] }},
	{"MM", func(t time.Time) string { return pad(int(t.Month()), 2) }},
	{"Mo", func(t time.Time) string { return ordinal(int(t.Month())) }},
	{"M", func(t time.Time) string { return strconv.Itoa(int(t.Month())) }},
	{"DDDD", func(t time.Time) string { return pad(t.YearDay(), 3) }},
	{"DDDo", func(t time.Time) string { return ordinal(t.YearDay()) }},
	{"DDD", func(t time.Time) string { return strconv.Itoa(t.YearDay()) }},
	{"DD", func(t time.Time) string { return pad(t.Day(), 2) }},
	{"Do", func(t time.Time) string { return ordinal(t.Day()) }},
	{"D", func(t time.Time) string { return strconv.Itoa(t.Day()) }},
	{"dddd", func(t time.Time) string { return t.Weekday().String() }},
	{"ddd", func(t time.Time) string { return t.Weekday().String()[:3] }},
	{"dd", func(t time.Time) string { return t.Weekday().String()[:2] }},
	{"do", func(t time.Time) string { return ordinal(int(t.Weekday())) }},
	{"d", func(t time.Time) string { return strconv.Itoa(int(t.Weekday())) }},
	{"E", func(t time.Time) string { return strconv.Itoa((int(t.Weekday())+6)%7 + 1) }},
	{"e", func(t time.Time) string { return strconv.Itoa(int(t.Weekday())) }},
	{"WW", func(t time.Time) string { return pad(isoWeek(t), 2) }},
	{"Wo", func(t time.Time) string { return ordinal(isoWeek(t)) }},
	{"W", func(t time.Time) string { return strconv.Itoa(isoWeek(t)) }},
	{"GGGG", func(t time.Time) string { y, _ := t.ISOWeek(); return pad(y, 4) }},
	{"HH", func(t time.Time) string { return pad(t.Hour(), 2) }},
	{"H", func(t time.Time) string { return strconv.Itoa(t.Hour()) }},
	{"hh", func(t time.Time) string { return pad(hour12(t), 2) }},
	{"h", func(t time.Time) string { return strconv.Itoa(hour12(t)) }},
	{"kk", func(t time.Time) string { return pad(t.Hour()+1, 2) }},
	{"k", func(t time.Time) string { return strconv.Itoa(t.Hour() + 1) }},
	{"mm", func(t time.Time) string { return pad(t.Minute(), 2) }},
	{"m", func(t time.Time) string { return strconv.Itoa(t.Minute()) }},
	{"ss", func(t time.Time) string { return pad(t.Second(), 2) }},
	{"s", func(t time.Time) string { return strconv.Itoa(t.Second()) }},
	// S…: fractions of a second, as many digits as letters.
	{"SSSSSSSSS", fraction(9)},
	{"SSSSSS", fraction(6)},
	{"SSS", fraction(3)},
	{"SS", fraction(2)},
	{"S", fraction(1)},
	{"A", func(t time.Time) string { return meridiem(t, "AM", "PM") }},
	{"a", func(t time.Time) string { return meridiem(t, "am", "pm") }},
	{"ZZ", func(t time.Time) string { return t.Format("-0700") }},
	{"Z", func(t time.Time) string { return t.Format("-07:00") }},
	{"X", func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }},
	{"x", func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }},
}

// momentFormat formats t with a moment.js format string; an empty format is
// moment's default, ISO 8601 with Z for UTC. [text] is literal text.
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
		tok, ok := matchToken(format[i:])
		if !ok {
			b.WriteByte(format[i])
			i++
			continue
		}
		b.WriteString(tok.format(t))
		i += len(tok.token)
	}
	return b.String()
}

// matchToken is the first of momentTokens that s starts with.
func matchToken(s string) (momentToken, bool) {
	for _, tok := range momentTokens {
		if strings.HasPrefix(s, tok.token) {
			return tok, true
		}
	}
	return momentToken{}, false
}

// pad writes n with leading zeros to width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func quarter(t time.Time) int { return (int(t.Month())-1)/3 + 1 }

func isoWeek(t time.Time) int {
	_, w := t.ISOWeek()
	return w
}

// hour12 is the hour on a 12-hour clock, 12 for noon and midnight.
func hour12(t time.Time) int {
	if h := t.Hour() % 12; h != 0 {
		return h
	}
	return 12
}

func meridiem(t time.Time, am, pm string) string {
	if t.Hour() < 12 {
		return am
	}
	return pm
}

// fraction writes the first digits of the second's nanoseconds.
func fraction(digits int) func(time.Time) string {
	return func(t time.Time) string { return pad(t.Nanosecond(), 9)[:digits] }
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
