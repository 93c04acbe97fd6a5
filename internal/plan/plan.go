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
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
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
	// Tags are full references, in the order given.
	Tags []name.Tag
	// Labels go into the image config. Entries are sorted by key.
	Labels []Entry
	// RemoveLabels are keys the user asked to remove (labels: key=).
	RemoveLabels []string
	// Annotations given explicitly; stamping adds the labels' keys too.
	Annotations []Entry
	// Notices and Warnings are to be shown to the user.
	Notices  []string
	Warnings []Warning
}

// Warning is a problem worth telling that does not stop the run. Input
// names the input it concerns, if any, so the annotation can point at it.
type Warning struct {
	Input string
	Msg   string
}

func (w Warning) String() string {
	if w.Input == "" {
		return w.Msg
	}
	return w.Input + ": " + w.Msg
}

// Make builds the plan from validated inputs and what the API said.
func Make(in inputs.Inputs, repo githubapi.Info) (Plan, error) {
	p := Plan{Image: in.Image}
	switch {
	case in.ImageLowercased && in.ImageDerived:
		p.Notices = append(p.Notices, fmt.Sprintf("image defaults to %s: registry names must be lower-case", in.Image))
	case in.ImageLowercased:
		p.Notices = append(p.Notices, fmt.Sprintf("image: publishing to %s, the input lower-cased: registry names must be lower-case (the source label keeps the repository's own spelling)", in.Image))
	}
	for _, w := range in.Warnings {
		p.Warnings = append(p.Warnings, Warning{Input: w.Input, Msg: w.Msg})
	}

	tags := in.Tags
	if tags == nil && !in.PushByDigest {
		tags = TagsFromRef(in.Context.Ref)
		if len(tags) == 0 && len(in.Sources) > 0 && in.Push {
			return Plan{}, &inputs.Error{Input: "tags", Msg: fmt.Sprintf("is empty and the ref %q names no branch, tag or pull request to derive one from; set tags, or push-by-digest: true", in.Context.Ref)}
		}
	}
	for _, t := range tags {
		p.Tags = append(p.Tags, in.Image.Tag(t))
	}

	labels := map[string]Entry{}
	set := func(key, value string, origin Origin) {
		if value != "" {
			labels[key] = Entry{Key: key, Value: value, Origin: origin}
		}
	}
	ctx := in.Context

	// The standard set docker/metadata-action stamps, lowest precedence first.
	serverRepo := ""
	if ctx.Repository() != "" {
		serverRepo = ctx.ServerURL + "/" + ctx.Repository()
	}
	set(specs.AnnotationSource, serverRepo, FromContext)
	set(specs.AnnotationURL, serverRepo, FromContext)
	set(specs.AnnotationURL, repo.HTMLURL, FromRepository)
	set(specs.AnnotationTitle, ctx.Repo, FromContext)
	set(specs.AnnotationTitle, repo.Name, FromRepository)
	set(specs.AnnotationRevision, ctx.SHA, FromContext)
	if v := version(tags); v != "" {
		set(specs.AnnotationVersion, v, FromContext)
	}
	if created, origin := createdTime(ctx, repo); created != nil {
		set(specs.AnnotationCreated, created.UTC().Format(time.RFC3339), origin)
	}
	// An explicit description replaces the repository's below: warning that
	// the repository's was cut would then be noise.
	if d := repo.Description; d != "" && !in.Description.Set {
		if utf8.RuneCountInString(d) > inputs.MaxDescription {
			d = string([]rune(d)[:inputs.MaxDescription])
			p.Warnings = append(p.Warnings, Warning{Input: "description", Msg: fmt.Sprintf("the repository description is longer than %d characters, the most ghcr.io shows; it was cut to fit (set description to choose the text)", inputs.MaxDescription)})
		}
		set(specs.AnnotationDescription, d, FromRepository)
	}
	set(specs.AnnotationLicenses, repo.License, FromRepository)

	// Explicit inputs win over everything derived.
	override := func(key string, o inputs.Optional) {
		if !o.Set {
			return
		}
		delete(labels, key)
		set(key, o.Value, FromInput)
	}
	override(specs.AnnotationSource, in.SourceURL)
	override(specs.AnnotationDescription, in.Description)
	override(specs.AnnotationLicenses, in.Licenses)
	if in.Licenses.Set && in.Licenses.Value == "" {
		// licenses: NOASSERTION says "no license claim": do not let a value
		// from the image or the API stand in.
		p.RemoveLabels = append(p.RemoveLabels, specs.AnnotationLicenses)
	}
	for _, kv := range in.Labels {
		delete(labels, kv.Key)
		if kv.Value == "" {
			p.RemoveLabels = append(p.RemoveLabels, kv.Key)
			continue
		}
		// labels comes last and wins, also over licenses: NOASSERTION: a
		// key both set and removed would be reported but not stamped.
		p.RemoveLabels = slices.DeleteFunc(p.RemoveLabels, func(k string) bool { return k == kv.Key })
		set(kv.Key, kv.Value, FromInput)
	}

	p.Labels = sorted(labels)
	for _, kv := range in.Annotations {
		p.Annotations = append(p.Annotations, Entry{Key: kv.Key, Value: kv.Value, Origin: FromInput})
	}
	sort.Slice(p.Annotations, func(i, j int) bool { return p.Annotations[i].Key < p.Annotations[j].Key })
	sort.Strings(p.RemoveLabels)
	p.RemoveLabels = slices.Compact(p.RemoveLabels)
	if _, ok := labels[specs.AnnotationCreated]; !ok && !slices.Contains(p.RemoveLabels, specs.AnnotationCreated) {
		p.Warnings = append(p.Warnings, Warning{Msg: "no commit time is known (no SOURCE_DATE_EPOCH, no head commit in the event, no answer from the API), so org.opencontainers.image.created is left out rather than set to the clock, which would change the digest on every run"})
	}
	return p, nil
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

// version is the first tag that names a version rather than a moving
// pointer such as latest.
func version(tags []string) string {
	for _, t := range tags {
		if t != "latest" {
			return t
		}
	}
	if len(tags) > 0 {
		return tags[0]
	}
	return ""
}

var (
	pullRef   = regexp.MustCompile(`^refs/pull/([0-9]+)/(merge|head)$`)
	badTagRun = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// TagsFromRef derives the default tag from GITHUB_REF: the tag name for a tag
// push, the sanitised branch name for a branch, pr-N for a pull request.
func TagsFromRef(ref string) []string {
	var t string
	switch {
	case strings.HasPrefix(ref, "refs/tags/"):
		t = sanitise(strings.TrimPrefix(ref, "refs/tags/"))
	case strings.HasPrefix(ref, "refs/heads/"):
		t = sanitise(strings.TrimPrefix(ref, "refs/heads/"))
	default:
		if m := pullRef.FindStringSubmatch(ref); m != nil {
			t = "pr-" + m[1]
		}
	}
	if t == "" {
		return nil
	}
	return []string{t}
}

// sanitise turns a branch or git tag name into a valid image tag, as
// docker/metadata-action does: runs of invalid characters become '-'.
func sanitise(s string) string {
	s = badTagRun.ReplaceAllString(s, "-")
	s = strings.TrimLeft(s, ".-")
	if len(s) > 128 {
		s = strings.TrimRight(s[:128], ".-")
	}
	if !inputs.ValidTag(s) {
		return ""
	}
	return s
}

func sorted(m map[string]Entry) []Entry {
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
