package stamp

import v1 "github.com/google/go-containerregistry/pkg/v1"

// platformKey is the canonical os/arch[/variant][:os.version] form in
// which Entry.Platform compares platforms. arm64's variant v8 is its
// default, so it is dropped, as containerd's platform matching does. It is
// the form inputs.PlatformString gives the platforms input; stamp keeps its
// own so that it needs no inputs type (TestPlatformFormsMatchInputs keeps
// the two the same).
func platformKey(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" && !(p.Architecture == "arm64" && p.Variant == "v8") {
		s += "/" + p.Variant
	}
	if p.OSVersion != "" {
		s += ":" + p.OSVersion
	}
	return s
}

// platformText is p as written, os/arch[/variant][:os.version], the variant
// kept even where platformKey drops it (arm64/v8): Entry.Written, what the
// platforms output reports.
func platformText(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	if p.OSVersion != "" {
		s += ":" + p.OSVersion
	}
	return s
}
