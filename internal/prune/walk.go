package prune

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Version is one version of a container package: a manifest the package
// holds, by digest, and the tags pointing at it.
type Version struct {
	ID      int64
	Digest  string
	Tags    []string
	Created time.Time
}

// Manifest is what the walk needs from a manifest's content.
type Manifest struct {
	// Children are an index's entries, in order.
	Children []Child
	// Subject is the digest of the manifest's subject (OCI 1.1
	// referrers), empty when it has none.
	Subject string
}

// Child is one entry of an index.
type Child struct {
	Digest string
	// AttestationOf is, for a BuildKit attestation manifest, the digest of
	// the image it describes (the vnd.docker.reference.digest annotation).
	AttestationOf string
}

// Content is what a package holds: its versions, with the tags the API
// lists and the registry holds, and the manifest read for each.
type Content struct {
	Versions  []Version
	Manifests map[string]Manifest
	// Pinned are digests kept whatever the listing says, with why: the
	// ones this run wrote, and the ones a registry tag points at that the
	// listing does not show yet. Their manifests are in Manifests too.
	Pinned map[string]string
}

// ArtifactSubject returns the digest an artifact tag hangs off, or "".
// Artifact tags are the ones tools hang off a digest instead of the OCI
// referrers API, which ghcr.io lacks: the referrers fallback tag
// sha256-<hex> (distribution-spec v1.1, "Referrers Tag Schema") and
// cosign's sha256-<hex>.sig, .att and .sbom. (Read by hand, not by a
// regular expression: compiling one at start-up cost 3 ms of every run.)
func ArtifactSubject(tag string) string {
	hex, ok := strings.CutPrefix(tag, "sha256-")
	if !ok || len(hex) < 64 {
		return ""
	}
	hex, suffix := hex[:64], hex[64:]
	for _, c := range hex {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	if suffix != "" {
		ext, ok := strings.CutPrefix(suffix, ".")
		if !ok || ext == "" {
			return ""
		}
		for _, c := range ext {
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
				return ""
			}
		}
	}
	return "sha256:" + hex
}

// Roots are the versions kept no matter what reaches them: those with a
// tag that is not an artifact tag, those pinned (written by this run, or
// tagged at the registry ahead of the listing), those with an artifact tag
// that hangs off a digest the package does not hold, and those younger
// than minAge (another run's matrix leg, pushed by digest and not yet
// merged, looks exactly like an orphan). A version with no created_at
// counts as young. Versions in moved (what this publish moved its tags
// away from, and what hangs off them) were tagged a moment ago, not in
// flight: their age does not keep them.
func Roots(c Content, minAge time.Duration, now time.Time, moved map[string]bool) map[string]string {
	holds := map[string]bool{}
	for _, v := range c.Versions {
		holds[v.Digest] = true
	}
	roots := map[string]string{}
	for _, v := range c.Versions {
		var plain, foreign []string
		for _, t := range v.Tags {
			switch s := ArtifactSubject(t); {
			case s == "":
				plain = append(plain, t)
			case !holds[s]:
				foreign = append(foreign, t)
			}
		}
		switch {
		case len(plain) > 0:
			roots[v.Digest] = "tag " + strings.Join(plain, ", ")
		case c.Pinned[v.Digest] != "":
			roots[v.Digest] = c.Pinned[v.Digest]
		case len(foreign) > 0:
			// cosign can sign an image of another repository into this one.
			roots[v.Digest] = "tag " + foreign[0] + " names a digest this package does not hold"
		case moved[v.Digest]:
		case v.Created.IsZero():
			// GitHub's listing always has it; without it the age is
			// unknown, and an unknown age may be a leg in flight.
			roots[v.Digest] = "no created_at in the listing: its age is unknown"
		case now.Sub(v.Created) < minAge:
			roots[v.Digest] = fmt.Sprintf("younger than prune-min-age %s (pushed %s)", formatAge(minAge), v.Created.UTC().Format(time.RFC3339))
		}
	}
	for d, why := range c.Pinned {
		if _, ok := roots[d]; !ok {
			roots[d] = why
		}
	}
	return roots
}

// Reach returns every digest the roots reach, with why it is kept. From a
// kept manifest the walk follows an index's children (platform images,
// attestation manifests, nested indexes); it keeps an attestation manifest
// that describes a kept image, a manifest whose subject is kept, and a
// version whose artifact tag hangs off a kept digest.
func Reach(c Content, roots map[string]string) map[string]string {
	kept := make(map[string]string, len(roots))
	for d, why := range roots {
		kept[d] = why
	}
	// Index entries are read in a fixed order so reasons are deterministic.
	indexes := make([]string, 0, len(c.Manifests))
	for d, m := range c.Manifests {
		if len(m.Children) > 0 {
			indexes = append(indexes, d)
		}
	}
	slices.Sort(indexes)
	for changed := true; changed; {
		changed = false
		keep := func(d, why string) {
			if _, ok := kept[d]; !ok {
				kept[d] = why
				changed = true
			}
		}
		for _, d := range indexes {
			for _, ch := range c.Manifests[d].Children {
				if _, ok := kept[d]; ok {
					keep(ch.Digest, "in index "+Short(d))
				}
				if _, ok := kept[ch.AttestationOf]; ok && ch.AttestationOf != "" {
					keep(ch.Digest, "attestation of "+Short(ch.AttestationOf))
				}
			}
		}
		for _, v := range c.Versions {
			if _, ok := kept[v.Digest]; ok {
				continue
			}
			if s := c.Manifests[v.Digest].Subject; s != "" {
				if _, ok := kept[s]; ok {
					keep(v.Digest, "its subject "+Short(s)+" is kept")
					continue
				}
			}
			for _, t := range v.Tags {
				s := ArtifactSubject(t)
				if s == "" {
					continue
				}
				if _, ok := kept[s]; ok {
					keep(v.Digest, "tag "+t+" of kept "+Short(s))
					break
				}
			}
		}
	}
	return kept
}

// Descendants returns seeds and everything hanging off them: an index's
// children, attestations of them, manifests whose subject is among them and
// versions whose artifact tags hang off them. It is what a publish orphans
// when its tags move away from seeds.
func Descendants(c Content, seeds []string) map[string]bool {
	out := map[string]bool{}
	for _, s := range seeds {
		out[s] = true
	}
	for changed := true; changed; {
		changed = false
		add := func(d string) {
			if !out[d] {
				out[d] = true
				changed = true
			}
		}
		for d, m := range c.Manifests {
			for _, ch := range m.Children {
				if out[d] || (ch.AttestationOf != "" && out[ch.AttestationOf]) {
					add(ch.Digest)
				}
			}
		}
		for _, v := range c.Versions {
			if s := c.Manifests[v.Digest].Subject; s != "" && out[s] {
				add(v.Digest)
			}
			for _, t := range v.Tags {
				if s := ArtifactSubject(t); s != "" && out[s] {
					add(v.Digest)
				}
			}
		}
	}
	return out
}

// deleteOrder sorts the versions to delete so that a manifest goes before
// the manifests it refers to (an index before its children, a signature
// before what it signs): at no moment does a remaining manifest point at
// one already deleted.
func deleteOrder(c Content, del []Version) []Version {
	in := map[string]bool{}
	tags := map[string][]string{}
	for _, v := range del {
		in[v.Digest] = true
		tags[v.Digest] = v.Tags
	}
	refs := func(d string) []string {
		m := c.Manifests[d]
		var out []string
		for _, t := range tags[d] {
			if s := ArtifactSubject(t); s != "" {
				out = append(out, s)
			}
		}
		for _, ch := range m.Children {
			out = append(out, ch.Digest)
		}
		if m.Subject != "" {
			out = append(out, m.Subject)
		}
		return out
	}
	indegree := map[string]int{}
	for _, v := range del {
		for _, r := range refs(v.Digest) {
			if in[r] && r != v.Digest {
				indegree[r]++
			}
		}
	}
	// Ties go by digest, so the order is deterministic.
	pending := slices.Clone(del)
	slices.SortFunc(pending, func(a, b Version) int { return strings.Compare(a.Digest, b.Digest) })
	var out []Version
	for len(pending) > 0 {
		i := slices.IndexFunc(pending, func(v Version) bool { return indegree[v.Digest] == 0 })
		if i < 0 {
			i = 0 // a cycle cannot happen with content addressing; do not spin
		}
		v := pending[i]
		pending = slices.Delete(pending, i, i+1)
		out = append(out, v)
		for _, r := range refs(v.Digest) {
			if in[r] && r != v.Digest {
				indegree[r]--
			}
		}
	}
	return out
}

// Short abbreviates a digest for tables and logs: sha256: and 12 hex digits.
func Short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

// formatAge writes a duration in days when it is whole days, as the input
// is usually written.
func formatAge(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
