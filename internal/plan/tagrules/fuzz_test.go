package tagrules

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// FuzzTagRules feeds arbitrary tags and flavor inputs to the rule parser
// and evaluates what it accepts in several contexts: it must never panic,
// refuse with anything but one-line errors naming tags or flavor, or emit a
// tag a registry would refuse.
func FuzzTagRules(f *testing.F) {
	for _, s := range []struct{ tags, flavor string }{
		{"", ""},
		{"type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}", "latest=auto"},
		{"type=pep440,pattern={{major}}.{{minor}}.{{patch}}", "prefix=py-,onlatest=true"},
		{`type=match,"pattern=/^v(\d+)$/i",group=1`, "suffix=-slim,onlatest=true"},
		{"type=schedule,pattern={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", ""},
		{"type=edge,branch=dev\ntype=ref,event=branch\ntype=ref,event=tag\ntype=ref,event=pr", "latest=false"},
		{"type=raw,value={{branch}}-{{sha}},enable={{is_default_branch}},priority=1000", "prefix={{base_ref}}-"},
		{"type=sha,format=long,prefix=,suffix=-{{commit_date}}", ""},
		{"latest, 1.2.3\nghcr.io/acme/widget:1.2", ""},
		{"latest 1.2.3\t1.2, ghcr.io/acme/widget:1 ghcr.io/acme/widget:2\nlatest type=sha", ""},
		{"type=raw,value=\\{{branch}}{{{tag}}}", "suffix=-a=b"},
		{"type=foo", "latest=maybe"},
		{"type=raw,value=\x00\r\x1b[2J", "prefix=\u202e"},
		{strings.Repeat("type=raw,value=a\n", 200), ""},
		{"type=raw,value=" + strings.Repeat("{{sha}}", 200), ""},
	} {
		f.Add(s.tags, s.flavor)
	}
	image := name.MustParseReference("ghcr.io/acme/widget").Context()
	contexts := []Context{ctxTag("v1.2.3"), ctxTag("v2.0.0-rc.1+b"), ctxTag("1.0dev4"), ctxBranch("feature/Ünïcode#1"), ctxPR(), ctxSchedule(), ctxMergeQueue(), {}}
	f.Fuzz(func(t *testing.T, tags, flavor string) {
		tr, err := Parse(tags, flavor, image)
		if err != nil {
			checkInputErrors(t, err)
			return
		}
		for _, c := range contexts {
			v, err := tr.Evaluate(c)
			if err != nil {
				checkInputErrors(t, err)
				continue
			}
			seen := map[string]bool{}
			for _, tag := range v.Tags() {
				if !tagGrammar.MatchString(tag) {
					t.Fatalf("tags %.200q flavor %.200q in %s: emitted invalid tag %.200q", tags, flavor, c.Ref, tag)
				}
				if seen[tag] {
					t.Fatalf("tags %.200q: tag %q emitted twice", tags, tag)
				}
				seen[tag] = true
			}
			if (v.Main == "") != (len(v.Tags()) == 0) {
				t.Fatalf("Main %q but tags %q", v.Main, v.Tags())
			}
			for _, w := range v.Warnings {
				if strings.ContainsAny(w, "\n\r") {
					t.Fatalf("warning %.200q spans lines", w)
				}
			}
		}
	})
}

// tagGrammar is the distribution spec's tag grammar, written out here rather
// than taken from inputs.ValidTag so that the test checks the engine, not
// itself.
var tagGrammar = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

func checkInputErrors(t *testing.T, err error) {
	t.Helper()
	errs := inputs.Errors(err)
	if len(errs) == 0 {
		t.Fatalf("error %T %.200q is not an *inputs.Error", err, err)
	}
	for _, e := range errs {
		if e.Input != "tags" && e.Input != "flavor" {
			t.Errorf("error for input %q, want tags or flavor: %.200q", e.Input, e.Msg)
		}
		if e.Msg == "" || strings.ContainsAny(e.Msg, "\n\r") || len(e.Msg) > 600 {
			t.Errorf("error message not one short line: %.300q", e.Msg)
		}
	}
}
