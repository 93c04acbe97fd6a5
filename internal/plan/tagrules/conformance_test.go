package tagrules

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
)

// metaCase is one case of docker/metadata-action's __tests__/meta.test.ts,
// extracted by testdata/metadata-action/extract.mjs with the fields of its
// event fixture that the rules read.
type metaCase struct {
	Group   string `json:"group"`
	Name    string `json:"name"`
	Env     string `json:"env"`
	Context struct {
		Event         string `json:"event"`
		Ref           string `json:"ref"`
		SHA           string `json:"sha"`
		DefaultBranch string `json:"default_branch"`
		BaseRef       string `json:"base_ref"`
		PRNumber      int    `json:"pr_number"`
		PRBaseRef     string `json:"pr_base_ref"`
		PRHeadRef     string `json:"pr_head_ref"`
		PRHeadSHA     string `json:"pr_head_sha"`
		PRHeadSHAEnv  bool   `json:"pr_head_sha_env"`
	} `json:"context"`
	Images  []string `json:"images"`
	Tags    []string `json:"tags"`
	Flavor  []string `json:"flavor"`
	Version struct {
		Main    string   `json:"main"`
		Partial []string `json:"partial"`
		Latest  bool     `json:"latest"`
	} `json:"version"`
	WantTags []string `json:"want_tags"`
}

// metaTime is the instant meta.test.ts mocks both the clock and the commit
// date to.
var metaTime = time.Date(2020, 1, 10, 0, 30, 0, 0, time.UTC)

func loadMetaCases(t *testing.T) []metaCase {
	t.Helper()
	b, err := os.ReadFile("testdata/metadata-action/meta-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []metaCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

// tagContext builds what metadata-action's getContext gives the rules
// (src/context.ts:60-83): repo.json's default branch is master.
func (mc metaCase) tagContext() Context {
	c := mc.Context
	tc := Context{
		EventName: c.Event, Ref: c.Ref, SHA: c.SHA,
		DefaultBranch: c.DefaultBranch, RepoDefaultBranch: "master",
		BaseRef: c.BaseRef, PRBaseRef: c.PRBaseRef, PRHeadRef: c.PRHeadRef,
		Now: metaTime, CommitDate: metaTime,
	}
	if strings.Contains(c.Event, "pull_request_target") {
		tc.Ref = "refs/pull/" + strconv.Itoa(c.PRNumber) + "/merge"
	}
	if c.PRHeadSHAEnv && strings.Contains(c.Event, "pull_request") && c.PRHeadSHA != "" {
		tc.SHA = c.PRHeadSHA
	}
	return tc
}

// difference is where this engine deliberately gives another answer than
// metadata-action for one of its cases; the README lists each.
type difference struct {
	why      string
	main     string
	partial  []string
	latest   bool
	tags     []string
	errorHas string
}

var differences = map[string]difference{
	"tag/tag18": {
		why:      "a match group the pattern does not have is a mistake in the rule: an error before anything is pushed, not a warning on every run",
		errorHas: "group=3, but the pattern has 1 capture groups",
	},
}

// TestMetadataActionCases runs every tag case of metadata-action's test
// suite through the engine and expects its answer, except for the
// documented differences.
func TestMetadataActionCases(t *testing.T) {
	t.Parallel()
	cases := loadMetaCases(t)
	if len(cases) < 100 {
		t.Fatalf("loaded %d cases, want the 114 of meta.test.ts", len(cases))
	}
	for _, mc := range cases {
		t.Run(mc.Group+"/"+mc.Name, func(t *testing.T) {
			t.Parallel()
			image := name.MustParseReference("ghcr.io/x/y").Context()
			tr, err := Parse(strings.Join(mc.Tags, "\n"), strings.Join(mc.Flavor, "\n"), image)
			d, isDiff := differences[mc.Group+"/"+mc.Name]
			if err == nil {
				var v Version
				v, err = tr.Evaluate(mc.tagContext())
				if err == nil {
					want := Version{Main: mc.Version.Main, Partial: mc.Version.Partial, Latest: mc.Version.Latest}
					if isDiff && d.errorHas == "" {
						want = Version{Main: d.main, Partial: d.partial, Latest: d.latest}
					}
					got := Version{Main: v.Main, Partial: v.Partial, Latest: v.Latest}
					if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Version{})); diff != "" {
						t.Errorf("%s (%s) tags %q flavor %q: version mismatch (-want +got):\n%s", mc.Name, mc.Env, mc.Tags, mc.Flavor, diff)
					}
					wantTags := mc.WantTags
					if isDiff && d.errorHas == "" {
						wantTags = d.tags
					}
					var gotTags []string
					images := mc.Images
					for _, img := range images {
						// name=…,enable=false turns an image off (src/image.ts).
						if strings.Contains(img, "enable=false") {
							continue
						}
						img = strings.TrimPrefix(strings.Split(img, ",")[0], "name=")
						for _, tag := range v.Tags() {
							gotTags = append(gotTags, strings.ToLower(img)+":"+tag)
						}
					}
					if len(images) == 0 {
						gotTags = v.Tags()
					}
					if diff := cmp.Diff(wantTags, gotTags, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("%s: tags mismatch (-want +got):\n%s", mc.Name, diff)
					}
				}
			}
			switch {
			case err != nil && !(isDiff && d.errorHas != "" && strings.Contains(err.Error(), d.errorHas)):
				t.Errorf("%s tags %q flavor %q: %v", mc.Name, mc.Tags, mc.Flavor, err)
			case err == nil && isDiff && d.errorHas != "":
				t.Errorf("%s: no error, want one mentioning %q (%s)", mc.Name, d.errorHas, d.why)
			}
		})
	}
}
