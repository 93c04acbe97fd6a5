package main

import (
	"fmt"
	"regexp"
	"strings"
)

// Version is a release tag, vMAJOR.MINOR.PATCH[-PRERELEASE].
type Version struct {
	Tag                 string // as pushed, e.g. v1.2.3
	Major, Minor, Patch string
	Prerelease          string
}

// semver is SemVer 2.0's core with an optional pre-release, after a "v";
// build metadata (+…) is refused because it cannot be an image tag.
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$`)

// ParseVersion reads a pushed release tag.
func ParseVersion(tag string) (Version, error) {
	m := semver.FindStringSubmatch(tag)
	if m == nil {
		return Version{}, fmt.Errorf("tag %q is not a release: push vMAJOR.MINOR.PATCH, e.g. v1.2.3 (the workflow moves v1 and v1.2 itself)", tag)
	}
	return Version{Tag: tag, Major: m[1], Minor: m[2], Patch: m[3], Prerelease: m[4]}, nil
}

// ImageTags are the package's tags: the full version, and for a final
// release also MAJOR.MINOR, MAJOR and latest (docker/metadata-action's
// type=semver set). A pre-release gets only its own tag.
func (v Version) ImageTags() []string {
	full := strings.TrimPrefix(v.Tag, "v")
	if v.Prerelease != "" {
		return []string{full}
	}
	return []string{full, v.Major + "." + v.Minor, v.Major, "latest"}
}

// MovingTags are the git tags that follow the newest final release of
// their line, vMAJOR and vMAJOR.MINOR, as GitHub recommends for actions.
// A pre-release moves none.
func (v Version) MovingTags() []string {
	if v.Prerelease != "" {
		return nil
	}
	return []string{"v" + v.Major, "v" + v.Major + "." + v.Minor}
}

// Outputs are the step outputs, key=value lines for GITHUB_OUTPUT.
func (v Version) Outputs() string {
	return fmt.Sprintf("version=%s\nimage-tags=%s\nmoving-tags=%s\n",
		strings.TrimPrefix(v.Tag, "v"), strings.Join(v.ImageTags(), ","), strings.Join(v.MovingTags(), " "))
}
