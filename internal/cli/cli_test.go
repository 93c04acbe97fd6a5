package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

func actionYAML(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestEnv(t *testing.T) {
	t.Parallel()
	spec, err := ParseSpec(actionYAML(t))
	if err != nil {
		t.Fatal(err)
	}
	process := map[string]string{"GITHUB_TOKEN": "ghp_from_env", "USER": "alice", "INPUT_LABELS": "from=env", "PATH": "/bin"}
	env, err := Env(spec, []string{"--source", "oci:out", "--tags=1.0,latest", "--push-by-digest", "false"}, mapEnv(process), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("Env() = %v", err)
	}
	want := map[string]string{
		"INPUT_SOURCE":         "oci:out",
		"INPUT_TAGS":           "1.0,latest",
		"INPUT_PUSH-BY-DIGEST": "false",
		"INPUT_TOKEN":          "ghp_from_env", // ${{ github.token }} outside a workflow
		"INPUT_USERNAME":       "alice",        // ${{ github.actor }}
		"INPUT_PUSH":           "auto",         // action.yml's default
		"INPUT_ATTESTATIONS":   "preserve",
		"INPUT_LABELS":         "from=env", // set by another CI system as the runner would
		"INPUT_IMAGE":          "",
		"PATH":                 "/bin", // everything else passes through
	}
	got := map[string]string{}
	for k := range want {
		got[k] = env(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Env() mismatch (-want +got):\n%s", diff)
	}

	for _, args := range [][]string{{"--no-such-input", "x"}, {"oci:out"}} {
		if _, err := Env(spec, args, mapEnv(nil), &bytes.Buffer{}); err == nil {
			t.Errorf("Env(%q) = nil error", args)
		}
	}
}

func TestHelpListsEveryInput(t *testing.T) {
	t.Parallel()
	spec, err := ParseSpec(actionYAML(t))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Env(spec, []string{"--help"}, mapEnv(nil), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Env(--help) = %v, want flag.ErrHelp", err)
	}
	for _, in := range spec.Inputs {
		if !strings.Contains(out.String(), "\n  --"+in.Name+" value\n") {
			t.Errorf("--help does not list --%s value:\n%s", in.Name, out.String())
		}
	}
	for _, want := range []string{"(default: $GITHUB_TOKEN)", "(default: preserve)", "(default: warn)", "\n  --version\n", "\n  --help\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), actionYAML(t), []string{"--version"}, mapEnv(nil), &stdout, &stderr)
	v, c := Version()
	if want := "publish-action " + v + " (commit " + c + ")\n"; code != 0 || stdout.String() != want {
		t.Errorf("Main(--version) = %d, %q; want 0, %q", code, stdout.String(), want)
	}
	if stderr.Len() != 0 {
		t.Errorf("Main(--version) wrote to stderr: %q", stderr.String())
	}
}

func TestConsole(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := Console(&out)
	for _, chunk := range []string{
		"::add-mask::s3cret\n",
		"::group::Push\nplain line\n::warn",
		"ing::careful%0Awith %25 and %3A\n",
		"::error title=input image::image: bad\n",
		"::endgroup::\n",
		"::notice::done\n",
	} {
		c.Write([]byte(chunk))
	}
	want := "== Push\nplain line\nwarning: careful\nwith % and :\nerror: image: bad\nnotice: done\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("Console mismatch (-want +got):\n%s", diff)
	}
}

// TestCommandLine publishes from outside Actions: flags for inputs,
// credentials from a Docker config, outputs as key=value, no workflow
// commands and no secret on the terminal.
func TestCommandLine(t *testing.T) {
	// Not parallel: it sets DOCKER_CONFIG for the process.
	const password = "registry-password-from-docker-login"
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{password}})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	defer reg.Close()
	dir := t.TempDir()
	img, err := sample.Image(sample.Options{Seed: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.WriteLayout(filepath.Join(dir, "out"), img, ""); err != nil {
		t.Fatal(err)
	}
	// What docker login writes.
	config, _ := json.Marshal(map[string]any{"auths": map[string]any{
		reg.Host(): map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte("robot:" + password))},
	}})
	dockerConfig := filepath.Join(dir, "docker")
	os.MkdirAll(dockerConfig, 0o700)
	os.WriteFile(filepath.Join(dockerConfig, "config.json"), config, 0o600)
	// go-containerregistry's Docker keychain reads DOCKER_CONFIG from the
	// process environment.
	t.Setenv("DOCKER_CONFIG", dockerConfig)

	process := map[string]string{"GITHUB_API_URL": "http://127.0.0.1:1", "SOURCE_DATE_EPOCH": "1700000000"}
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), actionYAML(t), []string{
		"--source", "oci:" + filepath.Join(dir, "out"),
		"--image", reg.Host() + "/acme/widget",
		"--tags", "cli",
		"--description", "Published from a terminal",
		"--licenses", "MIT",
		"--source-url", "https://github.com/acme/widget",
	}, mapEnv(process), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("Main() = %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"digest=sha256:", "image=" + reg.Host() + "/acme/widget@sha256:", "org.opencontainers.image.description=Published from a terminal"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "::") {
		t.Errorf("workflow commands on a terminal:\n%s", out)
	}
	if strings.Contains(out+stderr.String(), password) {
		t.Errorf("the password was printed")
	}

	// Bad flags: one line naming the input, exit 1.
	stdout.Reset()
	code = Main(context.Background(), actionYAML(t), []string{"--image", "/acme/widget", "--push", "maybe"}, mapEnv(process), &stdout, &stderr)
	if code != 1 || !strings.Contains(stdout.String(), "error: image: ") || !strings.Contains(stdout.String(), "error: push: ") {
		t.Errorf("bad flags: exit %d\n%s", code, stdout.String())
	}
}

// TestErrorsRedactedAfterUnpacking: several bad inputs, one of them holding
// the token. Each is printed on its own line, and none shows the token, in
// any form a terminal would show it.
func TestErrorsRedactedAfterUnpacking(t *testing.T) {
	t.Parallel()
	const token = "ghs_cliRedactionToken0123456789"
	process := map[string]string{"GITHUB_API_URL": "http://127.0.0.1:1", "GITHUB_TOKEN": token}
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), actionYAML(t), []string{"--tags", token + "!", "--push", "maybe", "--image", "ghcr.io/acme/widget"}, mapEnv(process), &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if code != 1 {
		t.Fatalf("Main() = %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"error: tags: ", "error: push: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, token) {
		t.Errorf("the token was printed:\n%s", out)
	}
	if !strings.Contains(out, "***") {
		t.Errorf("output shows no redaction:\n%s", out)
	}
}

// TestConsoleMasks: outside Actions nobody masks what ::add-mask::
// registers, so the console does, as the runner would.
func TestConsoleMasks(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := Console(&out)
	c.Write([]byte("::add-mask::s3cret-value\n::add-mask::s3cret\nsaw s3cret-value and s3cret\n::error::echoed s3cret-value\n"))
	want := "saw *** and ***\nerror: echoed ***\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("Console mismatch (-want +got):\n%s", diff)
	}
}
