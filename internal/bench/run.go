package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// execer runs the commands of one measured run and adds up what they cost:
// a tool that needs several commands for a scenario pays for all of them.
type execer struct {
	// CPU is user plus system time of every process run; RSS the largest
	// peak resident set of any of them.
	CPU time.Duration
	RSS int64
	// Started is when the first process started.
	Started time.Time
	// Commands counts the processes run.
	Commands int
}

// run runs argv with exactly env (KEY=value) and stdin, and returns its
// standard output. A failure carries standard error.
func (x *execer) run(ctx context.Context, argv, env []string, stdin []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if x.Started.IsZero() {
		x.Started = time.Now()
	}
	err := cmd.Run()
	x.Commands++
	if ps := cmd.ProcessState; ps != nil {
		x.CPU += ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			// Linux reports ru_maxrss in KiB.
			x.RSS = max(x.RSS, ru.Maxrss*1024)
		}
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w\n%s%s", strings.Join(argv, " "), err, tail(stdout.String()), tail(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// tail is the end of a command's output, enough to see why it failed.
func tail(s string) string {
	const keep = 2000
	if len(s) > keep {
		s = "…" + s[len(s)-keep:]
	}
	return s
}

// publisher runs our action with the given environment (INPUT_* and
// GITHUB_* variables) and returns its outputs. The benchmark runs the built
// binary; tests run the action in process.
type publisher interface {
	publish(ctx context.Context, x *execer, env map[string]string) (map[string]string, error)
}

// binary runs the action's binary as the runner would, outside a workflow:
// with no GITHUB_OUTPUT it prints its outputs as key=value lines.
type binary struct {
	path string
	// base is the environment every run inherits (PATH, HOME, TMPDIR).
	base []string
}

func (b binary) publish(ctx context.Context, x *execer, env map[string]string) (map[string]string, error) {
	out, err := x.run(ctx, []string{b.path}, append(append([]string{}, b.base...), environ(env)...), nil)
	if err != nil {
		return nil, err
	}
	return parseOutputs(out), nil
}

// environ turns a map into KEY=value lines, sorted for stable runs.
func environ(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// baseEnv is what child processes inherit from the benchmark: enough to
// find programs and a home and a temporary directory, nothing that could
// change what they do (no registry credentials, no proxies).
func baseEnv(home, tmp string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + tmp}
}

// parseOutputs reads the key=value lines the action prints for its
// outputs outside a workflow. Multi-line values keep their first line only,
// which is all the benchmark reads (digest, image).
func parseOutputs(out []byte) map[string]string {
	outputs := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "digest", "image", "tags", "package-url":
			if _, seen := outputs[k]; !seen {
				outputs[k] = v
			}
		}
	}
	return outputs
}
