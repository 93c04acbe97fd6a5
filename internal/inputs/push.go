package inputs

import "strings"

// PushMode is the push input: whether the run writes to the registry.
type PushMode string

const (
	// PushAuto publishes, except where the token cannot write (a pull
	// request from a fork, a Dependabot run): there it does everything but
	// the registry writes, as PushFalse does, and says so. Workflows that
	// build on every pull request need no if: guard around the step. A
	// pull request is taken as from a fork unless its payload proves
	// otherwise (Context.Head): it fails closed, to a dry run.
	PushAuto PushMode = "auto"
	// PushTrue always publishes, and fails with advice where it may not.
	PushTrue PushMode = "true"
	// PushFalse is a dry run: everything but the registry writes.
	PushFalse PushMode = "false"
)

func parsePushMode(v string) (PushMode, error) {
	switch m := PushMode(strings.ToLower(v)); m {
	case "":
		return PushAuto, nil
	case PushAuto, PushTrue, PushFalse:
		return m, nil
	}
	return PushAuto, errorf("push", "%q is not auto, true or false; auto (the default) publishes unless the token is read-only (a pull request from a fork, a Dependabot run), true always publishes, false is a dry run", truncate(v, 40))
}
