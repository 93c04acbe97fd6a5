package tagrules

import (
	"regexp"
	"strconv"
	"strings"
)

// semverPattern is node-semver's strict FULL grammar, which
// docker/metadata-action's type=semver uses through semver.valid
// (semver.org 2.0.0 with an optional leading v).
var semverPattern = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
	`(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][a-zA-Z0-9-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][a-zA-Z0-9-]*))*))?` +
	`(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$`)

// semVersion is a parsed semantic version.
type semVersion struct {
	raw                 string
	major, minor, patch uint64
	prerelease          []string
	build               []string
}

// parseSemver parses s as node-semver's semver.valid does; ok is false when
// it is not a version.
func parseSemver(s string) (semVersion, bool) {
	s = strings.TrimSpace(s)
	m := semverPattern.FindStringSubmatch(s)
	if m == nil || len(s) > 256 {
		return semVersion{}, false
	}
	v := semVersion{raw: s}
	var err error
	for i, p := range []*uint64{&v.major, &v.minor, &v.patch} {
		// node-semver refuses numbers above MAX_SAFE_INTEGER.
		if *p, err = strconv.ParseUint(m[i+1], 10, 53); err != nil {
			return semVersion{}, false
		}
	}
	if m[4] != "" {
		v.prerelease = strings.Split(m[4], ".")
	}
	if m[5] != "" {
		v.build = strings.Split(m[5], ".")
	}
	return v, true
}

// version is node-semver's SemVer.version: no v, no build metadata.
func (v semVersion) version() string {
	s := strconv.FormatUint(v.major, 10) + "." + strconv.FormatUint(v.minor, 10) + "." + strconv.FormatUint(v.patch, 10)
	if len(v.prerelease) > 0 {
		s += "-" + strings.Join(v.prerelease, ".")
	}
	return s
}

// compare orders versions by semver.org precedence (§11).
func (v semVersion) compare(w semVersion) int {
	for _, d := range [][2]uint64{{v.major, w.major}, {v.minor, w.minor}, {v.patch, w.patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.prerelease) == 0 && len(w.prerelease) == 0:
		return 0
	case len(v.prerelease) == 0:
		return 1
	case len(w.prerelease) == 0:
		return -1
	}
	for i := 0; i < len(v.prerelease) && i < len(w.prerelease); i++ {
		a, b := v.prerelease[i], w.prerelease[i]
		an, aerr := strconv.ParseUint(a, 10, 64)
		bn, berr := strconv.ParseUint(b, 10, 64)
		switch {
		case aerr == nil && berr == nil:
			if an != bn {
				if an < bn {
					return -1
				}
				return 1
			}
		case aerr == nil:
			return -1
		case berr == nil:
			return 1
		case a != b:
			if a < b {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.prerelease) < len(w.prerelease):
		return -1
	case len(v.prerelease) > len(w.prerelease):
		return 1
	}
	return 0
}

// pep440Pattern is PEP 440's version grammar as the packaging project
// writes it (Appendix B of PEP 440), which @renovate/pep440 follows.
var pep440Pattern = regexp.MustCompile(`(?i)^\s*v?(?:(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)` +
	`([-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?` +
	`((?:-([0-9]+))|(?:[-_.]?(post|rev|r)[-_.]?([0-9]+)?))?` +
	`([-_.]?(dev)[-_.]?([0-9]+)?)?)` +
	`(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$`)

// pepVersion is a parsed PEP 440 version.
type pepVersion struct {
	epoch, release, pre, post, dev, local string
	isPre, isPost, isDev                  bool
}

func parsePEP440(s string) (pepVersion, bool) {
	m := pep440Pattern.FindStringSubmatch(s)
	if m == nil {
		return pepVersion{}, false
	}
	num := func(s string) string {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return "0"
		}
		return strconv.FormatUint(n, 10)
	}
	v := pepVersion{}
	if m[1] != "" && num(m[1]) != "0" {
		v.epoch = num(m[1])
	}
	parts := strings.Split(m[2], ".")
	for i := range parts {
		parts[i] = num(parts[i])
	}
	v.release = strings.Join(parts, ".")
	if m[3] != "" {
		label := map[string]string{"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc", "preview": "rc", "rc": "rc"}[strings.ToLower(m[4])]
		v.pre, v.isPre = label+num(m[5]), true
	}
	if m[6] != "" {
		n := m[7]
		if n == "" {
			n = m[9]
		}
		v.post, v.isPost = num(n), true
	}
	if m[10] != "" {
		v.dev, v.isDev, v.isPre = num(m[12]), true, true
	}
	if m[13] != "" {
		v.local = strings.NewReplacer("-", ".", "_", ".").Replace(strings.ToLower(m[13]))
	}
	return v, true
}

// clean is the normalised form (@renovate/pep440's clean).
func (v pepVersion) clean() string {
	s := v.release
	if v.epoch != "" {
		s = v.epoch + "!" + s
	}
	s += v.pre
	if v.isPost {
		s += ".post" + v.post
	}
	if v.isDev {
		s += ".dev" + v.dev
	}
	if v.local != "" {
		s += "+" + v.local
	}
	return s
}

// part is release segment i, 0 when the release is shorter.
func (v pepVersion) part(i int) string {
	parts := strings.Split(v.release, ".")
	if i < len(parts) {
		return parts[i]
	}
	return "0"
}
