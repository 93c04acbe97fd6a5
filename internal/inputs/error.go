package inputs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is a problem with one input. The orchestrator reports each one as its
// own annotation, so a user with several mistakes fixes them in one round.
type Error struct {
	// Input is the input's name as written in action.yml, e.g. "image"; ""
	// for a warning (plan.Plan's) that concerns no input.
	Input string
	Msg   string // what is wrong and how to fix it; empty means Err says it
	// Err is the cause, when the problem was found by a later step (a
	// registry's 401 on a source): errors.As still finds it, so the advice
	// for a refused request still runs.
	Err error
}

func (e *Error) Error() string {
	msg := e.Msg
	switch {
	case e.Msg == "" && e.Err != nil:
		msg = e.Err.Error()
	case e.Err != nil:
		msg = e.Msg + ": " + e.Err.Error()
	}
	if e.Input == "" {
		return msg
	}
	return e.Input + ": " + msg
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Wrap attributes err, found by a later step, to input. Input names are
// attached here, at the edge, so the step's error keeps its type.
func Wrap(input string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Input: input, Err: err}
}

// errorf builds an *Error for input.
func errorf(input, format string, args ...any) *Error {
	return &Error{Input: input, Msg: EscapeControl(fmt.Sprintf(format, args...))}
}

// EscapeControl writes control characters (line breaks among them) and
// invalid UTF-8 as Go escapes, so that a message quoting what a user
// wrote stays on one line of the log and one annotation: the one rule for
// every input error, wherever the user's text sits in it.
func EscapeControl(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Errors returns every *Error found in err, which may be a single *Error or
// an errors.Join of them.
func Errors(err error) []*Error {
	var out []*Error
	for _, part := range Parts(err) {
		var e *Error
		if errors.As(part, &e) {
			out = append(out, e)
		}
	}
	return out
}

// Parts unpacks err into what a user is shown one by one: the parts of an
// errors.Join (nested joins flattened), or err itself. A part's own text is
// what to print: it may be a redacted wrapper around an *Error, whose
// Input InputOf finds.
func Parts(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, Parts(e)...)
		}
		return out
	}
	return []error{err}
}

// InputOf names the input err is about, "" when it is about none.
func InputOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Input
	}
	return ""
}
