// Package plan decides, without any I/O, what will be published: the
// destination, the tags, and every label and annotation with where its value
// came from. Stamping then applies the plan to the image.
package plan

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/plan/tagrules"
)

// Origin says where a value came from, so the summary can show it and
// stamping can rank it.
type Origin string

const (
	// FromInput is a value the user gave: it always wins.
	FromInput Origin = "input"
	// FromImage is a value the image already carried, e.g. a Dockerfile
	// LABEL: it wins over anything derived.
	FromImage Origin = "image"
	// FromRepository is a value the GitHub API gave.
	FromRepository Origin = "repository"
	// FromContext is a value derived from the workflow run.
	FromContext Origin = "context"
)

// Explicit reports whether a value of this origin overrides what the image
// already carries.
func (o Origin) Explicit() bool { return o == FromInput }

// Entry is one label or annotation.
type Entry struct {
	Key    string
	Value  string
	Origin Origin
}

// Plan is what to publish.
type Plan struct {
	Image name.Repository
	// Tags are full references in docker/metadata-action's order: the
	// version, the other tags by priority, then latest. WriteOrder is the
	// order to write them in.
	Tags []name.Tag
	// Version is the main version the tag rules gave (metadata-action's
	// version output), also org.opencontainers.image.version; "" when no
	// rule fired.
	Version string
	// version is the tag rules' full result, for the registry check.
	version tagrules.Version
	// Labels go into the image config. Entries are sorted by key.
	Labels []Entry
	// RemoveLabels are keys the user asked to remove (labels: key=).
	RemoveLabels []string
	// Annotations given explicitly; stamping adds the labels' keys too.
	Annotations []Entry
	// Notices and Warnings are to be shown to the user. A warning is a
	// problem worth telling that does not stop the run, in the shape of an
	// input's error: its Input names the input it concerns, if any, so the
	// annotation can point at it.
	Notices  []string
	Warnings []*inputs.Error
	// Repository is the web address of the repository this run publishes
	// from (GITHUB_SERVER_URL/GITHUB_REPOSITORY), "" outside a workflow: what
	// tells a label written for this project from one inherited from a
	// base image.
	Repository string
}

// Make builds the plan from validated inputs and what the API said: the
// tags, then the labels (derived, then overridden by explicit inputs and
// labels), then the annotations, then whether the created time is known.
func Make(in inputs.Inputs, repo githubapi.Info) (Plan, error) {
	p := Plan{Image: in.Image, Warnings: slices.Clone(in.Warnings)}
	switch {
	case in.ImageLowercased && in.ImageDerived:
		p.Notices = append(p.Notices, fmt.Sprintf("image defaults to %s: registry names must be lower-case", in.Image))
	case in.ImageLowercased:
		p.Notices = append(p.Notices, fmt.Sprintf("image: publishing to %s, the input lower-cased: registry names must be lower-case (the source label keeps the repository's own spelling)", in.Image))
	}
	tc := tagContext(in.Context, repo)
	if err := p.addTags(in, tc); err != nil {
		return Plan{}, err
	}
	labels := p.derivedLabels(in, repo)
	p.overrideLabels(labels, in)
	if err := p.addUserLabels(labels, in, tc); err != nil {
		return Plan{}, err
	}
	if err := p.addAnnotations(in, tc); err != nil {
		return Plan{}, err
	}
	p.Labels = sorted(labels)
	sort.Strings(p.RemoveLabels)
	p.RemoveLabels = slices.Compact(p.RemoveLabels)
	p.checkCreated(labels)
	return p, nil
}

// addTags evaluates the tags and flavor inputs: the tags to write, the
// version, and the rules' warnings.
func (p *Plan) addTags(in inputs.Inputs, tc tagrules.Context) error {
	rules, err := tagrules.Parse(in.Tags, in.Flavor, in.Image)
	if err != nil {
		return err
	}
	v, err := rules.Evaluate(tc)
	if err != nil {
		return err
	}
	for _, w := range v.Warnings {
		p.Warnings = append(p.Warnings, &inputs.Error{Input: "tags", Msg: w})
	}
	p.Warnings = append(p.Warnings, headBranchWarnings(in)...)
	p.Version, p.version = v.Main, v
	// push-by-digest writes no tag: the rules only give the version, so
	// that matrix legs stamp what their merge job stamps.
	if in.PushByDigest {
		return nil
	}
	for _, t := range v.Tags() {
		p.Tags = append(p.Tags, in.Image.Tag(t))
	}
	if len(p.Tags) == 0 && len(in.Sources) > 0 && in.Push {
		what := "the tags rules give no tag"
		if rules.Default {
			what = "tags is empty and the default rules give no tag"
		}
		return &inputs.Error{Input: "tags", Msg: fmt.Sprintf("%s for ref %q (event %s); add a rule that fires here, e.g. type=sha or type=raw,value=edge, or set push-by-digest: true", what, in.Context.Ref, in.Context.EventName)}
	}
	return nil
}

// labelSet holds one label per key.
type labelSet map[string]Entry

// set gives key its value, replacing what was there; an empty value sets
// nothing.
func (l labelSet) set(key, value string, origin Origin) {
	if value != "" {
		l[key] = Entry{Key: key, Value: value, Origin: origin}
	}
}

// derivedLabels are the standard set docker/metadata-action stamps, from
// the run and the repository, each set lowest precedence first.
func (p *Plan) derivedLabels(in inputs.Inputs, repo githubapi.Info) labelSet {
	labels := labelSet{}
	ctx := in.Context
	serverRepo := ""
	if ctx.Repository() != "" {
		serverRepo = ctx.ServerURL + "/" + ctx.Repository()
	}
	p.Repository = serverRepo
	labels.set(specs.AnnotationSource, serverRepo, FromContext)
	labels.set(specs.AnnotationURL, serverRepo, FromContext)
	labels.set(specs.AnnotationURL, repo.HTMLURL, FromRepository)
	labels.set(specs.AnnotationTitle, ctx.Repo, FromContext)
	labels.set(specs.AnnotationTitle, repo.Name, FromRepository)
	labels.set(specs.AnnotationRevision, revision(ctx), FromContext)
	labels.set(specs.AnnotationVersion, p.Version, FromContext)
	if created, origin := createdTime(ctx, repo); created != nil {
		labels.set(specs.AnnotationCreated, created.UTC().Format(time.RFC3339), origin)
	}
	// An explicit description replaces the repository's below: warning that
	// the repository's was cut would then be noise.
	if d := repo.Description; d != "" && !in.Description.Set {
		if utf8.RuneCountInString(d) > inputs.MaxDescription {
			d = string([]rune(d)[:inputs.MaxDescription])
			p.Warnings = append(p.Warnings, &inputs.Error{Input: "description", Msg: fmt.Sprintf("the repository description is longer than %d characters, the most ghcr.io shows; it was cut to fit (set description to choose the text)", inputs.MaxDescription)})
		}
		labels.set(specs.AnnotationDescription, d, FromRepository)
	}
	labels.set(specs.AnnotationLicenses, repo.License, FromRepository)
	return labels
}

// overrideLabels applies the explicit inputs: they win over everything
// derived.
func (p *Plan) overrideLabels(labels labelSet, in inputs.Inputs) {
	override := func(key string, o inputs.Optional) {
		if !o.Set {
			return
		}
		delete(labels, key)
		labels.set(key, o.Value, FromInput)
	}
	override(specs.AnnotationSource, in.SourceURL)
	override(specs.AnnotationDescription, in.Description)
	override(specs.AnnotationLicenses, in.Licenses)
	if in.Licenses.Set && in.Licenses.Value == "" {
		// licenses: NOASSERTION says "no license claim": do not let a value
		// from the image or the API stand in.
		p.RemoveLabels = append(p.RemoveLabels, specs.AnnotationLicenses)
	}
}

// addUserLabels applies the labels input, its {{…}} expressions evaluated:
// it comes last and wins; key= removes the key.
func (p *Plan) addUserLabels(labels labelSet, in inputs.Inputs, tc tagrules.Context) error {
	userLabels, err := tc.Expand("labels", in.Labels)
	if err != nil {
		return err
	}
	for _, kv := range userLabels {
		delete(labels, kv.Key)
		if kv.Value == "" {
			p.RemoveLabels = append(p.RemoveLabels, kv.Key)
			continue
		}
		// labels comes last and wins, also over licenses: NOASSERTION: a
		// key both set and removed would be reported but not stamped.
		p.RemoveLabels = slices.DeleteFunc(p.RemoveLabels, func(k string) bool { return k == kv.Key })
		labels.set(kv.Key, kv.Value, FromInput)
	}
	return nil
}

// addAnnotations takes the annotations input, its {{…}} expressions
// evaluated, sorted by key.
func (p *Plan) addAnnotations(in inputs.Inputs, tc tagrules.Context) error {
	userAnnotations, err := tc.Expand("annotations", in.Annotations)
	if err != nil {
		return err
	}
	for _, kv := range userAnnotations {
		p.Annotations = append(p.Annotations, Entry{Key: kv.Key, Value: kv.Value, Origin: FromInput})
	}
	sort.Slice(p.Annotations, func(i, j int) bool { return p.Annotations[i].Key < p.Annotations[j].Key })
	return nil
}

// checkCreated warns when no created time is stamped and none was asked
// to be removed.
func (p *Plan) checkCreated(labels labelSet) {
	if _, ok := labels[specs.AnnotationCreated]; !ok && !slices.Contains(p.RemoveLabels, specs.AnnotationCreated) {
		p.Warnings = append(p.Warnings, &inputs.Error{Msg: "no commit time is known (no SOURCE_DATE_EPOCH, no head commit in the event, no answer from the API), so org.opencontainers.image.created is left out rather than set to the clock, which would change the digest on every run"})
	}
}

// createdTime picks a reproducible time for org.opencontainers.image.created:
// never the wall clock, so that publishing the same source twice gives the
// same digest (reproducible-builds.org, SOURCE_DATE_EPOCH).
func createdTime(ctx inputs.Context, repo githubapi.Info) (*time.Time, Origin) {
	switch {
	case ctx.SourceDateEpoch != nil:
		return ctx.SourceDateEpoch, FromContext
	case ctx.CommitTime != nil:
		return ctx.CommitTime, FromContext
	case repo.CommitTime != nil:
		return repo.CommitTime, FromRepository
	}
	return nil, ""
}

// NeedsCommitTime reports whether the API must be asked for the commit's
// date: only when the context does not already say it.
func NeedsCommitTime(ctx inputs.Context) bool {
	return ctx.SourceDateEpoch == nil && ctx.CommitTime == nil && ctx.SHA != ""
}

// CheckTags parses the tags and flavor inputs only, so that their errors
// are reported with those of every other input (inputs cannot import the
// plan step that owns the rules).
func CheckTags(in inputs.Inputs) error {
	_, err := tagrules.Parse(in.Tags, in.Flavor, in.Image)
	return err
}

// NeedsRegistryTags reports whether latest=auto gave latest to a semantic
// version: then the tags already in the registry decide whether it really
// is the latest, and the caller passes them to WithRegistryTags.
func (p Plan) NeedsRegistryTags() bool {
	_, auto := p.version.AutoLatest()
	return len(p.Tags) > 0 && auto
}

// WithRegistryTags drops latest when existing, the repository's tags
// before this push, hold a release higher than this version: a backport
// (v1.9.1 after v2.0.0) must not take latest. Difference: metadata-action
// cannot see the registry and always moves latest (metadata-action#407).
func (p Plan) WithRegistryTags(existing []string) Plan {
	version, auto := p.version.AutoLatest()
	if !auto || len(p.Tags) == 0 {
		return p
	}
	tag, higher := p.version.HigherRelease(existing)
	if !higher {
		return p
	}
	latest := p.version.LatestTag
	p.Tags = slices.DeleteFunc(slices.Clone(p.Tags), func(t name.Tag) bool { return t.TagStr() == latest })
	p.version.Latest = false
	p.Notices = append(p.Notices, fmt.Sprintf("tags: %s stays where it is: %s already has %s, a higher version than %s (flavor latest=auto moves it only to the highest release; latest=true moves it anyway)", latest, p.Image, tag, version))
	return p
}

// WriteOrder is the order to write the tags in: the primary tag (latest
// when present, else the version) last, because ghcr.io's package page
// suggests the most recently pushed tag in its pull command.
func (p Plan) WriteOrder() []name.Tag {
	out := slices.Clone(p.Tags)
	if len(out) < 2 || p.version.Latest && out[len(out)-1].TagStr() == p.version.LatestTag {
		return out
	}
	return append(out[1:], out[0])
}

// revision is the commit the rules and the revision label name: the pull
// request's head with DOCKER_METADATA_PR_HEAD_SHA=true, as metadata-action
// (src/context.ts:73-77).
func revision(c inputs.Context) string {
	if c.Event.UsePRHeadSHA && strings.Contains(c.EventName, "pull_request") && c.Event.PRHeadSHA != "" {
		return c.Event.PRHeadSHA
	}
	return c.SHA
}

// tagContext is what the tag rules see of the run.
func tagContext(c inputs.Context, repo githubapi.Info) tagrules.Context {
	tc := tagrules.Context{
		EventName:         c.EventName,
		Ref:               c.Ref,
		SHA:               revision(c),
		ShortSHALength:    c.Event.ShortSHALength,
		DefaultBranch:     c.Event.DefaultBranch,
		RepoDefaultBranch: repo.DefaultBranch,
		BaseRef:           c.Event.BaseRef,
		PRBaseRef:         c.Event.PRBaseRef,
		PRHeadRef:         c.Event.PRHeadRef,
		Now:               c.Now,
	}
	// pull_request_target runs on the base branch; the rules see the pull
	// request (src/context.ts:66-68).
	if strings.Contains(c.EventName, "pull_request_target") && c.Event.PRNumber > 0 {
		tc.Ref = fmt.Sprintf("refs/pull/%d/merge", c.Event.PRNumber)
	}
	// A fork's branch name is the fork owner's to choose (latest, v9.9.9):
	// where GITHUB_TOKEN may write, as under pull_request_target with the
	// base repository's token, it must not pick a tag nor reach a label,
	// an annotation or an output. The rules see no head branch, so
	// {{branch}} is empty; Make says why. A pull request whose payload
	// does not prove its head is this repository counts as a fork's
	// (inputs.Context.FromFork). Elsewhere {{branch}} stays the head
	// branch: a pull_request from a fork runs with a read-only token.
	if headBranchWithheld(c) != "" {
		tc.PRHeadRef = ""
	}
	if tc.RepoDefaultBranch == "" {
		tc.RepoDefaultBranch = c.Event.DefaultBranch
	}
	// Difference: {{date}} is SOURCE_DATE_EPOCH when set, so a rebuild of
	// the same source gets the same tags (metadata-action#403).
	if c.SourceDateEpoch != nil {
		tc.Now = *c.SourceDateEpoch
	}
	switch {
	case c.CommitTime != nil:
		tc.CommitDate = *c.CommitTime
	case repo.CommitTime != nil:
		tc.CommitDate = *repo.CommitTime
	default:
		tc.CommitDate = tc.Now
	}
	return tc
}

// headBranchWithheld says why the tag rules do not see the pull request's
// head branch in this run, or "" when they do: a fork's (or an unproven)
// head under a token that may write.
func headBranchWithheld(c inputs.Context) string {
	if !c.FromFork || c.ReadOnlyToken() != "" || c.Event.PRHeadRef == "" {
		return ""
	}
	from := "a fork"
	if c.Head == inputs.Unproven {
		from = "a head the event payload does not prove is this repository's (" + c.HeadUnproven + ")"
	}
	return fmt.Sprintf("{{branch}} is empty: this %s run is for a pull request from %s and holds this repository's token, so the head branch's name, which its author chose, makes no tag, label or annotation", c.EventName, from)
}

// usesBranch matches a {{branch}} expression, as parseTemplate reads one
// ({{ branch }}, {{~branch~}}, {{{branch}}}), and not {{is_default_branch}}.
// Compiled on first use: nothing is compiled at start-up (every run pays it).
var usesBranch = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{\{[{~\s]*branch[\s~}]`) })

// headBranchWarnings warn that {{branch}} was emptied, when an input the
// rules expand uses it: otherwise nothing the user wrote changed.
func headBranchWarnings(in inputs.Inputs) []*inputs.Error {
	why := headBranchWithheld(in.Context)
	if why == "" {
		return nil
	}
	var out []*inputs.Error
	check := func(input, text string) {
		if usesBranch().MatchString(text) && !slices.ContainsFunc(out, func(w *inputs.Error) bool { return w.Input == input }) {
			out = append(out, &inputs.Error{Input: input, Msg: why})
		}
	}
	check("tags", in.Tags)
	check("flavor", in.Flavor)
	for _, kv := range in.Labels {
		check("labels", kv.Value)
	}
	for _, kv := range in.Annotations {
		check("annotations", kv.Value)
	}
	return out
}

func sorted(m map[string]Entry) []Entry {
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
