package tagrules

import (
	"errors"
	"strings"
)

// Flavor is the parsed flavor input (src/flavor.ts).
type Flavor struct {
	// Latest is auto, true or false.
	Latest                     string
	prefix, suffix             template
	PrefixText, SuffixText     string
	PrefixLatest, SuffixLatest bool
}

// ParseFlavor parses the flavor input (src/flavor.ts).
func ParseFlavor(v string) (Flavor, error) {
	f := Flavor{Latest: "auto"}
	var errs []error
	for i, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fail := func(format string, args ...any) {
			errs = append(errs, lineError("flavor", i+1, line, format, args...))
		}
		fields, err := splitFields(line)
		if err != nil {
			fail("%v", err)
			continue
		}
		onlatestFor := ""
		for _, field := range fields {
			// Difference: metadata-action keeps only the text between the
			// first and second '=' (suffix=-a=b gives -a); this keeps it all.
			k, val, ok := strings.Cut(field, "=")
			if !ok {
				fail("%q is not key=value; use latest=, prefix=, suffix= or onlatest=", field)
				continue
			}
			k, val = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(val)
			switch k {
			case "latest":
				if val != "auto" && val != "true" && val != "false" {
					fail("latest=%s is not auto, true or false", val)
				}
				f.Latest = val
			case "prefix", "suffix":
				t, err := parseTemplate(val, globalExprs)
				if err != nil {
					fail("%s: %v", k, err)
					continue
				}
				if k == "prefix" {
					f.prefix, f.PrefixText = t, val
				} else {
					f.suffix, f.SuffixText = t, val
				}
				onlatestFor = k
			case "onlatest":
				if val != "true" && val != "false" {
					fail("onlatest=%s is not true or false", val)
					continue
				}
				switch onlatestFor {
				case "prefix":
					f.PrefixLatest = val == "true"
				case "suffix":
					f.SuffixLatest = val == "true"
				default:
					// Difference: metadata-action ignores a stray onlatest.
					fail("onlatest applies to the prefix= or suffix= before it on the same line, e.g. suffix=-alpine,onlatest=true")
				}
			default:
				fail("unknown key %q; use latest, prefix, suffix or onlatest", k)
			}
		}
	}
	return f, errors.Join(errs...)
}
