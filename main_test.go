package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// buildBinary builds the action the way the Dockerfile does: static, no cgo.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "publish-action")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs the binary with exactly env, as the runner runs a
// container action, and returns stdout, the GITHUB_OUTPUT file and the exit
// code.
func runBinary(t *testing.T, bin string, env map[string]string) (stdout, outputs string, code int) {
	t.Helper()
	dir := t.TempDir()
	outFile, summaryFile := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	env["GITHUB_OUTPUT"], env["GITHUB_STEP_SUMMARY"] = outFile, summaryFile
	cmd := exec.Command(bin)
	cmd.Dir = dir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", bin, err)
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr is not empty (the runner shows stdout's annotations): %s", errOut.String())
	}
	raw, _ := os.ReadFile(outFile)
	return out.String(), string(raw), code
}

func TestBinary(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	reg, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	defer reg.Close()
	ws := t.TempDir()
	img, err := sample.Image(sample.Options{Seed: "binary"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.WriteLayout(filepath.Join(ws, "out"), img, ""); err != nil {
		t.Fatal(err)
	}
	base := func() map[string]string {
		// The API is unreachable on purpose: it is optional.
		return githubtest.RunnerEnv(map[string]string{
			"GITHUB_WORKSPACE":  ws,
			"SOURCE_DATE_EPOCH": "1700000000",
			"INPUT_SOURCE":      "oci:out",
			"INPUT_IMAGE":       reg.Host() + "/acme/widget",
			"INPUT_TOKEN":       "ghs_binarytoken",
			"INPUT_PUSH":        "true",
		})
	}

	t.Run("publishes", func(t *testing.T) {
		stdout, outputs, code := runBinary(t, bin, base())
		if code != 0 {
			t.Fatalf("exit code %d, want 0\n%s", code, stdout)
		}
		d, _ := img.Digest()
		if !strings.Contains(outputs, "digest<<") || strings.Contains(outputs, d.String()) {
			// The pushed digest must differ from the unstamped source's.
			t.Errorf("outputs = %q, want a stamped digest", outputs)
		}
		if !strings.Contains(stdout, "::warning::") {
			t.Errorf("no warning about the unreachable API:\n%s", stdout)
		}
		// The token's one appearance is the ::add-mask:: command that hides
		// it; anywhere else in the log it would be shown.
		masked := strings.Replace(stdout, "::add-mask::ghs_binarytoken\n", "", 1)
		if strings.Contains(masked, "ghs_binarytoken") {
			t.Errorf("the token appears beyond its ::add-mask:: command:\n%s", stdout)
		}
		if masked == stdout {
			t.Errorf("the token was never masked (no ::add-mask:: command):\n%s", stdout)
		}
	})

	t.Run("bad inputs exit 1 with one annotation each", func(t *testing.T) {
		before := len(reg.Requests())
		env := base()
		env["INPUT_IMAGE"] = reg.Host() + "/acme//widget"
		env["INPUT_TAGS"] = "-bad"
		env["INPUT_PUSH"] = "perhaps"
		stdout, outputs, code := runBinary(t, bin, env)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		for _, input := range []string{"image", "tags", "push"} {
			prefix := "::error title=input " + input + "::" + input + ": "
			if n := strings.Count(stdout, prefix); n != 1 {
				t.Errorf("%d annotations start %q, want 1:\n%s", n, prefix, stdout)
			}
		}
		if outputs != "" {
			t.Errorf("outputs were written on failure: %q", outputs)
		}
		if got := reg.Requests()[before:]; len(got) != 0 {
			t.Errorf("the registry got requests from a run with bad inputs: %+v", got)
		}
	})
}

// TestCancellation sends the runner's SIGTERM in the middle of an upload:
// the action must stop within 5 seconds, say so, exit 1, and a second run
// must finish with the digest an uninterrupted run gives.
func TestCancellation(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	reg, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	defer reg.Close()
	slow := registrytest.NewFaultProxy(reg.Host(), func(n int, r *http.Request) registrytest.Fault {
		// A blob's body: the PUT that sends it whole, or a PATCH.
		if (r.Method == http.MethodPut || r.Method == http.MethodPatch) && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 0 {
			return registrytest.Trickle
		}
		return ""
	})
	defer slow.Close()
	ws := t.TempDir()
	img, err := sample.Image(sample.Options{Seed: "cancel", Layers: 2, LayerSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.WriteLayout(filepath.Join(ws, "out"), img, ""); err != nil {
		t.Fatal(err)
	}
	env := func(host string) map[string]string {
		return githubtest.RunnerEnv(map[string]string{
			"GITHUB_WORKSPACE":  ws,
			"SOURCE_DATE_EPOCH": "1700000000",
			"INPUT_SOURCE":      "oci:out",
			"INPUT_IMAGE":       host + "/acme/widget",
			"INPUT_TAGS":        "1.0",
		})
	}

	dir := t.TempDir()
	e := env(slow.Host())
	e["GITHUB_OUTPUT"], e["GITHUB_STEP_SUMMARY"] = filepath.Join(dir, "out"), filepath.Join(dir, "summary")
	cmd := exec.Command(bin)
	for k, v := range e {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for an upload to be under way.
	deadline := time.Now().Add(30 * time.Second)
	for slow.Injected()[registrytest.Trickle] == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no upload started:\n%s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	took := time.Since(sent)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit after SIGTERM = %v, want code 1", err)
	}
	if took > 5*time.Second {
		t.Errorf("stopped %s after SIGTERM, want within 5 s", took)
	}
	if !strings.Contains(stdout.String(), "::error::cancelled before the publish finished") {
		t.Errorf("no clear cancellation message:\n%s", stdout.String())
	}
	t.Logf("SIGTERM mid-upload: stopped in %s", took.Round(time.Millisecond))
	// A repository that never got a manifest may not exist at all: that
	// is "no tags" too, any other failure to list is the test's own.
	tags, err := remote.List(mustRepo(t, reg.Host()+"/acme/widget"))
	var terr *transport.Error
	switch {
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
	case err != nil:
		t.Fatalf("listing tags after the cancelled publish: %v", err)
	case len(tags) != 0:
		t.Errorf("tags after a cancelled publish: %v", tags)
	}

	// Run again, directly: it completes, with the digest of an
	// uninterrupted publish elsewhere.
	_, again, code := runBinary(t, bin, env(reg.Host()))
	if code != 0 {
		t.Fatalf("second run exit %d", code)
	}
	other, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, clean, code := runBinary(t, bin, env(other.Host()))
	if code != 0 {
		t.Fatalf("clean run exit %d", code)
	}
	if digestOf(again) == "" || digestOf(again) != digestOf(clean) {
		t.Errorf("digest after cancel and rerun = %q, uninterrupted = %q", digestOf(again), digestOf(clean))
	}
}

// digestOf pulls the digest output out of a GITHUB_OUTPUT file.
func digestOf(outputs string) string {
	_, rest, ok := strings.Cut(outputs, "digest<<")
	if !ok {
		return ""
	}
	lines := strings.SplitN(rest, "\n", 3)
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
