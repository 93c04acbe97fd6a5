package plan

import (
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestRepoKey(t *testing.T) {
	t.Parallel()
	same := []string{"https://github.com/Acme/Widget", "https://github.com/acme/widget.git", "http://github.com/Acme/Widget/", "git@github.com:Acme/Widget.git", "https://user@github.com/Acme/Widget", "https://github.com/Acme/Widget/tree/main", "github.com/Acme/Widget"}
	for _, s := range same {
		if got, want := repoKey(s), "github.com/acme/widget"; got != want {
			t.Errorf("repoKey(%q) = %q, want %q", s, got, want)
		}
	}
	for _, s := range []string{"https://github.com/Upstream/Base", "https://gitlab.com/Acme/Widget", "https://github.com/Acme/Widget2"} {
		if repoKey(s) == "github.com/acme/widget" {
			t.Errorf("repoKey(%q) names Acme/Widget", s)
		}
	}
}

func TestKeepsImageValue(t *testing.T) {
	t.Parallel()
	p := Plan{Repository: "https://github.com/Acme/Widget"}
	own := map[string]string{specs.AnnotationSource: "https://github.com/acme/widget"}
	upstream := map[string]string{specs.AnnotationSource: "https://github.com/Upstream/Base"}
	derived := func(key string) Entry { return Entry{Key: key, Value: "run", Origin: FromContext} }
	tests := []struct {
		name  string
		e     Entry
		image map[string]string
		want  bool
	}{
		{"own description stays", derived(specs.AnnotationDescription), own, true},
		{"inherited description goes", derived(specs.AnnotationDescription), upstream, false},
		{"own revision goes: the run's wins", derived(specs.AnnotationRevision), own, false},
		{"inherited created goes", derived(specs.AnnotationCreated), upstream, false},
		{"own version goes", derived(specs.AnnotationVersion), own, false},
		{"input always wins", Entry{Key: specs.AnnotationTitle, Value: "x", Origin: FromInput}, own, false},
		{"no source: cannot tell, the image's stays", derived(specs.AnnotationLicenses), map[string]string{}, true},
	}
	for _, tc := range tests {
		if got := p.KeepsImageValue(tc.e, "image", tc.image); got != tc.want {
			t.Errorf("%s: KeepsImageValue = %v, want %v", tc.name, got, tc.want)
		}
	}
	if (Plan{}).Inherited(upstream) {
		t.Error("outside a workflow an image's labels look inherited")
	}
}
