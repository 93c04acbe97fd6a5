package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/testkit/enginetest"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// actionImage packages the binary exactly as the Dockerfile's final stage
// does — its lines are taken from the Dockerfile itself — and builds it in
// the engine. The build stage needs a golang base image from Docker Hub,
// which is out of reach here, so the binary is built the same way on the
// host instead (static, -trimpath).
func actionImage(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := regexp.MustCompile(`(?m)^FROM `).Split(string(raw), -1)
	final := "FROM " + stages[len(stages)-1]
	if !strings.HasPrefix(final, "FROM scratch") {
		t.Fatalf("the Dockerfile's final stage is not FROM scratch:\n%s", final)
	}
	for _, forbidden := range []string{"\nUSER", "\nWORKDIR"} {
		if strings.Contains(final, forbidden) {
			t.Errorf("the final stage sets %s, which container actions must not", strings.TrimSpace(forbidden))
		}
	}
	ctx := t.TempDir()
	// COPY --from=build /x /y becomes COPY x /y from this context.
	copyFrom := regexp.MustCompile(`(?m)^COPY --from=build /(\S+) `)
	for _, m := range copyFrom.FindAllStringSubmatch(final, -1) {
		if err := os.MkdirAll(filepath.Join(ctx, filepath.Dir(m[1])), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(m[1], "ca-certificates.crt"):
			data, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
			if err != nil {
				t.Fatalf("the host's CA bundle: %v", err)
			}
			os.WriteFile(filepath.Join(ctx, m[1]), data, 0o644)
		default:
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(ctx, m[1]), ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
		}
	}
	final = copyFrom.ReplaceAllString(final, "COPY $1 ")
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(final), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("publish-action-test/action:%d", time.Now().UnixNano())
	enginetest.Docker(t, "build", "--quiet", "--tag", tag, ctx)
	t.Cleanup(func() { exec.Command("docker", "rmi", "--force", tag).Run() })
	t.Logf("action image: %s bytes", enginetest.Docker(t, "image", "inspect", "--format", "{{.Size}}", tag))
	return tag
}

// socketPath is the engine's socket on the host, to mount where the runner
// mounts it.
func socketPath(host string) string {
	if p, ok := strings.CutPrefix(host, "unix://"); ok {
		return p
	}
	return "/var/run/docker.sock"
}

// TestContainerAction runs the action image the way the runner runs a
// container action (actions/runner, ContainerActionHandler): the workspace
// as working directory, the socket and the runner's directories mounted,
// INPUT_* and GITHUB_* with container paths, the job's network. It
// publishes an image built in that same engine (docker-daemon:).
func TestContainerAction(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	image := actionImage(t)
	widget := fmt.Sprintf("publish-action-test/widget:%d", time.Now().UnixNano())
	enginetest.Build(t, widget, map[string]string{"app": "#!/bin/app\n"}, "COPY app /app", "LABEL maintainer=Acme")

	reg, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	defer reg.Close()
	api := githubtest.Start(os.DirFS(filepath.Join("testdata", "github")))
	defer api.Close()

	root := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"file_commands", "workspace", "home", "workflow"} {
		dirs[d] = filepath.Join(root, d)
		if err := os.MkdirAll(dirs[d], 0o777); err != nil {
			t.Fatal(err)
		}
	}
	event, err := os.ReadFile(filepath.Join("testdata", "github", "events", "push-tag.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dirs["workflow"], "event.json"), event, 0o644)
	for _, f := range []string{"output", "summary"} {
		os.WriteFile(filepath.Join(dirs["file_commands"], f), nil, 0o666)
	}

	run := func(inputs map[string]string) (string, int) {
		args := []string{"run", "--rm", "--network", "host", "--workdir", "/github/workspace",
			"-v", socketPath(host) + ":/var/run/docker.sock",
			"-v", dirs["file_commands"] + ":/github/file_commands",
			"-v", dirs["workspace"] + ":/github/workspace",
			"-v", dirs["home"] + ":/github/home",
			"-v", dirs["workflow"] + ":/github/workflow",
		}
		env := map[string]string{
			"HOME":                "/github/home",
			"GITHUB_ACTIONS":      "true",
			"GITHUB_SERVER_URL":   "https://github.com",
			"GITHUB_API_URL":      strings.TrimSuffix(api.URL, "/"),
			"GITHUB_REPOSITORY":   "Acme/Widget",
			"GITHUB_SHA":          "0123456789abcdef0123456789abcdef01234567",
			"GITHUB_REF":          "refs/tags/v1.2.3",
			"GITHUB_EVENT_NAME":   "push",
			"GITHUB_EVENT_PATH":   "/github/workflow/event.json",
			"GITHUB_WORKSPACE":    "/github/workspace",
			"GITHUB_OUTPUT":       "/github/file_commands/output",
			"GITHUB_STEP_SUMMARY": "/github/file_commands/summary",
			"GITHUB_ACTOR":        "octocat",
			"INPUT_TOKEN":         "ghs_container_token",
			"INPUT_USERNAME":      "octocat",
			"INPUT_PUSH":          "true",
		}
		for k, v := range inputs {
			env[k] = v
		}
		for k, v := range env {
			args = append(args, "-e", k+"="+v)
		}
		args = append(args, image)
		out, err := exec.Command("docker", args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("docker run: %v\n%s", err, out)
		}
		return string(out), code
	}

	out, code := run(map[string]string{
		"INPUT_SOURCE": "docker-daemon:" + widget,
		"INPUT_IMAGE":  reg.Host() + "/acme/widget",
	})
	if code != 0 {
		t.Fatalf("the action container exited %d:\n%s", code, out)
	}
	outputs, _ := os.ReadFile(filepath.Join(dirs["file_commands"], "output"))
	summary, _ := os.ReadFile(filepath.Join(dirs["file_commands"], "summary"))
	digest := digestOf(string(outputs))
	if !strings.HasPrefix(digest, "sha256:") || !strings.Contains(string(outputs), reg.Host()+"/acme/widget:v1.2.3") {
		t.Fatalf("outputs on the host side:\n%s\nlog:\n%s", outputs, out)
	}
	if !strings.Contains(string(summary), "### Published") {
		t.Errorf("summary on the host side:\n%s", summary)
	}
	// What the registry holds agrees with the outputs, and carries the
	// Dockerfile's label and the repository's metadata.
	ref, _ := name.ParseReference(reg.Host() + "/acme/widget:v1.2.3")
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d.String() != digest {
		t.Errorf("registry has %s, outputs say %s", d, digest)
	}
	cf, _ := img.ConfigFile()
	for k, want := range map[string]string{"maintainer": "Acme", "org.opencontainers.image.licenses": "MIT", "org.opencontainers.image.version": "v1.2.3"} {
		if cf.Config.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], want)
		}
	}
	if strings.Count(out, "ghs_container_token") > 1 {
		t.Errorf("the token shows in the log beyond ::add-mask::\n%s", out)
	}

	// A relative oci: path resolves in the mounted workspace.
	layout, err := sample.Image(sample.Options{Seed: "container"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.WriteLayout(filepath.Join(dirs["workspace"], "out"), layout, ""); err != nil {
		t.Fatal(err)
	}
	if out, code := run(map[string]string{"INPUT_SOURCE": "oci:out", "INPUT_IMAGE": reg.Host() + "/acme/widget-oci"}); code != 0 {
		t.Errorf("oci:out from the workspace: exit %d\n%s", code, out)
	}

	// An image the engine lacks: one annotation naming the input, exit 1.
	out, code = run(map[string]string{"INPUT_SOURCE": "docker-daemon:publish-action-test/missing:none", "INPUT_IMAGE": reg.Host() + "/acme/widget"})
	if code != 1 || !strings.Contains(out, "::error title=input source::") || !strings.Contains(out, "has no image") {
		t.Errorf("missing image: exit %d\n%s", code, out)
	}
}
