package inputs

import (
	"errors"
	"fmt"
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
