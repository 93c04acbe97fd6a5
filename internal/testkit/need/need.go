// Package need is the one policy for tests that need a real component (a
// Docker engine, skopeo): on a developer's machine without it the test is
// skipped, visibly, with what to install; under CI=true it fails, because a
// real component must never silently go missing from CI.
package need

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Missing ends the test for want of a real component: a failure when CI is
// set, a skip otherwise. The message says what is missing and how to get it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI=true: a real component is required)", msg)
	}
	t.Skipf("skipped: %s", msg)
}

// Tool returns the path of a program the test runs, such as skopeo, or
// ends the test as Missing does.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed (.ci/run installs it): %v", name, err)
	}
	return path
}

// WithTool runs check as a subtest named after the tool, given the tool's
// path: when the tool is missing only that subtest ends as Missing says,
// so the checks a test made before it, without the tool, still count on a
// machine that lacks it.
func WithTool(t *testing.T, name string, check func(t *testing.T, path string)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Helper()
		check(t, Tool(t, name))
	})
}
