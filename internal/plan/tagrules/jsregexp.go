package tagrules

import (
	"fmt"
	"regexp"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// compileJSRegexp compiles a JavaScript regular expression, written bare
// or as /re/flags, into Go's RE2.
func compileJSRegexp(s string) (*regexp.Regexp, error) {
	expr := s
	if m := regexp.MustCompile(`^/(.+)/([a-z]*)$`).FindStringSubmatch(s); m != nil {
		expr = m[1]
		flags := ""
		for _, f := range m[2] {
			switch f {
			case 'i', 'm', 's':
				flags += string(f)
			case 'g', 'u', 'y', 'd':
				// No effect on one match of one string.
			default:
				return nil, fmt.Errorf("/%s/%s: unknown flag %q", m[1], m[2], f)
			}
		}
		if flags != "" {
			expr = "(?" + flags + ")" + expr
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%q is not a regular expression Go's RE2 accepts (no look-arounds or back-references): %v", inputs.Truncate(s, 60), err)
	}
	return re, nil
}
