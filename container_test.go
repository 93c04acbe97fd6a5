package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"gopkg.in/yaml.v3"

	"github.com/ghcr-publish/publish-action/internal/testkit/enginetest"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/need"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// buildFiles lists, relative to the repository root, every file `go build .`
// reads for goos/goarch: the module files, the Go and assembly sources of
// this module's packages, and every file they embed (go list resolves the
// //go:embed patterns into EmbedFiles, as the compiler does).
func buildFiles(t *testing.T, goos, goarch string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,Module,GoFiles,SFiles,EmbedFiles", ".")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir                         string
			Module                      *struct{ Path string }
			GoFiles, SFiles, EmbedFiles []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != "github.com/ghcr-publish/publish-action" {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Concat(p.GoFiles, p.SFiles, p.EmbedFiles) {
			files = append(files, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	return files
}

// contextMisses returns the files of the build that the Docker build
// context leaves out (excluded by .dockerignore, with the matcher Docker
// and BuildKit use) or that the Dockerfile's build stage does not COPY.
func contextMisses(dockerignore, dockerfile string, files []string) ([]string, error) {
	patterns, err := ignorefile.ReadAll(strings.NewReader(dockerignore))
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	copied := buildStageCopies(dockerfile)
	var misses []string
	for _, f := range files {
		excluded, err := pm.MatchesOrParentMatches(f)
		if err != nil {
			return nil, err
		}
		if excluded {
			misses = append(misses, f+" (excluded by .dockerignore)")
			continue
		}
		if !slices.ContainsFunc(copied, func(src string) bool {
			src = strings.TrimSuffix(strings.TrimPrefix(path.Clean(src), "./"), "/")
			return src == "." || src == f || strings.HasPrefix(f, src+"/")
		}) {
			misses = append(misses, f+" (not copied by the build stage)")
		}
	}
	return misses, nil
}

// buildStageCopies returns the sources of the COPY and ADD lines of the
// Dockerfile's first stage (those that copy from the context).
func buildStageCopies(dockerfile string) []string {
	var sources []string
	stage := 0
	sc := bufio.NewScanner(strings.NewReader(dockerfile))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stage++
		case "COPY", "ADD":
			if stage != 1 {
				continue
			}
			args := fields[1:]
			for len(args) > 0 && strings.HasPrefix(args[0], "--") {
				if strings.HasPrefix(args[0], "--from=") {
					args = nil
					break
				}
				args = args[1:]
			}
			if len(args) > 1 {
				sources = append(sources, args[:len(args)-1]...)
			}
		}
	}
	return sources
}

// TestBuildContext checks that the build context the runner sends for
// `image: Dockerfile` holds every file the binary is built from. A file
// embedded with //go:embed but left out by .dockerignore is what once
// made every job's "Set up job" fail (issue 11).
func TestBuildContext(t *testing.T) {
	t.Parallel()
	dockerignore, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		files := buildFiles(t, "linux", arch)
		if !slices.Contains(files, "action.yml") {
			t.Fatalf("go list does not report main.go's embedded action.yml: %v", files)
		}
		misses, err := contextMisses(string(dockerignore), string(dockerfile), files)
		if err != nil {
			t.Fatal(err)
		}
		if len(misses) > 0 {
			t.Errorf("linux/%s: the Docker build cannot compile the action; admit these in .dockerignore and COPY them in the Dockerfile's build stage:\n%s", arch, strings.Join(misses, "\n"))
		}
	}

	// The check itself catches the broken context of issue 11.
	for _, tc := range []struct{ name, dockerignore, dockerfile, want string }{
		{"ignored", "*\n!go.mod\n!go.sum\n!main.go\n!internal/\n", string(dockerfile), "action.yml (excluded by .dockerignore)"},
		{"not copied", string(dockerignore), strings.Replace(string(dockerfile), "COPY main.go action.yml ./", "COPY main.go ./", 1), "action.yml (not copied by the build stage)"},
	} {
		misses, err := contextMisses(tc.dockerignore, tc.dockerfile, []string{"go.mod", "main.go", "action.yml", "internal/cli/cli.go"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(misses, []string{tc.want}) {
			t.Errorf("%s: contextMisses = %q, want [%q]", tc.name, misses, tc.want)
		}
	}
}

// TestDockerfileShape checks what the engine build cannot tell apart: a
// build stage that runs on the target platform works here too (the base is
// amd64 whatever the target), but on a runner it would emulate the
// compiler; a `# syntax=` line works wherever Docker Hub is reachable, but
// costs every job a frontend image pull.
func TestDockerfileShape(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(line, " ", "")), "#syntax=") {
			t.Errorf("Dockerfile has a parser directive %q: BuildKit would pull that frontend image on every job", line)
		}
		if strings.HasPrefix(line, "FROM ") {
			froms = append(froms, line)
		}
	}
	want := []string{"FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build", "FROM scratch"}
	if !slices.Equal(froms, want) {
		t.Errorf("stages %q, want %q: a build stage on the builder's platform, cross-compiling, and an empty final stage", froms, want)
	}
	for _, want := range []string{"ARG GO_IMAGE=golang:", "GOOS=$TARGETOS GOARCH=$TARGETARCH", "CGO_ENABLED=0"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// buildKit returns how to run `docker build` with BuildKit, the builder the
// runners use (the Dockerfile needs its automatic platform arguments): the
// buildx plugin when the client has it, otherwise a client from before
// Docker 23 (Debian's docker.io), which talks to the engine's embedded
// BuildKit when DOCKER_BUILDKIT=1.
func buildKit(t *testing.T) (docker string, args, env []string) {
	t.Helper()
	if exec.Command("docker", "buildx", "version").Run() == nil {
		return "docker", []string{"buildx", "build", "--load"}, nil
	}
	for _, c := range []string{"docker", "/usr/bin/docker"} {
		out, err := exec.Command(c, "version", "--format", "{{.Client.Version}}").Output()
		if err != nil {
			continue
		}
		major, _, _ := strings.Cut(strings.TrimSpace(string(out)), ".")
		if n, err := strconv.Atoi(major); err == nil && n < 23 {
			return c, []string{"build"}, []string{"DOCKER_BUILDKIT=1"}
		}
	}
	need.Missing(t, "no BuildKit client: neither the docker buildx plugin nor a docker client older than 23 (Debian's docker.io, which .ci/run installs)")
	return "", nil, nil
}

// goBaseImage imports into the engine a stand-in for the golang image,
// which lives on Docker Hub, out of reach here: the host's Go toolchain at
// /usr/local/go (where the golang image has it), the host's CA bundle for
// the module proxy, and a static busybox as /bin/sh for RUN.
func goBaseImage(t *testing.T) string {
	t.Helper()
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox (Debian's busybox-static, which .ci/run installs): %v", err)
	}
	if f, err := elf.Open(busybox); err != nil {
		t.Fatalf("busybox: %v", err)
	} else {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Fatalf("%s is dynamically linked and cannot run in the base image; install Debian's busybox-static", busybox)
			}
		}
		f.Close()
	}
	tag := fmt.Sprintf("publish-action-test/gobase:%d", time.Now().UnixNano())
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeBase(pw, strings.TrimSpace(string(goroot)), busybox)) }()
	cmd := exec.Command("docker", "import",
		"--change", "ENV PATH=/go/bin:/usr/local/go/bin:/bin",
		"--change", "ENV GOPATH=/go",
		"--change", "ENV GOTOOLCHAIN=local",
		"-", tag)
	cmd.Stdin = pr
	if out, err := cmd.CombinedOutput(); err != nil {
		pr.CloseWithError(err)
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "--force", tag).Run() })
	return tag
}

// writeBase writes the base image's file system as a tar stream.
func writeBase(w io.Writer, goroot, busybox string) error {
	tw := tar.NewWriter(w)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode})
	}
	file := func(name, src string, mode int64) error {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	}
	for _, d := range []string{"bin", "etc", "etc/ssl", "etc/ssl/certs", "go", "usr", "usr/local"} {
		if err := dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return err
	}
	if err := file("bin/busybox", busybox, 0o755); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/sh", Linkname: "busybox", Mode: 0o777}); err != nil {
		return err
	}
	if err := file("etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt", 0o644); err != nil {
		return err
	}
	// The toolchain without its tests and documentation, which a build
	// never reads.
	skip := map[string]bool{"test": true, "api": true, "doc": true, "misc": true}
	err := filepath.WalkDir(goroot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(goroot, p)
		if d.IsDir() && skip[rel] {
			return filepath.SkipDir
		}
		name := path.Join("usr/local/go", filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return dir(name, int64(info.Mode().Perm()))
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
		case d.Type().IsRegular():
			return file(name, p, int64(info.Mode().Perm()))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// buildDockerfile builds the repository's own Dockerfile with its own
// .dockerignore, in the engine, with BuildKit, as the runner does at "Set
// up job" for `image: Dockerfile`, for platform ("" for the engine's own).
// The only differences: the golang base image is the local stand-in, and
// the build step uses the host's network (the engine here has none of its
// own) and module proxy. It returns the image's tag and the build's time.
func buildDockerfile(t *testing.T, base, platform string) (string, time.Duration) {
	t.Helper()
	docker, args, env := buildKit(t)
	tag := fmt.Sprintf("publish-action-test/action:%d", time.Now().UnixNano())
	args = append(args, "--network", "host", "--tag", tag, "--build-arg", "GO_IMAGE="+base)
	if platform != "" {
		args = append(args, "--platform", platform)
	}
	if proxy, err := exec.Command("go", "env", "GOPROXY").Output(); err == nil {
		args = append(args, "--build-arg", "GOPROXY="+strings.TrimSpace(string(proxy)))
	}
	cmd := exec.Command(docker, append(args, ".")...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", docker, strings.Join(args, " "), err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "--force", tag).Run() })
	return tag, time.Since(start)
}

// actionImage builds the Dockerfile for the engine's platform.
func actionImage(t *testing.T, base string) string {
	t.Helper()
	tag, built := buildDockerfile(t, base, "")
	// Logged, never asserted: the set-up time of `image: Dockerfile`
	// (a rerun here may reuse the engine's build cache; a runner never does).
	t.Logf("set-up with image: Dockerfile: docker build %s + run to first line %s; action image %s bytes",
		built.Round(time.Second), firstLine(t, tag).Round(time.Millisecond),
		enginetest.Docker(t, "image", "inspect", "--format", "{{.Size}}", tag))
	return tag
}

// checkCrossBuild builds the Dockerfile for the other runner architecture.
// The build stage runs on the engine's own platform and cross-compiles, so
// this needs no emulation (the engine here has none); the binary it
// leaves in the image must be for the target.
func checkCrossBuild(t *testing.T, base string) {
	t.Helper()
	other, machine := "arm64", elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		other, machine = "amd64", elf.EM_X86_64
	}
	tag, built := buildDockerfile(t, base, "linux/"+other)
	t.Logf("linux/%s image built in %s", other, built.Round(time.Second))
	if got := enginetest.Docker(t, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", tag); got != "linux/"+other {
		t.Errorf("the --platform linux/%s build made a %s image", other, got)
	}
	id := enginetest.Docker(t, "create", tag)
	defer exec.Command("docker", "rm", "--force", id).Run()
	bin := filepath.Join(t.TempDir(), "publish-action")
	enginetest.Docker(t, "cp", id+":/publish-action", bin)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("the linux/%s image's binary is for %s, want %s", other, f.Machine, machine)
	}
}

// firstLine runs the image as `docker run` with --version and returns how
// long the engine took until the first line of output: the container's
// start, which the runner pays before the action's own first log line.
func firstLine(t *testing.T, image string) time.Duration {
	t.Helper()
	start := time.Now()
	cmd := exec.Command("docker", "run", "--rm", "--network", "host", image, "--version")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	took := time.Since(start)
	io.Copy(io.Discard, stdout)
	if werr := cmd.Wait(); err != nil || werr != nil || !strings.Contains(line, "publish-action") {
		t.Fatalf("docker run %s --version: %q, %v, %v", image, line, err, werr)
	}
	return took
}

// socketPath is the engine's socket on the host, to mount where the runner
// mounts it.
func socketPath(host string) string {
	if p, ok := strings.CutPrefix(host, "unix://"); ok {
		return p
	}
	return "/var/run/docker.sock"
}

// runner runs an action image the way the runner runs a container action
// (actions/runner, ContainerActionHandler): the workspace as working
// directory, the socket and the runner's directories mounted, INPUT_* and
// GITHUB_* with container paths, the job's network.
type runner struct {
	t    *testing.T
	host string
	api  string
	dirs map[string]string
}

func newRunner(t *testing.T, host, api string) *runner {
	t.Helper()
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
	return &runner{t: t, host: host, api: api, dirs: dirs}
}

// run runs image with inputs and returns the log and exit code; the output
// and summary files start empty on each run, as for each step.
func (r *runner) run(image string, inputs map[string]string) (string, int) {
	r.t.Helper()
	for _, f := range []string{"output", "summary"} {
		os.WriteFile(filepath.Join(r.dirs["file_commands"], f), nil, 0o666)
	}
	args := []string{"run", "--rm", "--network", "host", "--workdir", "/github/workspace",
		"-v", socketPath(r.host) + ":/var/run/docker.sock",
		"-v", r.dirs["file_commands"] + ":/github/file_commands",
		"-v", r.dirs["workspace"] + ":/github/workspace",
		"-v", r.dirs["home"] + ":/github/home",
		"-v", r.dirs["workflow"] + ":/github/workflow",
	}
	env := githubtest.RunnerEnv(map[string]string{
		"HOME":                "/github/home",
		"GITHUB_API_URL":      strings.TrimSuffix(r.api, "/"),
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
	})
	for k, v := range inputs {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "-e", k+"="+env[k])
	}
	args = append(args, image)
	out, err := exec.Command("docker", args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("docker run: %v\n%s", err, out)
	}
	return string(out), code
}

// file returns a file the action wrote on the host side.
func (r *runner) file(name string) string {
	raw, _ := os.ReadFile(filepath.Join(r.dirs["file_commands"], name))
	return string(raw)
}

// publishSample has the action image publish a deterministic sample from
// an OCI layout in the workspace (a relative oci: path) to repo, and checks
// the outputs, the summary and what the registry holds.
func publishSample(t *testing.T, r *runner, image, repo string) {
	t.Helper()
	layout, err := sample.Image(sample.Options{Seed: "container"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(r.dirs["workspace"], "out")
	os.RemoveAll(dir)
	if err := sample.WriteLayout(dir, layout, ""); err != nil {
		t.Fatal(err)
	}
	out, code := r.run(image, map[string]string{"INPUT_SOURCE": "oci:out", "INPUT_IMAGE": repo})
	if code != 0 {
		t.Fatalf("oci:out from the workspace: exit %d\n%s", code, out)
	}
	outputs := r.file("output")
	digest := digestOf(outputs)
	if !strings.HasPrefix(digest, "sha256:") || !strings.Contains(outputs, repo+":v1.2.3") {
		t.Fatalf("outputs on the host side:\n%s\nlog:\n%s", outputs, out)
	}
	if !strings.Contains(r.file("summary"), "### Published") {
		t.Errorf("summary on the host side:\n%s", r.file("summary"))
	}
	ref, _ := name.ParseReference(repo + ":v1.2.3")
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d.String() != digest {
		t.Errorf("registry has %s, outputs say %s", d, digest)
	}
	if strings.Count(out, "ghs_container_token") > 1 {
		t.Errorf("the token shows in the log beyond ::add-mask::\n%s", out)
	}
}

// TestContainerAction builds the Dockerfile as the runner does for
// `image: Dockerfile` and runs the image as the runner runs a container
// action. It publishes an image built in that same engine (docker-daemon:)
// and one from the workspace.
func TestContainerAction(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	base := goBaseImage(t)
	image := actionImage(t, base)
	widget := fmt.Sprintf("publish-action-test/widget:%d", time.Now().UnixNano())
	enginetest.Build(t, widget, map[string]string{"app": "#!/bin/app\n"}, "COPY app /app", "LABEL maintainer=Acme")

	reg, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	defer reg.Close()
	api := githubtest.Start(os.DirFS(filepath.Join("testdata", "github")))
	defer api.Close()
	r := newRunner(t, host, api.URL)

	// The final stage is what the runner runs: the binary as entrypoint,
	// and neither USER nor WORKDIR, which container actions must not set
	// (BuildKit records the default working directory as "/").
	for format, want := range map[string][]string{
		"{{json .Config.Entrypoint}}": {`["/publish-action"]`},
		"{{.Config.User}}":            {""},
		"{{.Config.WorkingDir}}":      {"", "/"},
	} {
		if got := enginetest.Docker(t, "image", "inspect", "--format", format, image); !slices.Contains(want, got) {
			t.Errorf("image %s = %q, want one of %q", format, got, want)
		}
	}

	out, code := r.run(image, map[string]string{
		"INPUT_SOURCE": "docker-daemon:" + widget,
		"INPUT_IMAGE":  reg.Host() + "/acme/widget",
	})
	if code != 0 {
		t.Fatalf("the action container exited %d:\n%s", code, out)
	}
	outputs := r.file("output")
	digest := digestOf(outputs)
	if !strings.HasPrefix(digest, "sha256:") || !strings.Contains(outputs, reg.Host()+"/acme/widget:v1.2.3") {
		t.Fatalf("outputs on the host side:\n%s\nlog:\n%s", outputs, out)
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

	publishSample(t, r, image, reg.Host()+"/acme/widget-oci")

	// An image the engine lacks: one annotation naming the input, exit 1.
	out, code = r.run(image, map[string]string{"INPUT_SOURCE": "docker-daemon:publish-action-test/missing:none", "INPUT_IMAGE": reg.Host() + "/acme/widget"})
	if code != 1 || !strings.Contains(out, "::error title=input source::") || !strings.Contains(out, "has no image") {
		t.Errorf("missing image: exit %d\n%s", code, out)
	}

	checkCrossBuild(t, base)
}

// outputValue reads one output from a GITHUB_OUTPUT file (name<<DELIM
// blocks, as go-githubactions writes them).
func outputValue(outputs, key string) string {
	lines := strings.Split(outputs, "\n")
	for i, l := range lines {
		if delim, ok := strings.CutPrefix(l, key+"<<"); ok {
			var v []string
			for _, l := range lines[i+1:] {
				if l == delim {
					break
				}
				v = append(v, l)
			}
			return strings.Join(v, "\n")
		}
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	return ""
}

// TestPrebuiltAction walks the release path: build the image without
// Docker (go run ./cmd/image), publish it with the action as release.yml
// does, pin a copy of action.yml to it (go run ./cmd/release pin), then
// have the engine pull the pinned reference from the registry and run it
// as the runner runs a `docker://` action, publishing a sample.
func TestPrebuiltAction(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	reg, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	defer reg.Close()
	api := githubtest.Start(os.DirFS(filepath.Join("testdata", "github")))
	defer api.Close()

	ws := t.TempDir()
	build := exec.Command("go", "run", "./cmd/image", "-o", filepath.Join(ws, "_image"))
	var stderr bytes.Buffer
	build.Stderr = &stderr
	layoutDigest, err := build.Output()
	if err != nil {
		t.Fatalf("go run ./cmd/image: %v\n%s", err, stderr.String())
	}
	t.Logf("layout index %s\n%s", bytes.TrimSpace(layoutDigest), stderr.String())

	// Publish as the release does: uses: ./ with the layout as source.
	repo := reg.Host() + "/ghcr-publish/publish-action"
	stdout, outputs, code := runBinary(t, buildBinary(t), api.RunnerEnv(map[string]string{
		"GITHUB_REF":       "refs/tags/v1.2.3",
		"GITHUB_WORKSPACE": ws,
		"INPUT_SOURCE":     "oci:_image",
		"INPUT_IMAGE":      repo,
		"INPUT_TAGS":       "1.2.3,1.2,1,latest",
		"INPUT_PLATFORMS":  "linux/amd64,linux/arm64",
		"INPUT_TOKEN":      "ghs_release_token",
		"INPUT_PUSH":       "true",
	}))
	if code != 0 {
		t.Fatalf("publishing the action's image: exit %d\n%s", code, stdout)
	}
	published := outputValue(outputs, "image")
	if !strings.HasPrefix(published, repo+"@sha256:") {
		t.Fatalf("image output %q, want %s@sha256:…\n%s", published, repo, outputs)
	}

	// The release commit's action.yml, and the reference a runner reads
	// from it.
	raw, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	pinnedFile := filepath.Join(t.TempDir(), "action.yml")
	os.WriteFile(pinnedFile, raw, 0o644)
	if out, err := exec.Command("go", "run", "./cmd/release", "pin", "-image", published, "-f", pinnedFile).CombinedOutput(); err != nil {
		t.Fatalf("go run ./cmd/release pin: %v\n%s", err, out)
	}
	if out, err := exec.Command("go", "run", "./cmd/release", "public", "-image", published).CombinedOutput(); err != nil {
		t.Fatalf("go run ./cmd/release public: %v\n%s", err, out)
	}
	pinned, _ := os.ReadFile(pinnedFile)
	var meta struct {
		Runs struct{ Using, Image string }
	}
	if err := yaml.Unmarshal(pinned, &meta); err != nil {
		t.Fatal(err)
	}
	ref, ok := strings.CutPrefix(meta.Runs.Image, "docker://")
	if meta.Runs.Using != "docker" || !ok || ref != published {
		t.Fatalf("pinned action.yml runs %+v, want docker://%s", meta.Runs, published)
	}

	// What the runner does at "Set up job" for a docker:// action.
	start := time.Now()
	enginetest.Docker(t, "pull", "--quiet", ref)
	pulled := time.Since(start)
	t.Cleanup(func() { exec.Command("docker", "rmi", "--force", ref).Run() })
	// Logged, never asserted: the set-up time of image: docker://….
	t.Logf("set-up with image: docker://%s: docker pull %s + run to first line %s; image %s bytes", ref,
		pulled.Round(time.Millisecond), firstLine(t, ref).Round(time.Millisecond),
		enginetest.Docker(t, "image", "inspect", "--format", "{{.Size}}", ref))
	if got := enginetest.Docker(t, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}} {{json .Config.Entrypoint}}", ref); got != "linux/"+runtime.GOARCH+` ["/publish-action"]` {
		t.Errorf("pulled image: %s", got)
	}

	r := newRunner(t, host, api.URL)
	publishSample(t, r, ref, reg.Host()+"/acme/widget-prebuilt")
}
