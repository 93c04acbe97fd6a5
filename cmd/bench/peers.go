package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Pinned peers: the versions the reference figures were taken with.
const (
	craneModule  = "github.com/google/go-containerregistry/cmd/crane"
	craneVersion = "v0.22.1"
	regctlModule = "github.com/regclient/regclient/cmd/regctl"
	regctlVer    = "v0.11.7"
)

// peers are the other tools' binaries; an empty path means the tool could
// not be installed, and its rows are left out with a note.
type peers struct {
	crane, regctl, skopeo string
	// versions says what each one reports, for the machine description.
	versions map[string]string
	notes    []string
}

// installPeers installs crane and regctl from the Go module proxy into
// binDir (once: an existing binary of the right version is reused), built
// as their release binaries are (static, stripped) and as ours is, and
// finds skopeo, installing Debian's package when running as root.
func installPeers(ctx context.Context, binDir string, logf func(string, ...any)) peers {
	p := peers{versions: map[string]string{}}
	for _, g := range []struct {
		name, module, version string
		path                  *string
	}{
		{"crane", craneModule, craneVersion, &p.crane},
		{"regctl", regctlModule, regctlVer, &p.regctl},
	} {
		dir := filepath.Join(binDir, g.name+"@"+g.version+"-static")
		bin := filepath.Join(dir, g.name)
		if _, err := os.Stat(bin); err != nil {
			logf("installing %s@%s from the Go module proxy", g.module, g.version)
			cmd := exec.CommandContext(ctx, "go", "install", "-trimpath", "-ldflags=-s -w", g.module+"@"+g.version)
			cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				p.notes = append(p.notes, fmt.Sprintf("%s@%s could not be installed (%v): %s", g.name, g.version, err, lastLine(string(out))))
				continue
			}
		}
		*g.path = bin
		p.versions[g.name] = g.version
	}

	skopeo, err := exec.LookPath("skopeo")
	if err != nil && os.Geteuid() == 0 {
		if _, aerr := exec.LookPath("apt-get"); aerr == nil {
			logf("installing skopeo from Debian")
			cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "skopeo")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, ierr := cmd.CombinedOutput(); ierr != nil {
				p.notes = append(p.notes, fmt.Sprintf("skopeo could not be installed: %s", lastLine(string(out))))
			}
			skopeo, err = exec.LookPath("skopeo")
		}
	}
	if err != nil {
		p.notes = append(p.notes, "skopeo is not installed (apt-get install skopeo): its rows are left out")
	} else {
		p.skopeo = skopeo
		if out, err := exec.CommandContext(ctx, skopeo, "--version").Output(); err == nil {
			p.versions["skopeo"] = strings.TrimPrefix(strings.TrimSpace(string(out)), "skopeo version ")
		}
	}
	return p
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	return s
}
