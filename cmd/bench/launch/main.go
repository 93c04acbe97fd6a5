// Command launch runs a command and reports what it cost, for the
// benchmark: `launch REPORT -- ARGV…` runs ARGV with this process's
// standard streams and environment, writes its start time, wall time, CPU
// time and peak RSS to REPORT as JSON, and exits with its status.
//
// It is a separate, small program so that peak RSS is right: Go starts a
// child with vfork, the child shares its parent's memory until exec, and
// Linux keeps that memory's high-water mark as the child's ru_maxrss. Run
// from the benchmark (which holds the registry), or from any large binary,
// every tool would seem to use at least that much memory; this launcher
// stays at a few MiB.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// usage is what the benchmark reads back (cmd/bench's usage).
type usage struct {
	Start     time.Time
	Wall, CPU time.Duration
	RSS       int64
}

func main() {
	if len(os.Args) < 4 || os.Args[2] != "--" {
		fmt.Fprintln(os.Stderr, "usage: launch REPORT -- ARGV…")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1], os.Args[3:]))
}

func run(report string, argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	u := usage{Start: start, Wall: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		u.CPU = ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			u.RSS = ru.Maxrss * 1024 // Linux reports KiB
		}
	}
	b, jerr := json.Marshal(u)
	if jerr == nil {
		jerr = os.WriteFile(report, b, 0o644)
	}
	if jerr != nil {
		fmt.Fprintln(os.Stderr, "launch:", jerr)
		return 1
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 1
	}
	return 0
}
