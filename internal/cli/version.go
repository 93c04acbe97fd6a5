package cli

import (
	"runtime/debug"
)

// version and commit may be set at link time (-ldflags "-X
// github.com/ghcr-publish/publish-action/internal/cli.commit=SHA"), for
// builds that have no .git to read, such as the action's image build. Empty
// means: ask the build information Go records.
var version, commit string

// Version says which build this is: the module version ("devel" for a
// build from a work tree) and the commit it was built from ("unknown" when
// the build recorded none), with "-dirty" for uncommitted changes.
func Version() (string, string) {
	v, c := version, commit
	bi, ok := debug.ReadBuildInfo()
	if ok && v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if ok && c == "" {
		dirty := ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				c = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if c != "" {
			c += dirty
		}
	}
	if v == "" {
		v = "devel"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}
