package stamp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ghcr-publish/publish-action/internal/ocijson"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/platform"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// BuildKit marks attestation manifests in an index with these annotations
// (moby/buildkit, docs/attestations/attestation-storage.md); their platform
// is unknown/unknown.
const (
	annotationRefType   = "vnd.docker.reference.type"
	annotationRefDigest = "vnd.docker.reference.digest"
	attestationRefType  = "attestation-manifest"
)

// Fate is what happened to one entry of an index.
type Fate string

const (
	Stamped   Fate = "stamped"   // got the metadata, so a new digest
	Unchanged Fate = "unchanged" // carried the metadata already
	Preserved Fate = "preserved" // left byte-identical: it has attestations
	Kept      Fate = "kept"      // an attestation, kept as it was
	Repointed Fate = "repointed" // an attestation, now naming the stamped image
	Dropped   Fate = "dropped"   // an attestation, removed
)

// AttestationPolicy is what happens to BuildKit's attestation manifests in
// an index when the images they describe are stamped. Its values are the
// attestations input's (inputs.Attestations), which the orchestrator
// converts; stamp declares its own so that it needs nothing from inputs.
type AttestationPolicy string

const (
	// PreserveAttested leaves images that have attestations
	// byte-identical, so the attestations stay valid; the metadata goes on
	// the index.
	PreserveAttested AttestationPolicy = "preserve"
	// RepointAttestations stamps every image and points each attestation
	// at the new digest (the statement inside still names the digest it
	// was made for).
	RepointAttestations AttestationPolicy = "repoint"
	// DropAttestations stamps every image and removes the attestations.
	DropAttestations AttestationPolicy = "drop"
)

// Entry is one manifest of the published index, or of a single image.
type Entry struct {
	// Platform is os/arch[/variant]; for an attestation, the platform of the
	// image it describes. It is normalized for comparison (linux/arm64/v8
	// is linux/arm64); Written keeps it as the index or config writes it,
	// for outputs.
	Platform string
	Written  string
	// Digest is the digest published; empty when dropped.
	Digest      string
	Source      string // the source line it came from
	Fate        Fate
	Attestation bool
}

// Unstamped names, in index order, the platform images that
// attestations: preserve left without the metadata: byte-identical, so
// their provenance stays valid, but their configs lack the labels that
// docker inspect and most scanners read. Images that carried the metadata
// already (stamped at build time) are not among them.
func (r Result) Unstamped() []string {
	var platforms []string
	for _, e := range r.Entries {
		if e.Fate == Preserved {
			platforms = append(platforms, e.Platform)
		}
	}
	return platforms
}

// indexEntry is a manifest collected from the sources, before stamping.
type indexEntry struct {
	line     string
	desc     document // the descriptor as the source index had it
	digest   v1.Hash
	img      v1.Image
	platform string
	written  string // platform as the source writes it
	// attests is the digest an attestation manifest describes.
	attests string
}

// Index stamps several sources into one index: every image, and for an
// index source, each of its images (nested indexes are flattened). A single
// index source keeps its order, its descriptors' platforms and annotations,
// its own annotations and any fields we do not know; it gains no
// artifactType it did not have.
func Index(sources []*source.Loaded, p plan.Plan, policy AttestationPolicy) (v1.ImageIndex, Result, error) {
	base, mediaType, original, err := baseIndex(sources)
	if err != nil {
		return nil, Result{}, err
	}
	entries, err := collectEntries(sources)
	if err != nil {
		return nil, Result{}, err
	}
	b := newIndexBuild(entries, p, policy)
	if err := b.stampImages(entries); err != nil {
		return nil, Result{}, err
	}
	descs, err := b.settleAttestations(entries)
	if err != nil {
		return nil, Result{}, err
	}
	res := b.res
	if len(res.Entries) == 0 || len(b.children) == 0 {
		return nil, Result{}, fmt.Errorf("the sources hold no image")
	}

	// The index carries the same keys as its images' labels. Where every
	// stamped image kept a value of its own (a Dockerfile LABEL), the index
	// says the same rather than a derived guess.
	labels := indexLabels(p.Labels, b.imageLabels)
	if len(b.imageLabels) > 0 {
		// Labels live in image configs: report them only when some image
		// was stamped (with attestations: preserve, none may be).
		res.Labels = labels
	}
	oldAnnotations, annotations, annotated, err := reannotate(base, labels, p)
	if err != nil {
		return nil, Result{}, fmt.Errorf("parsing index annotations: %w", err)
	}
	res.Annotations = annotated
	if len(annotations) > 0 {
		base["annotations"] = mustMarshal(annotations)
	}
	if mediaType == types.DockerManifestList && len(annotations) > 0 {
		// The Docker manifest list has no annotations field; writing one
		// there would be dropped silently by some readers.
		base["mediaType"] = mustMarshal(types.OCIImageIndex)
		mediaType = types.OCIImageIndex
		res.ConvertedToOCI = true
	}
	manifests := make([]json.RawMessage, len(descs))
	for i, d := range descs {
		manifests[i] = ocijson.Marshal(d, ocijson.DescriptorOrder)
	}
	base["manifests"] = mustMarshal(manifests)
	raw := ocijson.Marshal(base, ocijson.ManifestOrder)

	res.Changed = res.ConvertedToOCI || !maps.Equal(annotations, oldAnnotations)
	for _, e := range res.Entries {
		res.Changed = res.Changed || e.Fate == Stamped || e.Fate == Repointed || e.Fate == Dropped
	}
	if original != nil && !res.Changed {
		// Byte-identical, so the digest stays: re-serialising could reorder
		// fields the original wrote in another order.
		return original, res, nil
	}
	return &stampedIndex{mediaType: mediaType, raw: raw, children: b.children, descs: descs}, res, nil
}

// baseIndex is the document the stamped index starts from: a single index
// source's own (its annotations and unknown fields kept), else a new OCI
// index. original is that source index, nil for a new one.
func baseIndex(sources []*source.Loaded) (base document, mediaType types.MediaType, original v1.ImageIndex, err error) {
	base = document{
		"schemaVersion": mustMarshal(2),
		"mediaType":     mustMarshal(types.OCIImageIndex),
	}
	if len(sources) != 1 || sources[0].Index == nil {
		return base, types.OCIImageIndex, nil, nil
	}
	original = sources[0].Index
	raw, err := original.RawManifest()
	if err != nil {
		return nil, "", nil, fmt.Errorf("reading index of %s: %w", sources[0].Line, err)
	}
	if err := json.Unmarshal(raw, &base); err != nil {
		return nil, "", nil, fmt.Errorf("parsing index of %s: %w", sources[0].Line, err)
	}
	if base == nil {
		return nil, "", nil, fmt.Errorf("parsing index of %s: it is null, not a JSON object", sources[0].Line)
	}
	if mediaType, err = original.MediaType(); err != nil {
		return nil, "", nil, err
	}
	return base, mediaType, original, nil
}

// collectEntries lists every manifest of every source, in source order,
// nested indexes flattened, and refuses two images for one platform.
func collectEntries(sources []*source.Loaded) ([]*indexEntry, error) {
	var entries []*indexEntry
	for _, src := range sources {
		var err error
		if src.Index != nil {
			w := &walk{line: src.Line, seen: map[v1.Hash]bool{}}
			if d, derr := src.Index.Digest(); derr == nil {
				w.seen[d] = true
			}
			entries, err = w.collect(entries, src.Index, 0)
		} else {
			entries, err = collectImage(entries, src.Line, src.Image)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := checkDuplicates(entries); err != nil {
		return nil, err
	}
	return entries, nil
}

// indexBuild is the state of stamping an index's children: the result so
// far, the children by their new digests, and what each image became.
type indexBuild struct {
	p      plan.Plan
	policy AttestationPolicy
	res    Result
	// attested holds the digests of images an attestation describes;
	// platformOf names each image's platform, by its original digest.
	attested   map[string]bool
	platformOf map[string]string
	children   map[v1.Hash]v1.Image
	// newDigest maps an image's original digest to its stamped one.
	newDigest   map[string]string
	imageLabels [][]plan.Entry
}

func newIndexBuild(entries []*indexEntry, p plan.Plan, policy AttestationPolicy) *indexBuild {
	b := &indexBuild{p: p, policy: policy, attested: map[string]bool{}, platformOf: map[string]string{},
		children: map[v1.Hash]v1.Image{}, newDigest: map[string]string{}}
	for _, e := range entries {
		if e.attests != "" {
			b.attested[e.attests] = true
		} else {
			b.platformOf[e.digest.String()] = e.platform
		}
	}
	return b
}

// stampImages stamps every platform image the policy lets it touch: with
// preserve, an image with attestations stays byte-identical. One of those
// that already carries the metadata (stamped at build time, as the
// metadata → build → publish recipe does) is Unchanged rather than
// Preserved, so Preserved means an image left without the metadata.
func (b *indexBuild) stampImages(entries []*indexEntry) error {
	for _, e := range entries {
		if e.attests != "" {
			continue
		}
		out := Entry{Platform: e.platform, Written: e.written, Source: e.line, Fate: Preserved}
		preserve := b.policy == PreserveAttested && b.attested[e.digest.String()]
		img := e.img
		stamped, r, err := Image(e.img, b.p)
		switch {
		case err != nil && !preserve:
			return fmt.Errorf("stamping %s from %s: %w", e.platform, e.line, err)
		case err != nil || preserve && r.Changed:
			// Left as it is: only asking whether it carries the metadata
			// failed, or it does not and must stay byte-identical.
		default:
			img, out.Fate = stamped, Unchanged
			if r.Changed {
				out.Fate = Stamped
			}
			if err := b.record(e, img, r); err != nil {
				return err
			}
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		out.Digest = d.String()
		b.newDigest[e.digest.String()] = d.String()
		b.children[d] = img
		e.img = img
		b.res.Entries = append(b.res.Entries, out)
	}
	return nil
}

// record keeps what stamping one image of the index said (its labels, its
// warnings, a media type conversion) and points its descriptor at it.
func (b *indexBuild) record(e *indexEntry, img v1.Image, r Result) error {
	b.res.ConvertedToOCI = b.res.ConvertedToOCI || r.ConvertedToOCI
	for _, w := range r.Warnings {
		if !slices.Contains(b.res.Warnings, w) {
			b.res.Warnings = append(b.res.Warnings, w)
		}
	}
	b.imageLabels = append(b.imageLabels, r.Labels)
	return redescribe(e.desc, img)
}

// settleAttestations keeps, repoints or drops each attestation as the
// policy says, once the images they describe have their new digests, and
// returns the index's descriptors in source order.
func (b *indexBuild) settleAttestations(entries []*indexEntry) ([]document, error) {
	var descs []document
	for _, e := range entries {
		if e.attests == "" {
			descs = append(descs, e.desc)
			continue
		}
		out := Entry{Platform: b.platformOf[e.attests], Source: e.line, Attestation: true, Fate: Kept, Digest: e.digest.String()}
		switch {
		case b.policy == DropAttestations:
			out.Fate, out.Digest = Dropped, ""
			b.res.Entries = append(b.res.Entries, out)
			continue
		case b.newDigest[e.attests] != "" && b.newDigest[e.attests] != e.attests:
			// Only Repoint gets here: Preserve left attested images alone.
			var ann map[string]string
			if err := json.Unmarshal(e.desc["annotations"], &ann); err != nil {
				return nil, fmt.Errorf("parsing attestation annotations: %w", err)
			}
			ann[annotationRefDigest] = b.newDigest[e.attests]
			e.desc["annotations"] = mustMarshal(ann)
			out.Fate = Repointed
		}
		b.children[e.digest] = e.img
		descs = append(descs, e.desc)
		b.res.Entries = append(b.res.Entries, out)
	}
	return descs, nil
}

// Bounds on an index's nesting: real images nest one or two levels and
// list a few dozen manifests. Each index is visited once, by digest, so an
// index that lists the next level twice cannot double the work per level.
const (
	MaxIndexDepth = 8
	MaxManifests  = 1000
)

// walk collects the manifests of one index source.
type walk struct {
	line    string
	seen    map[v1.Hash]bool // indexes visited
	visited int              // manifests visited
}

// collect appends the manifests of idx, flattening nested indexes.
func (w *walk) collect(entries []*indexEntry, idx v1.ImageIndex, depth int) ([]*indexEntry, error) {
	line := w.line
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", line, err)
	}
	var doc struct {
		Manifests []document `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parsing index of %s: %w", line, err)
	}
	for _, desc := range doc.Manifests {
		var d v1.Descriptor
		if err := json.Unmarshal(mustMarshal(desc), &d); err != nil {
			return nil, fmt.Errorf("parsing a descriptor in %s: %w", line, err)
		}
		if w.visited++; w.visited > MaxManifests {
			return nil, fmt.Errorf("%s lists more than %d manifests, counting nested indexes; an image has a few dozen", line, MaxManifests)
		}
		switch {
		case d.MediaType.IsIndex():
			if depth+1 >= MaxIndexDepth {
				return nil, fmt.Errorf("%s nests indexes more than %d deep (at %s); flatten it", line, MaxIndexDepth, d.Digest)
			}
			if w.seen[d.Digest] {
				return nil, fmt.Errorf("%s lists index %s more than once; each index may appear once", line, d.Digest)
			}
			w.seen[d.Digest] = true
			nested, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading nested index %s of %s: %w", d.Digest, line, err)
			}
			if entries, err = w.collect(entries, nested, depth+1); err != nil {
				return nil, err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading %s of %s: %w", d.Digest, line, err)
			}
			e := &indexEntry{line: line, desc: desc, digest: d.Digest, img: img}
			if d.Annotations[annotationRefType] == attestationRefType {
				e.attests = d.Annotations[annotationRefDigest]
			} else if e.platform, e.written, err = platformOf(d.Platform, img); err != nil {
				return nil, fmt.Errorf("reading the platform of %s in %s: %w", d.Digest, line, err)
			}
			entries = append(entries, e)
		default:
			return nil, fmt.Errorf("%s lists %s with media type %q, which is neither an image nor an index", line, d.Digest, d.MediaType)
		}
	}
	return entries, nil
}

// collectImage appends a plain image, its platform read from its config.
func collectImage(entries []*indexEntry, line string, img v1.Image) ([]*indexEntry, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", line, err)
	}
	d, err := partial.Descriptor(img)
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", line, err)
	}
	plat := cf.Platform()
	if plat == nil || plat.OS == "" || plat.Architecture == "" {
		return nil, fmt.Errorf("%s names no os and architecture in its config, so it cannot take a place in a multi-platform index", line)
	}
	if err := checkPlatform(*plat); err != nil {
		return nil, fmt.Errorf("%s: %w", line, err)
	}
	desc := v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest, Platform: plat}
	var doc document
	if err := json.Unmarshal(mustMarshal(desc), &doc); err != nil {
		return nil, err
	}
	return append(entries, &indexEntry{line: line, desc: doc, digest: d.Digest, img: img, platform: platform.Key(*plat), written: platform.Text(*plat)}), nil
}

// ImageEntry describes a single image published on its own.
func ImageEntry(line string, img v1.Image, res Result) (Entry, error) {
	d, err := img.Digest()
	if err != nil {
		return Entry{}, err
	}
	platform, written, err := platformOf(nil, img)
	if err != nil {
		platform, written = "unknown", "unknown"
	}
	fate := Unchanged
	if res.Changed {
		fate = Stamped
	}
	return Entry{Platform: platform, Written: written, Digest: d.String(), Source: line, Fate: fate}, nil
}

// CheckPlatforms compares the platforms published with the exact set
// wanted, and names the difference.
func CheckPlatforms(entries []Entry, want []v1.Platform) error {
	got := map[string]bool{}
	for _, e := range entries {
		if !e.Attestation {
			got[e.Platform] = true
		}
	}
	var missing, extra []string
	wanted := map[string]bool{}
	for _, w := range want {
		p := platform.Key(w)
		wanted[p] = true
		if !got[p] {
			missing = append(missing, p)
		}
	}
	for _, e := range entries {
		if !e.Attestation && !wanted[e.Platform] {
			extra = append(extra, e.Platform)
		}
	}
	switch {
	case len(missing) > 0 && len(extra) > 0:
		return fmt.Errorf("the sources lack %s and add %s; fix the sources or the list", strings.Join(missing, ", "), strings.Join(extra, ", "))
	case len(missing) > 0:
		return fmt.Errorf("the sources lack %s; add a source line for it, or drop it from platforms", strings.Join(missing, ", "))
	case len(extra) > 0:
		return fmt.Errorf("the sources also hold %s, which platforms does not list; add it to platforms or leave it out of the sources", strings.Join(extra, ", "))
	}
	return nil
}

// platformOf is the descriptor's platform, or the config's when the index
// does not say: normalized, and as written.
func platformOf(p *v1.Platform, img v1.Image) (string, string, error) {
	if p != nil && p.OS != "" && p.Architecture != "" {
		if err := checkPlatform(*p); err != nil {
			return "", "", err
		}
		return platform.Key(*p), platform.Text(*p), nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", "", err
	}
	if cp := cf.Platform(); cp != nil && cp.OS != "" {
		if err := checkPlatform(*cp); err != nil {
			return "", "", err
		}
		return platform.Key(*cp), platform.Text(*cp), nil
	}
	return "", "", fmt.Errorf("neither the index nor the config names a platform")
}

// platformWord is what a platform's os, architecture, variant and os
// version are made of (GOOS and GOARCH values, v7, v8, 10.0.17763.1234).
var platformWord = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

// checkPlatform refuses a platform whose names hold anything else: they
// are printed in the log, the platforms output and the summary, where a
// line break could start a workflow command.
func checkPlatform(p v1.Platform) error {
	for _, f := range []struct{ name, value string }{{"os", p.OS}, {"architecture", p.Architecture}, {"variant", p.Variant}, {"os.version", p.OSVersion}} {
		if !platformWord.MatchString(f.value) {
			v := f.value
			if len(v) > 40 {
				v = v[:40] + "…"
			}
			return fmt.Errorf("the platform's %s %q holds characters no platform name has (only letters, digits, '.', '_' and '-')", f.name, v)
		}
	}
	return nil
}

// DuplicatePlatformError says the sources hold two images for one
// platform: a client pulling would get whichever comes first. The caller
// attributes it to the source input.
type DuplicatePlatformError struct {
	Platform            string
	FirstLine, Line     string // the source lines holding each image
	FirstDigest, Digest v1.Hash
}

func (e *DuplicatePlatformError) Error() string {
	if e.FirstLine == e.Line {
		return fmt.Sprintf("%q holds two images for %s (%s and %s); give each platform once", e.Line, e.Platform, e.FirstDigest, e.Digest)
	}
	return fmt.Sprintf("%s comes from both %q and %q; give each platform once", e.Platform, e.FirstLine, e.Line)
}

// checkDuplicates refuses two images for one platform.
func checkDuplicates(entries []*indexEntry) error {
	seen := map[string]*indexEntry{}
	for _, e := range entries {
		if e.attests != "" {
			continue
		}
		if first, dup := seen[e.platform]; dup {
			return &DuplicatePlatformError{Platform: e.platform, FirstLine: first.line, Line: e.line, FirstDigest: first.digest, Digest: e.digest}
		}
		seen[e.platform] = e
	}
	return nil
}

// redescribe points a descriptor at img, keeping its platform, annotations
// and any other field.
func redescribe(desc document, img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	size, err := img.Size()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	desc["digest"] = mustMarshal(d)
	desc["size"] = mustMarshal(size)
	desc["mediaType"] = mustMarshal(mt)
	return nil
}

// indexLabels picks the values the index is annotated with: the plan's,
// except where every stamped image kept one value of its own.
func indexLabels(planned []plan.Entry, perImage [][]plan.Entry) []plan.Entry {
	out := make([]plan.Entry, 0, len(planned))
	for _, e := range planned {
		agreed, same := "", len(perImage) > 0
		for _, labels := range perImage {
			v, origin := lookup(labels, e.Key)
			if origin != plan.FromImage || (agreed != "" && v != agreed) {
				same = false
				break
			}
			agreed = v
		}
		if same {
			e = plan.Entry{Key: e.Key, Value: agreed, Origin: plan.FromImage}
		}
		out = append(out, e)
	}
	return out
}

func lookup(entries []plan.Entry, key string) (string, plan.Origin) {
	for _, e := range entries {
		if e.Key == key {
			return e.Value, e.Origin
		}
	}
	return "", ""
}

// stampedIndex is the stamped index. It hands its children to go-containerregistry
// as they are (partial.Manifests), so remote children keep their mountable
// layers.
type stampedIndex struct {
	mediaType types.MediaType
	raw       []byte
	children  map[v1.Hash]v1.Image
	descs     []document
}

func (i *stampedIndex) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *stampedIndex) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *stampedIndex) Size() (int64, error)                { return int64(len(i.raw)), nil }

func (i *stampedIndex) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(i.raw))
	return h, err
}

func (i *stampedIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(i.raw))
}

func (i *stampedIndex) Image(h v1.Hash) (v1.Image, error) {
	img, ok := i.children[h]
	if !ok {
		return nil, fmt.Errorf("no image %s in the index", h)
	}
	return img, nil
}

func (i *stampedIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("no index %s in the index: nested indexes are flattened", h)
}

// Manifests implements partial's withManifests, in index order.
func (i *stampedIndex) Manifests() ([]partial.Describable, error) {
	m, err := i.IndexManifest()
	if err != nil {
		return nil, err
	}
	out := make([]partial.Describable, 0, len(m.Manifests))
	for _, d := range m.Manifests {
		img, err := i.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}
