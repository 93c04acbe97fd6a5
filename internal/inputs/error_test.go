package inputs

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type causeError struct{}

func (causeError) Error() string { return "401 UNAUTHORIZED" }

// TestErrorKeepsCause: an input error built from a later step's error keeps
// that error for errors.As, and unpacking a join finds every part.
func TestErrorKeepsCause(t *testing.T) {
	t.Parallel()
	err := errors.Join(Wrap("source", fmt.Errorf("reading ghcr.io/a/b: %w", causeError{})), errorf("tags", "bad"))
	var cause causeError
	if !errors.As(Errors(err)[0], &cause) {
		t.Errorf("errors.As(%v, causeError) = false; the cause was dropped", err)
	}
	var got []string
	for _, p := range Parts(err) {
		got = append(got, InputOf(p)+" | "+p.Error())
	}
	want := []string{"source | source: reading ghcr.io/a/b: 401 UNAUTHORIZED", "tags | tags: bad"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parts mismatch (-want +got):\n%s", diff)
	}
}

// TestErrorsStayOnOneLine: whatever a user wrote, and wherever a message
// repeats it (quoted or not), an input error is one line of the log and
// one annotation.
func TestErrorsStayOnOneLine(t *testing.T) {
	t.Parallel()
	ctx := Context{ServerURL: "https://github.com", Owner: "acme", Repo: "widget"}
	tests := []struct {
		name string
		err  func() error
	}{
		{"image with a tag", func() error { _, _, _, err := parseImage("ghcr.io/a\nb:tag", ctx); return err }},
		{"image with a digest", func() error {
			_, _, _, err := parseImage("ghcr.io/a\rb@sha256:"+strings.Repeat("0", 64), ctx)
			return err
		}},
		{"images entry with a tag", func() error { _, _, err := parseImages("ghcr.io/a\rb:tag", ctx); return err }},
		{"images entry with no registry", func() error { _, _, err := parseImages("0\r0", ctx); return err }},
	}
	for _, tt := range tests {
		err := tt.err()
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, e := range Errors(err) {
			if strings.ContainsAny(e.Msg, "\r\n") || strings.ContainsAny(e.Error(), "\r\n") {
				t.Errorf("%s: %q spans several lines", tt.name, e.Error())
			}
		}
	}
}
