// Package platform owns how a platform is named: the one form in which the
// platforms input, the sources and the stamped index compare platforms,
// and the form the platforms output reports. It imports no step, so every
// step that meets a platform asks it.
package platform

import v1 "github.com/google/go-containerregistry/pkg/v1"

// Key is the canonical os/arch[/variant][:os.version] form in which
// platforms are compared. arm64's variant v8 is its default, so it is
// dropped, as containerd's platform matching does.
func Key(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" && !(p.Architecture == "arm64" && p.Variant == "v8") {
		s += "/" + p.Variant
	}
	return s + osVersion(p)
}

// Text is p as written, os/arch[/variant][:os.version], the variant kept
// even where Key drops it (arm64/v8): what an index says and the platforms
// output reports.
func Text(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s + osVersion(p)
}

func osVersion(p v1.Platform) string {
	if p.OSVersion == "" {
		return ""
	}
	return ":" + p.OSVersion
}
