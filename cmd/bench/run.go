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
	// launcher, when set, is the launch program (./launch), which then
	// starts every command to measure it.
	launcher string
	// Wall and CPU (user plus system) add up every command's; RSS is the
	// largest peak resident set of any of them.
	Wall, CPU time.Duration
	RSS       int64
	// Started is when the first command started.
	Started time.Time
	// Commands counts the commands run.
	Commands int
}

// run runs argv with exactly env (KEY=value) and stdin, and returns its
// standard output. A failure carries the end of its output.
func (x *execer) run(ctx context.Context, argv, env []string, stdin []byte) ([]byte, error) {
	var report *os.File
	full := argv
	if x.launcher != "" {
		var err error
		if report, err = os.CreateTemp("", "bench-launch-"); err != nil {
			return nil, err
		}
		report.Close()
		defer os.Remove(report.Name())
		full = append([]string{x.launcher, report.Name(), "--"}, argv...)
	}
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	u := usage{Start: start, Wall: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		u.CPU = ps.UserTime() + ps.SystemTime()
		u.RSS = maxRSS(ps)
	}
	if report != nil {
		if rerr := readJSON(report.Name(), &u); rerr != nil && err == nil {
			err = rerr
		}
	}
	if x.Started.IsZero() {
		x.Started = u.Start
	}
	x.Commands++
	x.Wall += u.Wall
	x.CPU += u.CPU
	x.RSS = max(x.RSS, u.RSS)
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w\n%s%s", strings.Join(argv, " "), err, tail(stdout.String()), tail(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// usage is what one command cost, as the launcher reports it.
type usage struct {
	Start     time.Time
	Wall, CPU time.Duration
	RSS       int64
}

// maxRSS is a finished process's peak resident set, in bytes.
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024 // Linux reports KiB
	}
	return 0
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
