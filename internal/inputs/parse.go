package inputs

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/github/go-spdx/v2/spdxexp"
)

// Bounds on label and annotation lines: generous for any real use, and they
// keep a config or manifest from growing without bound.
const (
	MaxKey   = 256
	MaxValue = 64 << 10
)

// KeyValue is one key=value line of labels or annotations. An empty Value in
// labels removes that label.
type KeyValue struct {
	Key   string
	Value string
}

// tagPattern is the distribution spec's tag grammar
// (opencontainers/distribution-spec, "Pulling manifests").
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// ValidTag reports whether t is a valid tag.
func ValidTag(t string) bool { return tagPattern.MatchString(t) }

// annotationLevels are buildx's annotation levels, which
// docker/metadata-action's annotations output puts before each line
// (DOCKER_METADATA_ANNOTATIONS_LEVELS).
var annotationLevels = map[string]bool{"manifest": true, "index": true, "manifest-descriptor": true, "index-descriptor": true}

// ParseKeyValues parses one key=value per line, as docker/build-push-action's
// labels and annotations inputs do. Blank lines are skipped. Later lines win.
func ParseKeyValues(input, v string) ([]KeyValue, error) {
	var out []KeyValue
	index := map[string]int{}
	for i, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if input == "annotations" {
			// docker/metadata-action's annotations output prefixes each
			// line with its level (manifest:, index:); this action puts
			// annotations on the manifests and the index alike. It also
			// writes key= for what it does not know: nothing to annotate.
			if level, rest, found := strings.Cut(key, ":"); found && annotationLevels[level] && strings.TrimSpace(rest) != "" {
				if key = strings.TrimSpace(rest); ok && value == "" {
					continue
				}
			}
		}
		switch {
		case !ok:
			return nil, errorf(input, "line %d %q has no '='; write key=value, one per line", i+1, truncate(line, 60))
		case key == "":
			return nil, errorf(input, "line %d %q has no key before '='; write key=value", i+1, truncate(line, 60))
		case strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return nil, errorf(input, "line %d: key %q contains spaces or control characters; use a key like org.opencontainers.image.title", i+1, truncate(key, 60))
		case strings.IndexFunc(value, func(r rune) bool { return unicode.IsControl(r) && r != '\t' }) >= 0:
			return nil, errorf(input, "line %d: the value of %q contains control characters; remove them", i+1, truncate(key, 60))
		}
		if len(key) > MaxKey {
			return nil, errorf(input, "line %d: key %q… is %d bytes; keys are at most %d", i+1, truncate(key, 40), len(key), MaxKey)
		}
		if len(value) > MaxValue {
			return nil, errorf(input, "line %d: the value of %q is %d KiB; values are at most %d KiB (ghcr.io shows 512 characters of a description)", i+1, truncate(key, 60), len(value)>>10, MaxValue>>10)
		}
		if j, dup := index[key]; dup {
			out[j].Value = value
			continue
		}
		index[key] = len(out)
		out = append(out, KeyValue{Key: key, Value: value})
	}
	return out, nil
}

// parseLicenses checks an SPDX license expression (SPDX spec, Annex D).
// NOASSERTION means "say nothing": the label is left out.
func parseLicenses(v string) (Optional, error) {
	if strings.EqualFold(v, "NOASSERTION") {
		return Optional{Set: true}, nil
	}
	if n := len([]rune(v)); n > MaxLicenses {
		return Optional{}, errorf("licenses", "is %d characters; ghcr.io accepts at most %d", n, MaxLicenses)
	}
	if !validLicenses(v) {
		return Optional{}, errorf("licenses", "%q is not an SPDX license expression; use identifiers from https://spdx.org/licenses/ such as MIT or Apache-2.0 OR MIT", truncate(v, 80))
	}
	return Optional{Value: v, Set: true}, nil
}

// validLicenses reports whether v is a valid SPDX expression. go-spdx's
// parser panics instead of failing on an expression that ends in an open
// parenthesis or in WITH ("(", "MIT OR (", "MIT WITH"): github/go-spdx#158,
// open as of v2.7.0. Such an expression is invalid, not a crash.
func validLicenses(v string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ok, _ = spdxexp.ValidateLicenses([]string{v})
	return ok
}

// Truncate shortens s for an error message so that s quoted with %q takes at
// most n bytes plus the ellipsis. It counts each rune as %q writes it, so that
// a value of control characters or invalid UTF-8 (\x01, \u202e: up to ten
// bytes a rune) cannot make a message many times longer than n either. The
// plan step's tag rules quote user text in their messages too.
func Truncate(s string, n int) string {
	width := 0
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		width += len(strconv.Quote(s[i:i+size])) - 2
		if width > n {
			return s[:i] + "…"
		}
		i += size
	}
	return s
}

// truncate is Truncate, under the name the checks in this package use.
func truncate(s string, n int) string { return Truncate(s, n) }
