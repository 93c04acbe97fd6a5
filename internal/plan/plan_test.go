package plan_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
)

const sha = githubtest.SHA

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// widgetInfo is what the API says about Acme/Widget
// (testdata/github/repos/acme/widget.json and its commit).
func widgetInfo() githubapi.Info {
	return githubapi.Info{
		Name:        "Widget",
		FullName:    "Acme/Widget",
		Description: "Widget builds and serves widgets for the Acme platform.",
		HTMLURL:     "https://github.com/Acme/Widget",
		License:     "MIT",
		OwnerType:   "Organization",
		CommitTime:  at("2026-10-30T14:15:16Z"),
	}
}

// tagPush is a tag push of Acme/Widget publishing an OCI layout to
// ghcr.io/acme/widget, with no explicit metadata and no commit time in the
// context.
func tagPush(t *testing.T) inputs.Inputs {
	t.Helper()
	repo, err := name.NewRepository("ghcr.io/acme/widget", name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return inputs.Inputs{
		Sources:      []*inputs.Source{{Line: "oci:out", Transport: inputs.OCILayout, Path: "/workspace/out"}},
		Image:        repo,
		ImageDerived: true,
		Push:         true,
		Context: inputs.Context{
			ServerURL: "https://github.com",
			APIURL:    "https://api.github.com",
			Owner:     "Acme",
			Repo:      "Widget",
			OwnerType: "Organization",
			SHA:       sha,
			Ref:       "refs/tags/v1.2.3",
			EventName: "push",
		},
	}
}

func entry(key, value string, origin plan.Origin) plan.Entry {
	return plan.Entry{Key: key, Value: value, Origin: origin}
}

// result is the part of a Plan compared exactly; notices and warnings are
// checked by what they mention, so rewording them does not break tests.
type result struct {
	Image        string
	Tags         []string
	Labels       []plan.Entry
	RemoveLabels []string
	Annotations  []plan.Entry
}

func resultOf(p plan.Plan) result {
	r := result{
		Image:        p.Image.String(),
		Labels:       p.Labels,
		RemoveLabels: p.RemoveLabels,
		Annotations:  p.Annotations,
	}
	for _, t := range p.Tags {
		r.Tags = append(r.Tags, t.String())
	}
	return r
}

// checkMessages fails unless each of got contains the matching want
// substring, in order, and there are as many of each.
func checkMessages(t *testing.T, kind string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("Make() %s = %q, want %d mentioning %q", kind, got, len(want), want)
		return
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("Make() %s[%d] = %q, want it to mention %q", kind, i, got[i], want[i])
		}
	}
}

const noCreated = "no commit time is known"

func TestMake(t *testing.T) {
	t.Parallel()
	// The labels of a tag push of Acme/Widget with everything the API knows.
	var (
		created     = entry(specs.AnnotationCreated, "2026-10-30T14:15:16Z", plan.FromRepository)
		description = entry(specs.AnnotationDescription, "Widget builds and serves widgets for the Acme platform.", plan.FromRepository)
		licenses    = entry(specs.AnnotationLicenses, "MIT", plan.FromRepository)
		revision    = entry(specs.AnnotationRevision, sha, plan.FromContext)
		source      = entry(specs.AnnotationSource, "https://github.com/Acme/Widget", plan.FromContext)
		title       = entry(specs.AnnotationTitle, "Widget", plan.FromRepository)
		url         = entry(specs.AnnotationURL, "https://github.com/Acme/Widget", plan.FromRepository)
		version     = entry(specs.AnnotationVersion, "v1.2.3", plan.FromContext)
	)
	tests := []struct {
		name         string
		edit         func(*inputs.Inputs)
		info         githubapi.Info
		want         result
		wantNotices  []string
		wantWarnings []string
	}{{
		name: "tag push with the API's answer",
		info: widgetInfo(),
		want: result{
			Image:  "ghcr.io/acme/widget",
			Tags:   []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{created, description, licenses, revision, source, title, url, version},
		},
	}, {
		name: "API names the repository differently from the context",
		edit: func(in *inputs.Inputs) { in.Context.Owner, in.Context.Repo = "acme", "widget" },
		info: widgetInfo(),
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{
				created, description, licenses, revision,
				// source is always the context's: it is what links the
				// package to the repository the workflow runs in.
				entry(specs.AnnotationSource, "https://github.com/acme/widget", plan.FromContext),
				title, url, version,
			},
		},
	}, {
		name: "no answer from the API",
		info: githubapi.Info{},
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{
				revision, source,
				entry(specs.AnnotationTitle, "Widget", plan.FromContext),
				entry(specs.AnnotationURL, "https://github.com/Acme/Widget", plan.FromContext),
				version,
			},
		},
		wantWarnings: []string{noCreated},
	}, {
		name: "GitHub Enterprise Server",
		edit: func(in *inputs.Inputs) {
			in.Context.ServerURL = "https://github.example.com"
			in.Context.Ref = "refs/heads/main"
		},
		info: githubapi.Info{},
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:main"},
			Labels: []plan.Entry{
				revision,
				entry(specs.AnnotationSource, "https://github.example.com/Acme/Widget", plan.FromContext),
				entry(specs.AnnotationTitle, "Widget", plan.FromContext),
				entry(specs.AnnotationURL, "https://github.example.com/Acme/Widget", plan.FromContext),
				entry(specs.AnnotationVersion, "main", plan.FromContext),
			},
		},
		wantWarnings: []string{noCreated},
	}, {
		name: "SOURCE_DATE_EPOCH wins over the event and the API",
		edit: func(in *inputs.Inputs) {
			in.Context.SourceDateEpoch = at("2024-01-02T03:04:05Z")
			in.Context.CommitTime = at("2025-01-01T00:00:00Z")
		},
		info: widgetInfo(),
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{
				entry(specs.AnnotationCreated, "2024-01-02T03:04:05Z", plan.FromContext),
				description, licenses, revision, source, title, url, version,
			},
		},
	}, {
		name: "event commit time wins over the API, in UTC",
		edit: func(in *inputs.Inputs) {
			t := time.Date(2026, 10, 30, 16, 15, 16, 999, time.FixedZone("CEST", 2*60*60))
			in.Context.CommitTime = &t
		},
		info: widgetInfo(),
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{
				entry(specs.AnnotationCreated, "2026-10-30T14:15:16Z", plan.FromContext),
				description, licenses, revision, source, title, url, version,
			},
		},
	}, {
		name: "API commit time in another zone is written in UTC",
		info: func() githubapi.Info {
			i := widgetInfo()
			t := time.Date(2026, 10, 30, 9, 15, 16, 0, time.FixedZone("EST", -5*60*60))
			i.CommitTime = &t
			return i
		}(),
		want: result{
			Image:  "ghcr.io/acme/widget",
			Tags:   []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{created, description, licenses, revision, source, title, url, version},
		},
	}, {
		name: "empty values are never stamped",
		edit: func(in *inputs.Inputs) {
			in.Context = inputs.Context{ServerURL: "https://github.com"}
			in.Tags = "1.0"
		},
		info: githubapi.Info{Name: "", Description: "", License: "", HTMLURL: ""},
		want: result{
			Image:  "ghcr.io/acme/widget",
			Tags:   []string{"ghcr.io/acme/widget:1.0"},
			Labels: []plan.Entry{entry(specs.AnnotationVersion, "1.0", plan.FromContext)},
		},
		wantWarnings: []string{noCreated},
	}, {
		name: "licenses: NOASSERTION removes the license",
		edit: func(in *inputs.Inputs) { in.Licenses = inputs.Optional{Set: true} },
		info: widgetInfo(),
		want: result{
			Image:        "ghcr.io/acme/widget",
			Tags:         []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels:       []plan.Entry{created, description, revision, source, title, url, version},
			RemoveLabels: []string{specs.AnnotationLicenses},
		},
	}, {
		name: "licenses: NOASSERTION and an empty licenses label remove it once",
		edit: func(in *inputs.Inputs) {
			in.Licenses = inputs.Optional{Set: true}
			in.Labels = []inputs.KeyValue{{Key: specs.AnnotationLicenses, Value: ""}}
		},
		info: widgetInfo(),
		want: result{
			Image:        "ghcr.io/acme/widget",
			Tags:         []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels:       []plan.Entry{created, description, revision, source, title, url, version},
			RemoveLabels: []string{specs.AnnotationLicenses},
		},
	}, {
		// A key both set and removed would be reported but not stamped.
		name: "a licenses label wins over licenses: NOASSERTION",
		edit: func(in *inputs.Inputs) {
			in.Licenses = inputs.Optional{Set: true}
			in.Labels = []inputs.KeyValue{{Key: specs.AnnotationLicenses, Value: "BSD-3-Clause"}}
		},
		info: widgetInfo(),
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{
				created, description,
				entry(specs.AnnotationLicenses, "BSD-3-Clause", plan.FromInput),
				revision, source, title, url, version,
			},
		},
	}, {
		name: "explicit inputs win",
		edit: func(in *inputs.Inputs) {
			in.Description = inputs.Optional{Value: "Widgets, served.", Set: true}
			in.Licenses = inputs.Optional{Value: "Apache-2.0 OR MIT", Set: true}
			in.SourceURL = inputs.Optional{Value: "https://github.com/Acme/widget-monorepo", Set: true}
			in.Labels = []inputs.KeyValue{
				{Key: specs.AnnotationTitle, Value: "Widget server"},
				{Key: "com.example.team", Value: "platform"},
				{Key: specs.AnnotationURL, Value: ""},
				{Key: "com.example.stale", Value: ""},
			}
			in.Annotations = []inputs.KeyValue{
				{Key: "com.example.z", Value: "last"},
				{Key: "com.example.a", Value: "first"},
			}
			in.Warnings = []*inputs.Error{{Input: "source-url", Msg: "ends in .git"}}
		},
		info: widgetInfo(),
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{
				entry("com.example.team", "platform", plan.FromInput),
				created,
				entry(specs.AnnotationDescription, "Widgets, served.", plan.FromInput),
				entry(specs.AnnotationLicenses, "Apache-2.0 OR MIT", plan.FromInput),
				revision,
				entry(specs.AnnotationSource, "https://github.com/Acme/widget-monorepo", plan.FromInput),
				entry(specs.AnnotationTitle, "Widget server", plan.FromInput),
				version,
			},
			RemoveLabels: []string{"com.example.stale", specs.AnnotationURL},
			Annotations: []plan.Entry{
				entry("com.example.a", "first", plan.FromInput),
				entry("com.example.z", "last", plan.FromInput),
			},
		},
		wantWarnings: []string{".git"},
	}, {
		name: "explicit created label: no warning",
		edit: func(in *inputs.Inputs) {
			in.Labels = []inputs.KeyValue{{Key: specs.AnnotationCreated, Value: "2020-02-02T02:02:02Z"}}
		},
		info: githubapi.Info{},
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{
				entry(specs.AnnotationCreated, "2020-02-02T02:02:02Z", plan.FromInput),
				revision, source,
				entry(specs.AnnotationTitle, "Widget", plan.FromContext),
				entry(specs.AnnotationURL, "https://github.com/Acme/Widget", plan.FromContext),
				version,
			},
		},
	}, {
		name: "created removed on purpose: no warning",
		edit: func(in *inputs.Inputs) {
			in.Labels = []inputs.KeyValue{{Key: specs.AnnotationCreated, Value: ""}}
		},
		info: widgetInfo(),
		want: result{
			Image:        "ghcr.io/acme/widget",
			Tags:         []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels:       []plan.Entry{description, licenses, revision, source, title, url, version},
			RemoveLabels: []string{specs.AnnotationCreated},
		},
	}, {
		name: "explicit tags: version is the first that is not latest, latest goes last",
		edit: func(in *inputs.Inputs) { in.Tags = "latest\n1.2.3\n1.2\n1" },
		info: widgetInfo(),
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags: []string{
				"ghcr.io/acme/widget:1.2.3", "ghcr.io/acme/widget:1.2",
				"ghcr.io/acme/widget:1", "ghcr.io/acme/widget:latest",
			},
			Labels: []plan.Entry{
				created, description, licenses, revision, source, title, url,
				entry(specs.AnnotationVersion, "1.2.3", plan.FromContext),
			},
		},
	}, {
		// With nothing better, latest is all there is to say.
		name: "only latest",
		edit: func(in *inputs.Inputs) { in.Tags = "latest" },
		info: widgetInfo(),
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{
				created, description, licenses, revision, source, title, url,
				entry(specs.AnnotationVersion, "latest", plan.FromContext),
			},
		},
	}, {
		name: "branch push derives a sanitised tag",
		edit: func(in *inputs.Inputs) { in.Context.Ref = "refs/heads/feature/Foo_bar" },
		info: widgetInfo(),
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:feature-Foo_bar"},
			Labels: []plan.Entry{
				created, description, licenses, revision, source, title, url,
				entry(specs.AnnotationVersion, "feature-Foo_bar", plan.FromContext),
			},
		},
	}, {
		name: "pull request",
		edit: func(in *inputs.Inputs) {
			in.Context.Ref = "refs/pull/42/merge"
			in.Context.EventName = "pull_request"
		},
		info: widgetInfo(),
		want: result{
			Image: "ghcr.io/acme/widget",
			Tags:  []string{"ghcr.io/acme/widget:pr-42"},
			Labels: []plan.Entry{
				created, description, licenses, revision, source, title, url,
				entry(specs.AnnotationVersion, "pr-42", plan.FromContext),
			},
		},
	}, {
		name: "metadata only with no tag to derive",
		edit: func(in *inputs.Inputs) {
			in.Sources = nil
			in.Context.Ref = ""
		},
		info: widgetInfo(),
		want: result{
			Image:  "ghcr.io/acme/widget",
			Labels: []plan.Entry{created, description, licenses, revision, source, title, url},
		},
	}, {
		name: "dry run with no tag to derive",
		edit: func(in *inputs.Inputs) {
			in.Push = false
			in.Context.Ref = "refs/remotes/origin/main"
		},
		info: widgetInfo(),
		want: result{
			Image:  "ghcr.io/acme/widget",
			Labels: []plan.Entry{created, description, licenses, revision, source, title, url},
		},
	}, {
		name: "lower-cased image name",
		edit: func(in *inputs.Inputs) { in.ImageLowercased = true },
		info: widgetInfo(),
		want: result{
			Image:  "ghcr.io/acme/widget",
			Tags:   []string{"ghcr.io/acme/widget:v1.2.3", "ghcr.io/acme/widget:latest"},
			Labels: []plan.Entry{created, description, licenses, revision, source, title, url, version},
		},
		wantNotices: []string{"ghcr.io/acme/widget"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tagPush(t)
			if tc.edit != nil {
				tc.edit(&in)
			}
			p, err := plan.Make(in, tc.info)
			if err != nil {
				t.Fatalf("Make() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, resultOf(p), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Make() mismatch (-want +got):\n%s", diff)
			}
			checkMessages(t, "notices", p.Notices, tc.wantNotices)
			checkMessages(t, "warnings", warningTexts(p.Warnings), tc.wantWarnings)
		})
	}
}

func TestMakeNoTag(t *testing.T) {
	t.Parallel()
	for _, ref := range []string{
		"",
		"refs/remotes/origin/main",
		"refs/heads/---",
	} {
		t.Run(ref, func(t *testing.T) {
			t.Parallel()
			in := tagPush(t)
			in.Context.Ref = ref
			p, err := plan.Make(in, widgetInfo())
			var ierr *inputs.Error
			if !errors.As(err, &ierr) {
				t.Fatalf("Make() = %+v, %v; want an *inputs.Error", p, err)
			}
			if ierr.Input != "tags" {
				t.Errorf("Make() error names input %q, want %q (error: %v)", ierr.Input, "tags", err)
			}
			if !strings.Contains(ierr.Msg, "add a rule that fires here") {
				t.Errorf("Make() error = %q, want it to say to add a rule", ierr.Msg)
			}
			if diff := cmp.Diff(result{}, resultOf(p), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Make() plan with an error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// longDescription is the fixture whose description is 600 characters, with
// multi-byte characters where a byte cut at 512 would land.
func longDescription(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../testdata/github/repos/acme/long-description.json")
	if err != nil {
		t.Fatal(err)
	}
	var repo struct{ Description string }
	if err := json.Unmarshal(data, &repo); err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(repo.Description); n <= inputs.MaxDescription {
		t.Fatalf("fixture description has %d characters; want more than %d", n, inputs.MaxDescription)
	}
	return repo.Description
}

func TestMakeLongDescription(t *testing.T) {
	t.Parallel()
	long := longDescription(t)
	tests := []struct {
		name         string
		description  string
		input        inputs.Optional
		want         plan.Entry
		wantWarnings []string
	}{{
		name:        "cut at a character boundary",
		description: long,
		want: entry(specs.AnnotationDescription,
			string([]rune(long)[:inputs.MaxDescription]), plan.FromRepository),
		wantWarnings: []string{"longer than 512 characters"},
	}, {
		name:        "built of multi-byte characters",
		description: strings.Repeat("é", 400) + strings.Repeat("🚀", 200),
		want: entry(specs.AnnotationDescription,
			strings.Repeat("é", 400)+strings.Repeat("🚀", 112), plan.FromRepository),
		wantWarnings: []string{"longer than 512 characters"},
	}, {
		name:        "exactly the limit is kept",
		description: strings.Repeat("ü", inputs.MaxDescription),
		want: entry(specs.AnnotationDescription,
			strings.Repeat("ü", inputs.MaxDescription), plan.FromRepository),
	}, {
		name:        "description input replaces it without a warning",
		description: long,
		input:       inputs.Optional{Value: "Short.", Set: true},
		want:        entry(specs.AnnotationDescription, "Short.", plan.FromInput),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tagPush(t)
			in.Description = tc.input
			info := widgetInfo()
			info.Description = tc.description
			p, err := plan.Make(in, info)
			if err != nil {
				t.Fatalf("Make() error = %v", err)
			}
			var got plan.Entry
			for _, e := range p.Labels {
				if e.Key == specs.AnnotationDescription {
					got = e
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Make() description mismatch (-want +got):\n%s", diff)
			}
			if !utf8.ValidString(got.Value) {
				t.Errorf("Make() description is not valid UTF-8: %q", got.Value)
			}
			if n := utf8.RuneCountInString(got.Value); n > inputs.MaxDescription {
				t.Errorf("Make() description has %d characters, want at most %d", n, inputs.MaxDescription)
			}
			checkMessages(t, "warnings", warningTexts(p.Warnings), tc.wantWarnings)
		})
	}

	// The fixture's 512th character is the "é" of "appétit", after a
	// four-byte emoji that straddles byte 512.
	t.Run("fixture", func(t *testing.T) {
		t.Parallel()
		p, err := plan.Make(tagPush(t), githubapi.Info{Description: long})
		if err != nil {
			t.Fatalf("Make() error = %v", err)
		}
		var got string
		for _, e := range p.Labels {
			if e.Key == specs.AnnotationDescription {
				got = e.Value
			}
		}
		if want := "🚀 Bon appé"; !strings.HasSuffix(got, want) {
			t.Errorf("Make() description = %q, want it to end with %q", got, want)
		}
	})
}

// TestDefaultTags checks the tags an empty tags input gives for each kind of
// ref: metadata-action's default rules, with branch and tag names cleaned
// into valid tags.
func TestDefaultTags(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 200)
	// A cut at 128 bytes that ends on a separator drops the separator.
	cutAtDash := strings.Repeat("b", 127) + "/" + strings.Repeat("c", 72)
	tests := []struct {
		ref   string
		event string
		want  []string
	}{
		{"refs/tags/v1.2.3", "push", []string{"v1.2.3", "latest"}},
		{"refs/tags/v1.2.3+build.7", "push", []string{"v1.2.3-build.7", "latest"}},
		{"refs/heads/main", "push", []string{"main"}},
		{"refs/heads/main", "schedule", []string{"nightly", "main"}},
		{"refs/heads/feature/Foo_bar", "push", []string{"feature-Foo_bar"}},
		{"refs/heads/dependabot/npm_and_yarn/lodash-4.17.21", "push", []string{"dependabot-npm_and_yarn-lodash-4.17.21"}},
		{"refs/heads/feature//x y", "push", []string{"feature-x-y"}},
		{"refs/heads/fix/naïve", "push", []string{"fix-na-ve"}},
		{"refs/heads/-x", "push", []string{"x"}},
		{"refs/heads/.hidden", "push", []string{"hidden"}},
		{"refs/heads/_under", "push", []string{"_under"}},
		{"refs/heads/" + long, "push", []string{strings.Repeat("a", 128)}},
		{"refs/heads/" + cutAtDash, "push", []string{strings.Repeat("b", 127)}},
		{"refs/pull/42/merge", "pull_request", []string{"pr-42"}},
		{"refs/heads/gh-readonly-queue/main/pr-42-" + sha, "merge_group", []string{"pr-42"}},
		{"refs/heads/---", "push", nil},
		{"refs/heads/", "push", nil},
		{"refs/tags/", "push", nil},
		{"refs/remotes/origin/main", "push", nil},
		{"main", "push", nil},
		{"", "workflow_dispatch", nil},
	}
	for _, tc := range tests {
		t.Run(tc.event+" "+tc.ref, func(t *testing.T) {
			t.Parallel()
			in := tagPush(t)
			in.Sources = nil
			in.Context.Ref, in.Context.EventName = tc.ref, tc.event
			p, err := plan.Make(in, widgetInfo())
			if err != nil {
				t.Fatalf("Make() = %v", err)
			}
			var got []string
			for _, tag := range p.Tags {
				got = append(got, tag.TagStr())
				if !inputs.ValidTag(tag.TagStr()) {
					t.Errorf("tag %q is not valid", tag.TagStr())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ref %q: tags mismatch (-want +got):\n%s", tc.ref, diff)
			}
		})
	}
}

func TestNeedsCommitTime(t *testing.T) {
	t.Parallel()
	when := at("2026-10-30T14:15:16Z")
	tests := []struct {
		name string
		ctx  inputs.Context
		want bool
	}{
		{"only a sha", inputs.Context{SHA: sha}, true},
		{"event commit time", inputs.Context{SHA: sha, CommitTime: when}, false},
		{"SOURCE_DATE_EPOCH", inputs.Context{SHA: sha, SourceDateEpoch: when}, false},
		{"both", inputs.Context{SHA: sha, CommitTime: when, SourceDateEpoch: when}, false},
		{"no sha", inputs.Context{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := plan.NeedsCommitTime(tc.ctx); got != tc.want {
				t.Errorf("NeedsCommitTime(%+v) = %v, want %v", tc.ctx, got, tc.want)
			}
		})
	}
}

func TestOriginExplicit(t *testing.T) {
	t.Parallel()
	for o, want := range map[plan.Origin]bool{
		plan.FromInput:      true,
		plan.FromImage:      false,
		plan.FromRepository: false,
		plan.FromContext:    false,
	} {
		if got := o.Explicit(); got != want {
			t.Errorf("Origin(%q).Explicit() = %v, want %v", o, got, want)
		}
	}
}

// TestWarningText checks what the log shows of each warning: the input and
// the message, or the message alone for a warning about no input.
func TestWarningText(t *testing.T) {
	t.Parallel()
	in := tagPush(t)
	in.Warnings = []*inputs.Error{{Input: "source-url", Msg: "ends in .git"}}
	in.Tags = "type=semver,pattern={{version}},value=not-a-version\ntype=sha"
	repo := widgetInfo()
	repo.CommitTime = nil
	repo.Description = strings.Repeat("d", inputs.MaxDescription+1)
	p, err := plan.Make(in, repo)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"source-url: ends in .git",
		`tags: line 1 "type=semver,pattern={{version}},value=not-a-version": "not-a-version" is not a semantic version (semver.org), so this rule made no tag`,
		"description: the repository description is longer than 512 characters, the most ghcr.io shows; it was cut to fit (set description to choose the text)",
		"no commit time is known (no SOURCE_DATE_EPOCH, no head commit in the event, no answer from the API), so org.opencontainers.image.created is left out rather than set to the clock, which would change the digest on every run",
	}
	if diff := cmp.Diff(want, warningTexts(p.Warnings)); diff != "" {
		t.Errorf("warnings mismatch (-want +got):\n%s", diff)
	}
}

func warningTexts(ws []*inputs.Error) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Error())
	}
	return out
}

func tagNames(tags []name.Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, t.TagStr())
	}
	return out
}

// TestMakeTagRules checks what the tag rules feed into the plan: the tags,
// the version output and label, and the context they read.
func TestMakeTagRules(t *testing.T) {
	t.Parallel()
	semver := "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\ntype=sha"
	tests := []struct {
		name        string
		edit        func(*inputs.Inputs)
		info        githubapi.Info
		wantTags    []string
		wantVersion string
		wantWrite   []string
		revision    string
	}{{
		name:        "semver rules on a tag push",
		edit:        func(in *inputs.Inputs) { in.Tags = semver },
		wantTags:    []string{"1.2.3", "1.2", "sha-0123456", "latest"},
		wantVersion: "1.2.3",
		wantWrite:   []string{"1.2.3", "1.2", "sha-0123456", "latest"},
	}, {
		name:        "no latest: the version is written last",
		edit:        func(in *inputs.Inputs) { in.Tags, in.Flavor = semver, "latest=false" },
		wantTags:    []string{"1.2.3", "1.2", "sha-0123456"},
		wantVersion: "1.2.3",
		wantWrite:   []string{"1.2", "sha-0123456", "1.2.3"},
	}, {
		name: "push-by-digest: a version but no tag",
		edit: func(in *inputs.Inputs) {
			in.Tags, in.PushByDigest = semver, true
		},
		wantVersion: "1.2.3",
	}, {
		name: "push-by-digest with the default rules",
		edit: func(in *inputs.Inputs) {
			in.PushByDigest = true
		},
		wantVersion: "v1.2.3",
	}, {
		name: "date is SOURCE_DATE_EPOCH",
		edit: func(in *inputs.Inputs) {
			in.Tags = "type=raw,value={{date 'YYYYMMDD-HHmmss'}}"
			in.Context.SourceDateEpoch = at("2024-01-02T03:04:05Z")
			in.Context.Now = *at("2030-01-01T00:00:00Z")
		},
		wantTags: []string{"20240102-030405"}, wantVersion: "20240102-030405", wantWrite: []string{"20240102-030405"},
	}, {
		name: "date is the clock without SOURCE_DATE_EPOCH",
		edit: func(in *inputs.Inputs) {
			in.Tags = "type=raw,value={{date 'YYYYMMDD'}}-{{commit_date 'YYYYMMDD'}}"
			in.Context.Now = *at("2030-01-01T00:00:00Z")
		},
		info:     widgetInfo(),
		wantTags: []string{"20300101-20261030"}, wantVersion: "20300101-20261030", wantWrite: []string{"20300101-20261030"},
	}, {
		name: "edge on the API's default branch",
		edit: func(in *inputs.Inputs) {
			in.Tags = "type=edge"
			in.Context.Ref = "refs/heads/trunk"
		},
		info:     githubapi.Info{DefaultBranch: "trunk"},
		wantTags: []string{"edge"}, wantVersion: "edge", wantWrite: []string{"edge"},
	}, {
		name: "pull_request_target sees the pull request",
		edit: func(in *inputs.Inputs) {
			in.Context.EventName, in.Context.Ref = "pull_request_target", "refs/heads/main"
			in.Context.Event.PRNumber = 7
		},
		wantTags: []string{"pr-7"}, wantVersion: "pr-7", wantWrite: []string{"pr-7"},
	}, {
		name: "DOCKER_METADATA_PR_HEAD_SHA names the head commit",
		edit: func(in *inputs.Inputs) {
			in.Tags = "type=sha\ntype=raw,value={{branch}}"
			in.Context.EventName, in.Context.Ref = "pull_request", "refs/pull/7/merge"
			in.Context.Event = inputs.EventInfo{PRNumber: 7, PRHeadRef: "fix/x", PRHeadSHA: "fedcba9876543210fedcba9876543210fedcba98", UsePRHeadSHA: true}
		},
		wantTags: []string{"fix-x", "sha-fedcba9"}, wantVersion: "fix-x", wantWrite: []string{"sha-fedcba9", "fix-x"},
		revision: "fedcba9876543210fedcba9876543210fedcba98",
	}, {
		name: "references from metadata-action's output",
		edit: func(in *inputs.Inputs) {
			in.Tags = "ghcr.io/acme/widget:1.2.3\nghcr.io/acme/widget:1.2\nghcr.io/acme/widget:latest"
		},
		wantTags: []string{"1.2.3", "1.2", "latest"}, wantVersion: "1.2.3", wantWrite: []string{"1.2.3", "1.2", "latest"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tagPush(t)
			tc.edit(&in)
			p, err := plan.Make(in, tc.info)
			if err != nil {
				t.Fatalf("Make() = %v", err)
			}
			if diff := cmp.Diff(tc.wantTags, tagNames(p.Tags)); diff != "" {
				t.Errorf("tags mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWrite, tagNames(p.WriteOrder())); diff != "" {
				t.Errorf("write order mismatch (-want +got):\n%s", diff)
			}
			if p.Version != tc.wantVersion {
				t.Errorf("Version = %q, want %q", p.Version, tc.wantVersion)
			}
			labels := map[string]string{}
			for _, e := range p.Labels {
				labels[e.Key] = e.Value
			}
			if labels[specs.AnnotationVersion] != tc.wantVersion {
				t.Errorf("version label = %q, want %q", labels[specs.AnnotationVersion], tc.wantVersion)
			}
			wantRev := tc.revision
			if wantRev == "" {
				wantRev = sha
			}
			if labels[specs.AnnotationRevision] != wantRev {
				t.Errorf("revision label = %q, want %q", labels[specs.AnnotationRevision], wantRev)
			}
		})
	}
}

// TestWithRegistryTags checks latest=auto against the tags already in the
// registry: latest goes only to the highest release.
func TestWithRegistryTags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ref      string
		tags     string
		flavor   string
		existing []string
		needs    bool
		want     []string
		notice   string
	}{
		{name: "first release", ref: "refs/tags/v1.0.0", tags: "type=semver,pattern={{version}}", needs: true, want: []string{"1.0.0", "latest"}},
		{name: "newer release", ref: "refs/tags/v2.1.0", tags: "type=semver,pattern={{version}}", existing: []string{"latest", "2.0.1", "2.0", "1.9.0", "sha-abc"}, needs: true, want: []string{"2.1.0", "latest"}},
		{name: "backport keeps latest where it is", ref: "refs/tags/v1.9.1", tags: "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}", existing: []string{"latest", "2.0.1", "2.0", "1.9.0", "1.9"}, needs: true, want: []string{"1.9.1", "1.9"}, notice: "2.0.1, a higher version than 1.9.1"},
		{name: "a re-run of the same release", ref: "refs/tags/v2.0.1", tags: "type=semver,pattern={{version}}", existing: []string{"latest", "2.0.1"}, needs: true, want: []string{"2.0.1", "latest"}},
		{name: "higher prereleases do not count", ref: "refs/tags/v1.9.1", tags: "type=semver,pattern={{version}}", existing: []string{"2.0.0-rc.1", "1.9.0"}, needs: true, want: []string{"1.9.1", "latest"}},
		{name: "v-prefixed git tags from type=ref", ref: "refs/tags/v1.9.1", tags: "", existing: []string{"v2.0.0", "latest"}, needs: true, want: []string{"v1.9.1"}, notice: "v2.0.0"},
		{name: "flavor suffix stripped", ref: "refs/tags/v1.9.1", tags: "type=semver,pattern={{version}}", flavor: "suffix=-slim,onlatest=true", existing: []string{"2.0.0-slim", "latest-slim"}, needs: true, want: []string{"1.9.1-slim"}, notice: "latest-slim stays"},
		{name: "match rule giving a version", ref: "refs/tags/release-1.2.0", tags: `type=match,pattern=\d+\.\d+\.\d+`, existing: []string{"1.3.0"}, needs: true, want: []string{"1.2.0"}, notice: "1.3.0"},
		{name: "latest=true moves it anyway", ref: "refs/tags/v1.9.1", tags: "type=semver,pattern={{version}}", flavor: "latest=true", existing: []string{"2.0.0"}, needs: false, want: []string{"1.9.1", "latest"}},
		{name: "not a version: no check", ref: "refs/tags/20200110-RC2", tags: `type=match,pattern=\d{8}`, existing: []string{"99999999"}, needs: false, want: []string{"20200110", "latest"}},
		{name: "explicit latest: no check", ref: "refs/tags/v1.9.1", tags: "1.9.1\nlatest", existing: []string{"2.0.0"}, needs: false, want: []string{"1.9.1", "latest"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tagPush(t)
			in.Context.Ref, in.Tags, in.Flavor = tc.ref, tc.tags, tc.flavor
			p, err := plan.Make(in, widgetInfo())
			if err != nil {
				t.Fatalf("Make() = %v", err)
			}
			if got := p.NeedsRegistryTags(); got != tc.needs {
				t.Errorf("NeedsRegistryTags() = %v, want %v", got, tc.needs)
			}
			before := len(p.Notices)
			p = p.WithRegistryTags(tc.existing)
			if diff := cmp.Diff(tc.want, tagNames(p.Tags)); diff != "" {
				t.Errorf("tags mismatch (-want +got):\n%s", diff)
			}
			notices := strings.Join(p.Notices[before:], "\n")
			if tc.notice == "" && notices != "" || !strings.Contains(notices, tc.notice) {
				t.Errorf("notices %q, want mention of %q", notices, tc.notice)
			}
		})
	}
}

// TestExpressionsInLabels checks that labels and annotations take the tag
// rules' expressions, as docker/metadata-action's do.
func TestExpressionsInLabels(t *testing.T) {
	t.Parallel()
	in := tagPush(t)
	in.Context.EventName, in.Context.Ref = "pull_request", "refs/pull/7/merge"
	in.Context.Event = inputs.EventInfo{PRNumber: 7, PRHeadRef: "fix/x", PRBaseRef: "main"}
	in.Labels = []inputs.KeyValue{{Key: "com.example.branch", Value: "{{branch}}@{{sha}}"}, {Key: "com.example.tag", Value: "{{tag}}"}, {Key: "com.example.literal", Value: `\{{not an expression}}`}}
	in.Annotations = []inputs.KeyValue{{Key: "com.example.base", Value: "{{base_ref}}"}}
	p, err := plan.Make(in, widgetInfo())
	if err != nil {
		t.Fatalf("Make() = %v", err)
	}
	labels := map[string]string{}
	for _, e := range p.Labels {
		labels[e.Key] = e.Value
	}
	if labels["com.example.branch"] != "fix/x@0123456" || labels["com.example.literal"] != "{{not an expression}}" {
		t.Errorf("labels = %v", labels)
	}
	if _, ok := labels["com.example.tag"]; ok || slices.Contains(p.RemoveLabels, "com.example.tag") {
		t.Errorf("a label that expands to nothing is set or removed: %v, remove %v", labels, p.RemoveLabels)
	}
	if len(p.Annotations) != 1 || p.Annotations[0].Value != "main" {
		t.Errorf("annotations = %v", p.Annotations)
	}

	in.Labels = []inputs.KeyValue{{Key: "k", Value: "{{brnch}}"}}
	_, err = plan.Make(in, widgetInfo())
	if errs := inputs.Errors(err); len(errs) != 1 || errs[0].Input != "labels" || !strings.Contains(errs[0].Msg, "{{brnch}} is not an expression") {
		t.Errorf("Make() with {{brnch}} = %v, want a labels error", err)
	}
}
