package inputs

import (
	"strings"
	"unicode"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ghcr-publish/publish-action/internal/platform"
)

// Attestations is what happens to BuildKit's attestation manifests in an
// index when the images they describe are stamped.
type Attestations string

const (
	// Preserve leaves images that have attestations byte-identical, so the
	// attestations stay valid; the metadata goes on the index.
	Preserve Attestations = "preserve"
	// Repoint stamps every image and points each attestation at the new
	// digest (the statement inside still names the digest it was made for).
	Repoint Attestations = "repoint"
	// Drop stamps every image and removes the attestations.
	Drop Attestations = "drop"
)

func parseAttestations(v string) (Attestations, error) {
	switch a := Attestations(strings.ToLower(v)); a {
	case "":
		return Preserve, nil
	case Preserve, Repoint, Drop:
		return a, nil
	}
	return Preserve, errorf("attestations", "%q is not a policy; use preserve, repoint or drop", v)
}

// ParsePlatforms parses a comma- or newline-separated list of platforms such
// as linux/amd64,linux/arm64/v8.
func ParsePlatforms(v string) ([]v1.Platform, error) {
	var out []v1.Platform
	seen := map[string]bool{}
	for _, field := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		s := strings.TrimSpace(field)
		if s == "" {
			continue
		}
		p, err := v1.ParsePlatform(s)
		// go-containerregistry drops what it does not understand: an empty
		// variant or os.version ("linux/amd64/", "linux/amd64:") and all
		// after a second colon ("windows/amd64:10.0:x"). Every part of what
		// was written must be in the platform.
		if err != nil || p.OS == "" || p.Architecture == "" || strings.Count(s, "/") > 2 ||
			strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) ||
			platform.Text(*p) != s {
			return nil, errorf("platforms", "%q is not a platform; write OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7", truncate(s, 60))
		}
		key := platform.Key(*p)
		if seen[key] {
			return nil, errorf("platforms", "lists %s twice", truncate(key, 80))
		}
		seen[key] = true
		out = append(out, *p)
	}
	if len(out) == 0 {
		return nil, errorf("platforms", "lists no platform; give e.g. linux/amd64,linux/arm64, or leave it empty")
	}
	return out, nil
}

// LinkCheck is what happens when the package is not linked to the
// repository after a push.
type LinkCheck string

const (
	LinkWarn  LinkCheck = "warn"
	LinkError LinkCheck = "error"
	LinkOff   LinkCheck = "off"
)

func parseLinkCheck(v string) (LinkCheck, error) {
	switch l := LinkCheck(strings.ToLower(v)); l {
	case "":
		return LinkWarn, nil
	case LinkWarn, LinkError, LinkOff:
		return l, nil
	}
	return LinkWarn, errorf("link-check", "%q is not a mode; use warn, error or off", v)
}
