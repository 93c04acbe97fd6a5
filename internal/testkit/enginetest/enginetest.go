// Package enginetest gives tests a Docker engine to talk to, and builds
// small images in it. It is for tests only: the engine is a real one, driven
// with the docker CLI as a user would. Which engine is DOCKER_HOST's: the
// Debian docker.io engine on the default socket, or the Docker 29 engines
// .ci/engine builds and starts, one per image store (classic and
// containerd), each on its own socket; .ci/run runs the engine tests against
// each in turn.
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

// Host is the DOCKER_HOST of the engine the tests use, "" for the default
// socket. Tests that run the action as the runner does (a container with
// the engine's socket mounted) use it to reach the same engine.
func Host() string { return os.Getenv("DOCKER_HOST") }

// Store is the engine's image store: "containerd" (Docker 29's default for
// new installs: keeps every platform of an image, its attestations, and
// layers as pulled) or "classic" (graph drivers: one platform, layers
// uncompressed).
type Store string

const (
	Classic    Store = "classic"
	Containerd Store = "containerd"
)

// ImageStore asks the engine which image store it uses.
func ImageStore(t testing.TB) Store {
	t.Helper()
	status := Docker(t, "info", "--format", "{{json .DriverStatus}}")
	if strings.Contains(status, "io.containerd.snapshotter") {
		return Containerd
	}
	return Classic
}

// RequireContainerdStore skips a test that needs the containerd image
// store (multi-platform images, attestations, zstd layers kept) on an
// engine with the classic store; .ci/run runs it against the Docker 29
// engine with the containerd store.
func RequireContainerdStore(t testing.TB) {
	t.Helper()
	if ImageStore(t) != Containerd {
		t.Skip("the engine uses the classic image store, which keeps one platform and no attestations; .ci/run runs this against the containerd store")
	}
}

// Buildx returns after checking that docker buildx (BuildKit's CLI) is
// there; .ci/engine builds it beside the engine.
func Buildx(t testing.TB) {
	t.Helper()
	if err := exec.Command("docker", "buildx", "version").Run(); err != nil {
		need.Missing(t, "docker buildx is not installed (DOCKER_CONFIG=%q): %v; .ci/engine builds it", os.Getenv("DOCKER_CONFIG"), err)
	}
}

// Docker runs the docker CLI and returns its trimmed stdout.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := run(args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// TryDocker runs the docker CLI and returns its stdout, or an error with
// its stderr.
func TryDocker(args ...string) (string, error) { return run(args...) }

func run(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", &cliError{err: err, out: stdout.String() + stderr.String()}
	}
	return strings.TrimSpace(stdout.String()), nil
}

type cliError struct {
	err error
	out string
}

func (e *cliError) Error() string { return e.err.Error() + "\n" + e.out }

// Context writes a build context: files (name → content) and a Dockerfile
// of FROM scratch and lines, and returns its directory.
func Context(t testing.TB, files map[string]string, lines ...string) string {
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
	return dir
}

// Build builds a FROM scratch image tagged tag from files (name → content)
// and Dockerfile lines after FROM, and removes it when the test ends.
// --no-cache: parallel tests building the same content would otherwise
// share cached steps, which one test's cleanup can remove mid-build.
func Build(t testing.TB, tag string, files map[string]string, lines ...string) {
	t.Helper()
	dir := Context(t, files, lines...)
	Docker(t, "build", "--quiet", "--no-cache", "--tag", tag, dir)
	Remove(t, tag)
}

// BuildxBuild builds a FROM scratch context with BuildKit (docker buildx
// build), with the extra flags given (--platform, --provenance, --output),
// and removes tag when the test ends.
func BuildxBuild(t testing.TB, tag, dir string, flags ...string) {
	t.Helper()
	Buildx(t)
	args := append([]string{"buildx", "build", "--quiet", "--no-cache", "--tag", tag}, flags...)
	Docker(t, append(args, dir)...)
	Remove(t, tag)
}

// Import makes an image from a root filesystem tarball with docker import,
// as images without a Dockerfile are made, and removes it when the test
// ends.
func Import(t testing.TB, tag string, files map[string]string) {
	t.Helper()
	var b bytes.Buffer
	if err := writeTar(&b, files); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	Docker(t, "import", "--change", "CMD [\"/hello\"]", path, tag)
	Remove(t, tag)
}

// Remove removes tag from the engine when the test ends.
func Remove(t testing.TB, tag string) {
	t.Cleanup(func() { exec.Command("docker", "rmi", "--force", tag).Run() })
}
