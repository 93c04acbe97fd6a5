package tagrules

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

const ruleSHA = "860c1904a1ce19322e91ac35af1ab07466440c37"

// Contexts the rule tests run in, named after metadata-action's fixtures.
func ctxTag(tag string) Context {
	return Context{EventName: "push", Ref: "refs/tags/" + tag, SHA: ruleSHA, DefaultBranch: "main", RepoDefaultBranch: "main", Now: metaTime, CommitDate: metaTime}
}

func ctxBranch(branch string) Context {
	return Context{EventName: "push", Ref: "refs/heads/" + branch, SHA: ruleSHA, DefaultBranch: "main", RepoDefaultBranch: "main", Now: metaTime, CommitDate: metaTime}
}

func ctxPR() Context {
	return Context{EventName: "pull_request", Ref: "refs/pull/15/merge", SHA: ruleSHA, DefaultBranch: "main", RepoDefaultBranch: "main", PRBaseRef: "main", PRHeadRef: "feature/login", Now: metaTime, CommitDate: metaTime}
}

func ctxSchedule() Context {
	c := ctxBranch("main")
	c.EventName = "schedule"
	return c
}

func ctxMergeQueue() Context {
	return Context{EventName: "merge_group", Ref: "refs/heads/gh-readonly-queue/main/pr-42-" + ruleSHA, BaseRef: "refs/heads/main", SHA: ruleSHA, DefaultBranch: "main", RepoDefaultBranch: "main", Now: metaTime, CommitDate: metaTime}
}

// TestRules covers each type, attribute, expression and flavor option. The
// expected values are metadata-action's (checked against its source and
// tests) except where a case says "difference".
func TestRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tags   string
		flavor string
		ctx    Context
		want   []string // main, partials, latest
		main   string   // when it is not want[0]
		warn   string
	}{
		// schedule
		{name: "schedule default pattern", tags: "type=schedule", ctx: ctxSchedule(), want: []string{"nightly"}},
		{name: "schedule date", tags: "type=schedule,pattern={{date 'YYYYMMDD'}}", ctx: ctxSchedule(), want: []string{"20200110"}},
		{name: "schedule date tz", tags: "type=schedule,pattern={{date 'YYYYMMDD-HHmm' tz='Asia/Tokyo'}}", ctx: ctxSchedule(), want: []string{"20200110-0930"}},
		{name: "schedule commit_date", tags: "type=schedule,pattern=c{{commit_date 'YYYY.MM.DD'}}", ctx: ctxSchedule(), want: []string{"c2020.01.10"}},
		{name: "schedule only on schedule events", tags: "type=schedule\ntype=raw,value=other", ctx: ctxBranch("main"), want: []string{"other"}},

		// semver
		{name: "semver version", tags: "type=semver,pattern={{version}}", ctx: ctxTag("v1.2.3"), want: []string{"1.2.3", "latest"}},
		{name: "semver all parts", tags: "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\ntype=semver,pattern={{major}}\ntype=semver,pattern={{raw}}\ntype=semver,pattern=v{{major}}.{{minor}}.{{patch}}", ctx: ctxTag("v1.2.3"), want: []string{"1.2.3", "1.2", "1", "v1.2.3", "latest"}},
		{name: "semver prerelease keeps its full version", tags: "type=semver,pattern={{major}}.{{minor}}\ntype=semver,pattern=v{{version}}", ctx: ctxTag("v2.0.8-beta.67"), want: []string{"2.0.8-beta.67"}},
		{name: "semver prerelease raw", tags: "type=semver,pattern={{ raw }}", ctx: ctxTag("v2.0.8-beta.67"), want: []string{"v2.0.8-beta.67"}},
		{name: "semver build metadata", tags: "type=semver,pattern={{version}}\ntype=semver,pattern={{raw}}", ctx: ctxTag("v1.2.3+build.7"), want: []string{"1.2.3", "v1.2.3-build.7", "latest"}},
		{name: "semver major zero not special", tags: "type=semver,pattern={{major}}", ctx: ctxTag("v0.1.2"), want: []string{"0", "latest"}},
		{name: "semver not a version", tags: "type=semver,pattern={{version}}\ntype=ref,event=tag", ctx: ctxTag("v1.2.3rc2"), want: []string{"v1.2.3rc2", "latest"}, warn: "not a semantic version"},
		{name: "semver value on a branch", tags: "type=semver,pattern={{version}},value=v3.1.0", ctx: ctxBranch("main"), want: []string{"3.1.0", "latest"}},
		{name: "semver match", tags: `type=semver,pattern={{version}},match=p1/v(\d.\d.\d)$`, ctx: ctxTag("p1/v1.0.0"), want: []string{"1.0.0", "latest"}},
		{name: "semver match misses", tags: `type=semver,pattern={{version}},match=^x(.*)`, ctx: ctxTag("v1.0.0"), want: []string{"1.0.0", "latest"}, warn: "does not match"},
		{name: "semver quoted comma", tags: `type=semver,pattern={{version}},"match=v(\d{1,2}\.\d+\.\d+)"`, ctx: ctxTag("v10.2.3"), want: []string{"10.2.3", "latest"}},
		{name: "semver slash to dash", tags: `type=semver,pattern={{version}},value=v1.0.0/x`, ctx: ctxBranch("main"), want: []string{"1.0.0-x"}},
		{name: "semver not on a branch", tags: "type=semver,pattern={{version}}", ctx: ctxBranch("main"), want: nil},

		// pep440
		{name: "pep440 release", tags: "type=pep440,pattern={{version}}\ntype=pep440,pattern={{major}}.{{minor}}\ntype=pep440,pattern={{major}}\ntype=pep440,pattern={{raw}}\ntype=pep440,pattern={{major}}.{{minor}}.{{patch}}", ctx: ctxTag("1.2"), want: []string{"1.2", "1", "1.2.0", "latest"}},
		{name: "pep440 beta", tags: "type=pep440,pattern={{version}}\ntype=pep440,pattern={{major}}", ctx: ctxTag("1.1beta2"), want: []string{"1.1b2"}},
		{name: "pep440 dev", tags: "type=pep440,pattern={{version}}", ctx: ctxTag("1.0dev4"), want: []string{"1.0.dev4"}},
		{name: "pep440 post", tags: "type=pep440,pattern={{version}}", ctx: ctxTag("1.2post1"), want: []string{"1.2.post1"}},
		{name: "pep440 prerelease raw", tags: "type=pep440,pattern={{raw}}", ctx: ctxTag("1.2.3rc2"), want: []string{"1.2.3rc2"}},
		{name: "pep440 epoch and v", tags: "type=pep440,pattern={{version}}", ctx: ctxTag("v1!2.0"), want: []string{"1-2.0", "latest"}},
		{name: "pep440 invalid", tags: "type=pep440,pattern={{version}}", ctx: ctxTag("sometag"), want: nil, warn: "not a PEP 440 version"},

		// match
		{name: "match group", tags: `type=match,pattern=v(\d.\d.\d),group=1`, ctx: ctxTag("v1.1.1"), want: []string{"1.1.1", "latest"}},
		{name: "match whole", tags: `type=match,pattern=\d{8}`, ctx: ctxTag("20200110-RC2"), want: []string{"20200110", "latest"}},
		{name: "match regex flags", tags: `type=match,"pattern=/^RELEASE(\d+)$/i",group=1`, ctx: ctxTag("release1"), want: []string{"1", "latest"}},
		{name: "match value", tags: `type=match,pattern=v(.*),group=1,value=v9.9`, ctx: ctxBranch("main"), want: []string{"9.9", "latest"}},
		{name: "match misses", tags: `type=match,pattern=^x`, ctx: ctxTag("v1"), want: nil, warn: "does not match"},
		{name: "match optional group absent", tags: `type=match,pattern=v(\d)(-rc)?,group=2`, ctx: ctxTag("v1"), want: nil, warn: "matched nothing"},

		// edge
		{name: "edge default branch", tags: "type=edge", ctx: ctxBranch("main"), want: []string{"edge"}},
		{name: "edge other branch", tags: "type=edge", ctx: ctxBranch("dev"), want: nil},
		{name: "edge named branch", tags: "type=edge,branch=dev", ctx: ctxBranch("dev"), want: []string{"edge"}},

		// ref
		{name: "ref branch sanitised", tags: "type=ref,event=branch", ctx: ctxBranch("my/feature#1245"), want: []string{"my-feature-1245"}},
		{name: "ref branch trimmed", tags: "type=ref,event=branch", ctx: ctxBranch(".hidden/-x"), want: []string{"hidden--x"}},
		{name: "ref branch cut at 128", tags: "type=ref,event=branch", ctx: ctxBranch(strings.Repeat("b", 127) + "/" + strings.Repeat("c", 72)), want: []string{strings.Repeat("b", 127)}},
		{name: "ref branch nothing left", tags: "type=ref,event=branch", ctx: ctxBranch("---"), want: nil},
		{name: "ref tag build metadata", tags: "type=ref,event=tag", ctx: ctxTag("v1.2.3+build.7"), want: []string{"v1.2.3-build.7", "latest"}},
		{name: "ref branch keeps case", tags: "type=ref,event=branch", ctx: ctxBranch("Feature/ABC#12"), want: []string{"Feature-ABC-12"}},
		{name: "ref tag takes latest even for a prerelease", tags: "type=ref,event=tag", ctx: ctxTag("v4.0.5-rc1"), want: []string{"v4.0.5-rc1", "latest"}},
		{name: "ref pr", tags: "type=ref,event=pr", ctx: ctxPR(), want: []string{"pr-15"}},
		{name: "ref pr own prefix", tags: "type=ref,event=pr,prefix=pull-,suffix=-x", ctx: ctxPR(), want: []string{"pull-15-x"}},
		{name: "ref pr ignores flavor prefix", tags: "type=ref,event=pr", flavor: "prefix=glo-", ctx: ctxPR(), want: []string{"pr-15"}},

		// raw
		{name: "raw value", tags: "type=raw,value=stable", ctx: ctxBranch("main"), want: []string{"stable"}},
		{name: "raw bare value", tags: "type=raw,foo", ctx: ctxBranch("main"), want: []string{"foo"}},
		{name: "raw expressions", tags: "type=raw,value={{branch}}-{{sha}}-{{is_default_branch}}-{{is_not_default_branch}}", ctx: ctxBranch("main"), want: []string{"main-860c190-true-false"}},
		{name: "raw tag and base_ref", tags: "type=raw,value={{tag}}-{{base_ref}}", ctx: func() Context { c := ctxTag("v1"); c.BaseRef = "refs/heads/master"; return c }(), want: []string{"v1-master"}},
		{name: "raw date default format", tags: "type=raw,value={{date YYYY}}", ctx: ctxBranch("main"), want: []string{"2020-01-10T00-30-00Z"}},
		{name: "raw date tokens", tags: "type=raw,value={{date 'YY-M-D-H-m-s-SSS-X-[at]-ddd-MMM-Do-Q-WW'}}", ctx: ctxBranch("main"), want: []string{"20-1-10-0-30-0-000-1578616200-at-Fri-Jan-10th-1-02"}},
		{name: "raw is_default_branch on schedule", tags: "type=raw,value=d-{{is_default_branch}}", ctx: func() Context { c := ctxSchedule(); c.Ref = "refs/heads/dev"; return c }(), want: []string{"d-true"}},
		{name: "raw is_default_branch on a tag", tags: "type=raw,value=d-{{is_default_branch}}", ctx: ctxTag("v1"), want: []string{"d-false"}},
		{name: "raw latest on the default branch", tags: "type=raw,value=latest,enable={{is_default_branch}}\ntype=ref,event=branch", ctx: ctxBranch("main"), want: []string{"main", "latest"}},
		{name: "raw latest off elsewhere", tags: "type=raw,value=latest,enable={{is_default_branch}}\ntype=ref,event=branch", ctx: ctxBranch("dev"), want: []string{"dev"}},
		{name: "raw empty value skipped", tags: "type=raw,value={{tag}}\ntype=raw,value=x", ctx: ctxBranch("main"), want: []string{"x"}},

		// sha
		{name: "sha short", tags: "type=sha", ctx: ctxBranch("main"), want: []string{"sha-860c190"}},
		{name: "sha long", tags: "type=sha,format=long", ctx: ctxBranch("main"), want: []string{"sha-" + ruleSHA}},
		{name: "sha length", tags: "type=sha,prefix=", ctx: func() Context { c := ctxBranch("main"); c.ShortSHALength = 12; return c }(), want: []string{"860c1904a1ce"}},
		{name: "sha ignores flavor prefix", tags: "type=sha", flavor: "prefix=glo-", ctx: ctxBranch("main"), want: []string{"sha-860c190"}},

		// global attributes
		{name: "priority reorders", tags: "type=sha,priority=2000\ntype=semver,pattern={{version}}", ctx: ctxTag("v1.2.3"), want: []string{"sha-860c190", "1.2.3"}},
		{name: "equal priority keeps input order", tags: "type=raw,value=b\ntype=raw,value=a", ctx: ctxBranch("main"), want: []string{"b", "a"}},
		{name: "enable false", tags: "type=raw,value=a,enable=false\ntype=raw,value=b", ctx: ctxBranch("main"), want: []string{"b"}},
		{name: "duplicates dropped", tags: "type=raw,value=a\ntype=raw,value=b\ntype=raw,value=a\ntype=raw,value=b", ctx: ctxBranch("main"), want: []string{"a", "b"}},
		{name: "prefix and suffix expressions", tags: "type=raw,value=x,prefix={{branch}}-,suffix=-{{sha}}", ctx: ctxBranch("main"), want: []string{"main-x-860c190"}},
		{name: "empty prefix attribute beats flavor", tags: "type=raw,value=x,prefix=", flavor: "prefix=glo-", ctx: ctxBranch("main"), want: []string{"x"}},
		{name: "comment lines", tags: "# the version\ntype=raw,value=x", ctx: ctxBranch("main"), want: []string{"x"}},

		// flavor
		{name: "flavor latest=true on a branch", tags: "type=ref,event=branch", flavor: "latest=true", ctx: ctxBranch("dev"), want: []string{"dev", "latest"}},
		{name: "flavor latest=false on a release", tags: "type=semver,pattern={{version}}", flavor: "latest=false", ctx: ctxTag("v1.2.3"), want: []string{"1.2.3"}},
		{name: "flavor prefix and suffix", tags: "type=semver,pattern={{version}}", flavor: "prefix=app-\nsuffix=-slim", ctx: ctxTag("v1.2.3"), want: []string{"app-1.2.3-slim", "latest"}},
		{name: "flavor onlatest", tags: "type=semver,pattern={{version}}", flavor: "prefix=app-,onlatest=true\nsuffix=-slim,onlatest=true", ctx: ctxTag("v1.2.3"), want: []string{"app-1.2.3-slim", "app-latest-slim"}},
		{name: "flavor onlatest suffix only", tags: "type=semver,pattern={{version}}", flavor: "prefix=app-\nsuffix=-slim,onlatest=true", ctx: ctxTag("v1.2.3"), want: []string{"app-1.2.3-slim", "latest-slim"}},
		{name: "flavor blank prefix", tags: "type=raw,value=x", flavor: "prefix= ", ctx: ctxBranch("main"), want: []string{"x"}},
		{name: "flavor prefix expression", tags: "type=raw,value=x", flavor: "prefix={{branch}}-", ctx: ctxBranch("main"), want: []string{"main-x"}},
		{name: "first rule decides latest", tags: "type=raw,value=foo,priority=2000\ntype=semver,pattern={{version}}", ctx: ctxTag("v1.2.3"), want: []string{"foo", "1.2.3"}},

		// defaults
		{name: "defaults on a tag", tags: "", ctx: ctxTag("v1.2.3"), want: []string{"v1.2.3", "latest"}},
		{name: "defaults on a branch", tags: "", ctx: ctxBranch("main"), want: []string{"main"}},
		{name: "defaults on a pull request", tags: "", ctx: ctxPR(), want: []string{"pr-15"}},
		{name: "defaults when tags has only comments", tags: "# none yet\n\n", ctx: ctxBranch("main"), want: []string{"main"}},
		{name: "defaults on schedule", tags: "", ctx: ctxSchedule(), want: []string{"nightly", "main"}},

		{name: "difference: latest from a rule and from latest=auto once", tags: "type=raw,value=latest\ntype=semver,pattern={{version}}", ctx: ctxTag("v1.2.3"), want: []string{"1.2.3", "latest"}},
		{name: "plain latest with a flavor latest", tags: "type=semver,pattern={{version}}\nlatest", flavor: "suffix=-s,onlatest=true", ctx: ctxTag("v1.2.3"), want: []string{"1.2.3-s", "latest", "latest-s"}},

		// plain tags and references
		{name: "plain tags", tags: "1.2.3, 1.2\n1", ctx: ctxBranch("main"), want: []string{"1.2.3", "1.2", "1"}},
		{name: "plain latest is a pointer", tags: "latest\n1.2.3", ctx: ctxBranch("main"), want: []string{"1.2.3", "latest"}},
		{name: "plain latest alone", tags: "latest", ctx: ctxBranch("main"), want: []string{"latest"}},
		{name: "metadata-action output", tags: "ghcr.io/acme/widget:1.2.3\nghcr.io/Acme/Widget:1.2\nghcr.io/acme/widget:latest", ctx: ctxBranch("main"), want: []string{"1.2.3", "1.2", "latest"}},
		{name: "plain with rules", tags: "type=semver,pattern={{version}}\nstable", ctx: ctxTag("v1.2.3"), want: []string{"1.2.3", "stable", "latest"}},
		{name: "difference: plain tags separated by spaces", tags: "1.2.3 1.2\t1", ctx: ctxBranch("main"), want: []string{"1.2.3", "1.2", "1"}},
		{name: "plain tags, spaces and commas", tags: " a, b  c ,d", ctx: ctxBranch("main"), want: []string{"a", "b", "c", "d"}},
		{name: "metadata-action output on one line", tags: "ghcr.io/acme/widget:1.2.3 ghcr.io/acme/widget:1.2", ctx: ctxBranch("main"), want: []string{"1.2.3", "1.2"}},
		{name: "rules, then plain tags separated by spaces", tags: "type=semver,pattern={{version}}\nstable edge", ctx: ctxTag("v1.2.3"), want: []string{"1.2.3", "stable", "edge", "latest"}},
		{name: "a rule's value with spaces is not split", tags: "type=raw,value=v-{{date 'YYYYMMDD'}}-{{ sha }}", ctx: ctxBranch("main"), want: []string{"v-20200110-860c190"}},

		// differences
		{name: "difference: branch on a pull request is its head", tags: "type=raw,value={{branch}}\ntype=raw,value={{base_ref}}", ctx: ctxPR(), want: []string{"feature-login", "main"}},
		{name: "difference: merge queue is its pull request", tags: "type=ref,event=branch\ntype=ref,event=pr\ntype=raw,value=q-{{base_ref}}-{{is_default_branch}}", ctx: ctxMergeQueue(), want: []string{"pr-42", "q-main-false"}},
		{name: "difference: flavor keeps text after a second =", tags: "type=raw,value=x", flavor: "suffix=-a=b", ctx: ctxBranch("main"), want: []string{"x-a-b"}},
	}
	image := name.MustParseReference("ghcr.io/acme/widget").Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, err := Parse(tt.tags, tt.flavor, image)
			if err != nil {
				t.Fatalf("Parse(%q, %q) = %v", tt.tags, tt.flavor, err)
			}
			v, err := tr.Evaluate(tt.ctx)
			if err != nil {
				t.Fatalf("Evaluate(%q) = %v", tt.tags, err)
			}
			if diff := cmp.Diff(tt.want, v.Tags(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("tags %q flavor %q: mismatch (-want +got):\n%s", tt.tags, tt.flavor, diff)
			}
			main := tt.main
			if main == "" && len(tt.want) > 0 {
				main = tt.want[0]
			}
			if v.Main != main {
				t.Errorf("Main = %q, want %q", v.Main, main)
			}
			warnings := strings.Join(v.Warnings, "\n")
			if tt.warn == "" && warnings != "" || !strings.Contains(warnings, tt.warn) {
				t.Errorf("warnings %q, want mention of %q", warnings, tt.warn)
			}
		})
	}
}

// TestRuleErrors checks that each bad rule is a one-line error naming the
// input and the line.
func TestRuleErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tags, flavor string
		ctx                Context
		input, want        string
	}{
		{name: "unknown type", tags: "type=foo", input: "tags", want: `line 1 "type=foo": unknown type "foo"`},
		{name: "semver without pattern", tags: "type=raw,value=x\ntype=semver", input: "tags", want: "line 2 \"type=semver\": type=semver needs a pattern"},
		{name: "pep440 without pattern", tags: "type=pep440", input: "tags", want: "type=pep440 needs a pattern"},
		{name: "match without pattern", tags: "type=match", input: "tags", want: "type=match needs a pattern"},
		{name: "bad regex", tags: "type=match,pattern=(x", input: "tags", want: "not a regular expression"},
		{name: "look-ahead", tags: "type=match,pattern=v(?=1)", input: "tags", want: "look-arounds"},
		{name: "bad group", tags: "type=match,pattern=v(.*),group=foo", input: "tags", want: "group=foo is not a group number"},
		{name: "semver match without group", tags: "type=semver,pattern={{version}},match=v.*", input: "tags", want: "no capture group"},
		{name: "ref without event", tags: "type=ref", input: "tags", want: "needs event=branch"},
		{name: "ref bad event", tags: "type=ref,event=foo", input: "tags", want: "event=foo is not branch, tag or pr"},
		{name: "raw without value", tags: "type=raw", input: "tags", want: "type=raw needs a value"},
		{name: "bad format", tags: "type=sha,format=medium", input: "tags", want: "format=medium is not short or long"},
		{name: "bad enable", tags: "type=raw,value=x,enable=yes", input: "tags", want: "enable=yes is not true, false"},
		{name: "enable expression not boolean", tags: "type=raw,value=x,enable={{branch}}", ctx: ctxBranch("main"), input: "tags", want: `enable is "main", not true or false`},
		{name: "bad priority", tags: "type=raw,value=x,priority=high", input: "tags", want: "priority=high is not a number"},
		{name: "unknown attribute", tags: "type=semver,patern={{version}}", input: "tags", want: `unknown attribute "patern"`},
		{name: "unknown expression", tags: "type=raw,value={{brnch}}", input: "tags", want: "{{brnch}} is not an expression here"},
		{name: "version outside semver", tags: "type=raw,value={{version}}", input: "tags", want: "{{version}} is not an expression here"},
		{name: "branch inside a pattern", tags: "type=semver,pattern={{branch}}", input: "tags", want: "{{branch}} is not an expression here"},
		{name: "unclosed expression", tags: "type=raw,value={{branch", input: "tags", want: "not closed"},
		{name: "unknown date attribute", tags: "type=raw,value={{date 'YYYY' zone='UTC'}}", ctx: ctxBranch("main"), input: "tags", want: "unknown attribute zone"},
		{name: "bad time zone", tags: "type=raw,value={{date 'YYYY' tz='Mars/Base'}}", ctx: ctxBranch("main"), input: "tags", want: `tz="Mars/Base" is not a time zone`},
		{name: "invalid plain tag", tags: "-bad", input: "tags", want: `"-bad" is not a valid tag`},
		{name: "invalid plain tag in a list", tags: "1.0 -bad", input: "tags", want: `line 1 "1.0 -bad": "-bad" is not a valid tag`},
		{name: "rule attribute after a space", tags: "latest type=sha", input: "tags", want: `"type=sha" is a rule attribute after a space; write a rule's attributes separated by commas`},
		{name: "unknown key after a space", tags: "latest tpye=sha", input: "tags", want: `"tpye" is not an attribute`},
		{name: "other repository", tags: "ghcr.io/acme/other:1.0", input: "tags", want: "names ghcr.io/acme/other, but image is ghcr.io/acme/widget"},
		{name: "digest reference", tags: "ghcr.io/acme/widget@sha256:" + strings.Repeat("a", 64), input: "tags", want: "digest reference"},
		{name: "leading dash from a value", tags: "type=raw,value=-x", ctx: ctxBranch("main"), input: "tags", want: `makes the tag "-x", which is not valid`},
		{name: "leading dash from a prefix", tags: "type=ref,event=branch,prefix=-", ctx: ctxBranch("main"), input: "tags", want: `makes the tag "-main"`},
		{name: "too long", tags: "type=raw,value=" + strings.Repeat("a", 129), ctx: ctxBranch("main"), input: "tags", want: "not valid (at most 128"},
		{name: "flavor latest", flavor: "latest=foo", input: "flavor", want: `line 1 "latest=foo": latest=foo is not auto, true or false`},
		{name: "flavor unknown key", flavor: "unknwown=foo", input: "flavor", want: `unknown key "unknwown"`},
		{name: "flavor without =", flavor: "latest", input: "flavor", want: "is not key=value"},
		{name: "flavor random line", flavor: "randomstr\nlatest=auto", input: "flavor", want: "line 1"},
		{name: "flavor bad onlatest", flavor: "prefix=a-,onlatest=yes", input: "flavor", want: "onlatest=yes is not true or false"},
		{name: "flavor stray onlatest", flavor: "onlatest=true", input: "flavor", want: "onlatest applies to the prefix= or suffix= before it"},
		{name: "flavor bad latest tag", tags: "type=semver,pattern={{version}},prefix=v", flavor: "prefix=-,onlatest=true", ctx: ctxTag("v1.0.0"), input: "flavor", want: "not a valid tag"},
		{name: "no tags at all", tags: ", ,", input: "tags", want: "lists no tag or rule"},
	}
	image := name.MustParseReference("ghcr.io/acme/widget").Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tags := tt.tags
			if tags == "" {
				tags = "type=raw,value=x"
			}
			if tt.name == "no tags at all" {
				tags = tt.tags
			}
			tr, err := Parse(tags, tt.flavor, image)
			if err == nil {
				_, err = tr.Evaluate(tt.ctx)
			}
			if err == nil {
				t.Fatalf("tags %q flavor %q: no error, want %q", tags, tt.flavor, tt.want)
			}
			errs := inputs.Errors(err)
			if len(errs) != 1 {
				t.Fatalf("error %v: want exactly one *inputs.Error", err)
			}
			if errs[0].Input != tt.input || !strings.Contains(errs[0].Msg, tt.want) || strings.Contains(errs[0].Msg, "\n") {
				t.Errorf("error = %q, want one line for input %s mentioning %q", err, tt.input, tt.want)
			}
		})
	}
}

// TestSemverCompare checks precedence as semver.org §11 orders it.
func TestSemverCompare(t *testing.T) {
	t.Parallel()
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.0.1", "1.2.0", "2.0.0"}
	for i := range order {
		for j := range order {
			a, _ := parseSemver(order[i])
			b, ok := parseSemver(order[j])
			if !ok {
				t.Fatalf("parseSemver(%q) failed", order[j])
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.compare(b); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
}
