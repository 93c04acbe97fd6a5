// Package report tells the workflow what was published: step outputs that
// later steps consume, and a job summary for people.
package report

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/template"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/prune"
	"github.com/ghcr-publish/publish-action/internal/stamp"
)

// Mode is what the run did with the registry.
type Mode string

const (
	Published    Mode = "published"
	DryRun       Mode = "dry-run"       // push: false
	MetadataOnly Mode = "metadata-only" // no source
)

// Report is everything the outputs and the summary say.
type Report struct {
	Mode  Mode
	Image name.Repository
	// Digest is empty in metadata-only mode.
	Digest string
	Tags   []name.Tag
	// Version is the tag rules' version (docker/metadata-action's).
	Version     string
	Labels      []plan.Entry
	Annotations []plan.Entry
	// Entries are the published manifests: one per platform, and the
	// attestations of an index with what became of them.
	Entries []stamp.Entry
	// PackageURL is the package's page on GitHub, for GitHub's registries.
	PackageURL string
	// Link says whether the package is linked to the repository.
	Link string
	// Visibility is the package's visibility as the Packages API reports
	// it (public, private, internal), for GitHub's registries; empty when
	// not known.
	Visibility string
	// Skipped says why push: auto wrote nothing (the token is read-only),
	// for a dry run it chose; empty otherwise.
	Skipped string
	// Notes are remarks for the summary, e.g. a media type conversion.
	Notes []string
	// Prune is what the clean-up did (or would do, in a dry run); nil
	// when prune is off or could not run.
	Prune *prune.Result
	// Destinations are every repository published to, each with its
	// tags, the primary (Image, Tags) first; empty means Image alone.
	Destinations []Destination
}

// Destination is one repository a run publishes to, and the tags it
// points there: the primary's tag names, in this repository.
type Destination struct {
	Image name.Repository
	Tags  []name.Tag
}

// destinations are r's destinations, the primary first.
func (r Report) destinations() []Destination {
	if len(r.Destinations) == 0 {
		return []Destination{{Image: r.Image, Tags: r.Tags}}
	}
	return r.Destinations
}

// destinationJSON is one destination in the json output.
type destinationJSON struct {
	Repository string   `json:"repository"`
	Image      string   `json:"image"`
	Tags       []string `json:"tags"`
	Digest     string   `json:"digest"`
}

// allTags are every destination's tags as full references, the
// primary's first, and each destination for the json output.
func (r Report) allTags() ([]string, []destinationJSON) {
	tags := []string{}
	dests := []destinationJSON{}
	for _, d := range r.destinations() {
		j := destinationJSON{Repository: d.Image.String(), Tags: []string{}, Digest: r.Digest}
		if r.Digest != "" {
			j.Image = d.Image.String() + "@" + r.Digest
		}
		for _, t := range d.Tags {
			tags = append(tags, t.String())
			j.Tags = append(j.Tags, t.String())
		}
		dests = append(dests, j)
	}
	return tags, dests
}

// Outputs are the step outputs, by name, as action.yml declares them.
func (r Report) Outputs() (map[string]string, error) {
	tags, dests := r.allTags()
	out := map[string]string{
		"digest":      r.Digest,
		"image":       r.ref(),
		"tags":        strings.Join(tags, "\n"),
		"version":     r.Version,
		"labels":      lines(r.Labels),
		"annotations": lines(r.Annotations),
	}
	type platform struct {
		Platform string `json:"platform"`
		Digest   string `json:"digest"`
	}
	platforms := []platform{}
	for _, e := range r.Entries {
		if !e.Attestation {
			// As the index writes it: linux/arm64/v8 stays so.
			p := e.Written
			if p == "" {
				p = e.Platform
			}
			platforms = append(platforms, platform{p, e.Digest})
		}
	}
	pj, err := json.Marshal(platforms)
	if err != nil {
		return nil, fmt.Errorf("encoding platforms output: %w", err)
	}
	out["platforms"] = string(pj)
	out["package-url"] = r.PackageURL
	// The API's value: kept on one line, so that it cannot end the
	// output's heredoc and set others (see LogValue).
	out["visibility"] = LogValue(r.Visibility)
	out["pruned"], out["reachable"] = r.pruneOutputs()
	j, err := json.Marshal(struct {
		Mode        Mode              `json:"mode"`
		Repository  string            `json:"repository"`
		Digest      string            `json:"digest"`
		Image       string            `json:"image"`
		Tags        []string          `json:"tags"`
		Version     string            `json:"version"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		Platforms   []platform        `json:"platforms"`
		PackageURL  string            `json:"package-url,omitempty"`
		Visibility  string            `json:"visibility,omitempty"`
		// Destinations come last: the fields above are as they were
		// before a run could publish to several.
		Destinations []destinationJSON `json:"destinations"`
	}{r.Mode, r.Image.String(), r.Digest, out["image"], tags, r.Version, asMap(r.Labels), asMap(r.Annotations), platforms, r.PackageURL, r.Visibility, dests})
	if err != nil {
		return nil, fmt.Errorf("encoding json output: %w", err)
	}
	out["json"] = string(j)
	return out, nil
}

// outputOrder is action.yml's order, so the log reads like the docs;
// readme_test.go checks it against action.yml.
var outputOrder = []string{"digest", "image", "tags", "version", "labels", "annotations", "platforms", "package-url", "visibility", "json", "pruned", "reachable"}

// OutputNames are the outputs Write sets, in the order it sets them.
func OutputNames() []string { return slices.Clone(outputOrder) }

// Write sets the step outputs, declares what was published in the
// runner's artifacts file (see ArtifactsFile) and appends the job summary.
// Outside a workflow (no GITHUB_OUTPUT or GITHUB_STEP_SUMMARY file) it
// prints the outputs and the summary.
// Values from the image are data: cut to what GitHub accepts (see fit),
// and escaped wherever they reach a log line (see LogValue).
func Write(gha *githubactions.Action, r Report) error {
	r, cut := r.fit()
	if cut > 0 {
		gha.Noticef("%d label or annotation values longer than %d bytes were cut in the outputs and the summary; the image carries them whole", cut, MaxValue)
	}
	outputs, err := r.Outputs()
	if err != nil {
		return err
	}
	summary, err := r.Summary()
	if err != nil {
		return err
	}
	for _, k := range outputOrder {
		v, ok := cutTo(outputs[k], MaxOutput)
		if !ok {
			gha.Warningf("output %s is %d bytes, more than the %d GitHub accepts; it was cut", k, len(outputs[k]), MaxOutput)
		}
		if gha.Getenv("GITHUB_OUTPUT") == "" {
			gha.Infof("%s=%s", k, LogLines(v))
			continue
		}
		gha.SetOutput(k, v)
	}
	declareArtifacts(gha, r)
	if s, ok := cutTo(summary, MaxSummary-len(summaryCutNote)); !ok {
		summary = s + summaryCutNote
	}
	if gha.Getenv("GITHUB_STEP_SUMMARY") == "" {
		gha.Infof("%s", summary)
		return nil
	}
	gha.AddStepSummary(summary)
	return nil
}

//go:embed summary.md.tmpl
var templates embed.FS

// summaryTemplate is text/template, not html/template: the summary is
// markdown, and html/template would escape characters such as '+' in tags.
var summaryTemplate = template.Must(template.New("summary.md.tmpl").Funcs(template.FuncMap{
	"cell": cell,
	"fate": fate,
	"code": code,
}).ParseFS(templates, "summary.md.tmpl"))

// Summary renders the job summary as markdown.
func (r Report) Summary() (string, error) {
	var b bytes.Buffer
	data := struct {
		Report
		Ref   string
		Prune pruneSummary
		// Others are the destinations besides the primary.
		Others []Destination
	}{r, r.ref(), r.pruneSummary(), r.destinations()[1:]}
	if err := summaryTemplate.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering summary: %w", err)
	}
	return b.String(), nil
}

func (r Report) ref() string {
	if r.Digest == "" {
		return ""
	}
	return r.Image.String() + "@" + r.Digest
}

// lines renders key=value one per line, the format
// docker/build-push-action's labels and annotations inputs read. A line
// break inside a value would start a bogus entry there, so it becomes a
// space; the json output keeps values exactly.
func lines(entries []plan.Entry) string {
	var b strings.Builder
	for i, e := range entries {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Key + "=" + oneLine.Replace(e.Value))
	}
	return b.String()
}

var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

func asMap(entries []plan.Entry) map[string]string {
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		m[e.Key] = e.Value
	}
	return m
}

// fate says in words what happened to one manifest.
func fate(e stamp.Entry) string {
	switch e.Fate {
	case stamp.Stamped:
		return "stamped"
	case stamp.Unchanged:
		return "already stamped, unchanged"
	case stamp.Preserved:
		return "left byte-identical: it has attestations (attestations: preserve)"
	case stamp.Kept:
		return "kept"
	case stamp.Repointed:
		return "repointed to the stamped image (the statement inside names the original digest)"
	case stamp.Dropped:
		return "dropped (attestations: drop)"
	}
	return string(e.Fate)
}

// Stamped is what the stamp step made: the metadata as published, each
// manifest's fate, and the digest of what is (or would be) pushed.
type Stamped struct {
	Result stamp.Result
	Digest string
}

// From builds the report once, from what each step returned. A nil stamped
// means there was no source (metadata-only); pushed false means nothing was
// written (a dry run).
func From(p plan.Plan, stamped *Stamped, pushed bool, link linkcheck.Result) Report {
	r := Report{Image: p.Image, Tags: p.Tags, Version: p.Version, Mode: MetadataOnly}
	if stamped == nil {
		preview := stamp.Preview(p)
		r.Labels, r.Annotations = preview.Labels, preview.Annotations
		return r
	}
	res := stamped.Result
	r.Labels, r.Annotations, r.Entries, r.Digest = res.Labels, res.Annotations, res.Entries, stamped.Digest
	if res.ConvertedToOCI {
		r.Notes = append(r.Notes, ConvertedNote)
	}
	if !res.Changed {
		r.Notes = append(r.Notes, "The source already carried this metadata, so it was published unchanged, with its original digest.")
	}
	r.Mode = DryRun
	if pushed {
		r.Mode = Published
		r.PackageURL, r.Link, r.Visibility = link.PackageURL, link.Summary, link.Visibility
		r.Notes = append(r.Notes, link.Notes...)
	}
	return r
}

// ConvertedNote explains a media type conversion, in the log and the summary.
const ConvertedNote = "A Docker v2 schema 2 manifest or manifest list was rewritten with OCI media types, because the Docker schemas have no annotations; layer blobs are unchanged."
