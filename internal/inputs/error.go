package inputs

import (
	"errors"
	"fmt"
)

// Error is a problem with one input. The orchestrator reports each one as its
// own annotation, so a user with several mistakes fixes them in one round.
type Error struct {
	Input string // the input's name as written in action.yml, e.g. "image"
	Msg   string // what is wrong and how to fix it
}

func (e *Error) Error() string { return e.Input + ": " + e.Msg }

// errorf builds an *Error for input.
func errorf(input, format string, args ...any) *Error {
	return &Error{Input: input, Msg: fmt.Sprintf(format, args...)}
}

// Errors returns every *Error found in err, which may be a single *Error or
// an errors.Join of them.
func Errors(err error) []*Error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Error
		for _, e := range joined.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return nil
}
