package tagrules

import "strings"

// latest=auto gives latest to the version of a release, as metadata-action
// does, but metadata-action cannot see the registry and always moves
// latest (metadata-action#407): a backport (v1.9.1 after v2.0.0) would
// take it. The caller reads the registry's tags when AutoLatest says so,
// and asks HigherRelease whether one of them outranks this version.

// AutoLatest is the semantic version (1.9.1) that latest=auto gave latest
// to; ok is false when latest did not come from latest=auto or the version
// is not a semantic one.
func (v Version) AutoLatest() (version string, ok bool) {
	cand := v.candidate()
	if cand == nil {
		return "", false
	}
	return cand.version(), true
}

// HigherRelease is the tag among existing that holds the highest release
// (no prerelease), when that release is higher than the version
// latest=auto gave latest to; ok is false when there is none, or when
// latest did not come from latest=auto. The flavor's prefix and suffix are
// stripped from each tag before it is read as a version.
func (v Version) HigherRelease(existing []string) (tag string, ok bool) {
	cand := v.candidate()
	if cand == nil {
		return "", false
	}
	tag, best := v.highestRelease(existing)
	if best == nil || best.compare(*cand) <= 0 {
		return "", false
	}
	return tag, true
}

// candidate is the semantic version that latest=auto gave latest to, or
// nil when latest did not come from latest=auto or the version is not one.
func (v Version) candidate() *semVersion {
	if !v.Latest || !v.latestAuto {
		return nil
	}
	if v.mainVersion != nil {
		return v.mainVersion
	}
	if s, ok := parseSemver(v.strip(v.Main)); ok {
		return &s
	}
	return nil
}

// strip removes the flavor's prefix and suffix from tag.
func (v Version) strip(tag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(tag, sanitizeTag(v.flavorPrefix)), sanitizeTag(v.flavorSuffix))
}

// highestRelease is the highest release (no prerelease) among tags.
func (v Version) highestRelease(tags []string) (string, *semVersion) {
	var best *semVersion
	bestTag := ""
	for _, t := range tags {
		s, ok := parseSemver(v.strip(t))
		if !ok || len(s.prerelease) > 0 {
			continue
		}
		if best == nil || s.compare(*best) > 0 {
			best, bestTag = &s, t
		}
	}
	return bestTag, best
}
