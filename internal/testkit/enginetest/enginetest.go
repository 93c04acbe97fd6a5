// Package enginetest gives tests a Docker engine to talk to, and builds
// small images in it. It is for tests only: the engine is the real one that
// .ci/run installs and starts (Debian's docker.io), driven with the docker
// CLI as a user would.
package enginetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/testkit/need"
)

// Require returns the DOCKER_HOST the tests should use ("" for the
// default socket). Without an engine the test is skipped on a developer's
// machine and fails when CI is set: a real component must never silently
// go missing from CI.
func Require(t testing.TB) string {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	docker, err := exec.LookPath("docker")
	if err == nil {
		err = exec.Command(docker, "info").Run()
	}
	if err != nil {
		need.Missing(t, "no Docker engine reachable (DOCKER_HOST=%q): %v; .ci/run installs and starts one", host, err)
	}
	return host
}

// Docker runs the docker CLI and returns its trimmed stdout.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// Build builds a FROM scratch image tagged tag from files (name → content)
// and Dockerfile lines after FROM, and removes it when the test ends.
func Build(t testing.TB, tag string, files map[string]string, lines ...string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dockerfile := "FROM scratch\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	// --no-cache: another build of the same content (a parallel test, or
	// another run on the same engine) may remove the cached steps this one
	// would reuse, mid-build ("No such image: sha256:…").
	Docker(t, "build", "--quiet", "--no-cache", "--tag", tag, dir)
	t.Cleanup(func() { exec.Command("docker", "rmi", "--force", tag).Run() })
}
