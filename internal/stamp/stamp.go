// Package stamp writes a plan's labels into an image's config and the same
// keys as annotations onto its manifest, without touching layer blobs.
//
// It edits the raw JSON documents rather than go-containerregistry's structs:
// fields those structs do not know (BuildKit's, for one) survive, and an image
// that already carries the metadata comes back byte-identical, so re-running a
// publish gives the same digest.
package stamp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ghcr-publish/publish-action/internal/ocijson"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// Result is the metadata as published, with the origin of each value.
type Result struct {
	Labels      []plan.Entry
	Annotations []plan.Entry
	// ConvertedToOCI is true when a Docker v2 schema 2 manifest was rewritten
	// with OCI media types, because the Docker schema has no annotations.
	ConvertedToOCI bool
	// Changed is false when the image already carried everything, and so
	// kept its digest.
	Changed bool
	// Warnings say which of the image's values were replaced because they
	// looked inherited or describe another build.
	Warnings []string
	// Entries describe each manifest of an index: its platform, digest and
	// fate. Image leaves it empty; ImageEntry makes the one entry of a
	// single image.
	Entries []Entry
}

// Preview is the metadata a plan would stamp on an image that carries none:
// what metadata-only mode outputs.
func Preview(p plan.Plan) Result {
	labels := append([]plan.Entry(nil), p.Labels...)
	return Result{Labels: labels, Annotations: annotate(labels, nil, p)}
}

// Image stamps img according to p: the plan's labels into its config (see
// merge), the same keys as annotations onto its manifest (see annotate). An
// image that carries them already comes back as it was, digest and all.
func Image(img v1.Image, p plan.Plan) (v1.Image, Result, error) {
	docs, err := readDocuments(img)
	if err != nil {
		return nil, Result{}, err
	}
	config, labels, warnings, err := relabelConfig(docs.config, p)
	if err != nil {
		return nil, Result{}, err
	}
	m, err := reannotateManifest(docs.manifest, labels, p)
	if err != nil {
		return nil, Result{}, err
	}
	res := Result{Labels: labels, Annotations: m.entries, Warnings: warnings}

	// The Docker schema has no annotations: an image that gains some
	// becomes an OCI image, its config made valid under the OCI schema.
	convert := docs.mediaType == types.DockerManifestSchema2 && len(m.annotations) > 0
	if convert {
		if config, err = ociConfig(config); err != nil {
			return nil, Result{}, fmt.Errorf("parsing config: %w", err)
		}
	}
	configChanged := !bytes.Equal(config, docs.config)
	if !configChanged && maps.Equal(m.annotations, m.old) {
		return img, res, nil
	}
	if configChanged {
		if err := m.describeConfig(config); err != nil {
			return nil, Result{}, err
		}
	}
	out, err := assemble(img, docs.mediaType, m, config, convert)
	if err != nil {
		return nil, Result{}, err
	}
	res.Changed, res.ConvertedToOCI = true, convert
	return out, res, nil
}

// imageDocuments are an image's raw manifest and config, as read.
type imageDocuments struct {
	mediaType        types.MediaType
	manifest, config []byte
}

// readDocuments reads the manifest and config of an image that can be
// stamped: an OCI or Docker v2 schema 2 image, within a registry's size
// limit for either document.
func readDocuments(img v1.Image) (imageDocuments, error) {
	mt, err := img.MediaType()
	if err != nil {
		return imageDocuments{}, fmt.Errorf("reading media type: %w", err)
	}
	switch mt {
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
	default:
		return imageDocuments{}, fmt.Errorf("unsupported manifest media type %q: only OCI and Docker v2 schema 2 image manifests can be stamped", mt)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return imageDocuments{}, fmt.Errorf("reading config: %w", err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return imageDocuments{}, fmt.Errorf("reading manifest: %w", err)
	}
	if len(rawConfig) > source.MaxDocument || len(rawManifest) > source.MaxDocument {
		return imageDocuments{}, fmt.Errorf("the config (%d bytes) or manifest (%d bytes) is larger than the %d a registry accepts", len(rawConfig), len(rawManifest), source.MaxDocument)
	}
	return imageDocuments{mediaType: mt, manifest: rawManifest, config: rawConfig}, nil
}

// relabelConfig merges the plan's labels into the config's (see merge). It
// returns raw itself, the same bytes, when the labels come out as they were,
// so that an image stamped before keeps its config digest; else the config
// with only config.Labels rewritten. labels are the values as published.
func relabelConfig(raw []byte, p plan.Plan) (config []byte, labels []plan.Entry, warnings []string, err error) {
	var cfg document
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, nil, nil, fmt.Errorf("parsing config: %w", err)
	}
	if cfg == nil {
		// JSON null unmarshals to a nil map without error.
		return nil, nil, nil, fmt.Errorf("parsing config: it is null, not a JSON object")
	}
	var inner document
	if v, ok := cfg["config"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &inner); err != nil {
			return nil, nil, nil, fmt.Errorf("parsing config.config: %w", err)
		}
	}
	existing := map[string]string{}
	if v, ok := inner["Labels"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &existing); err != nil {
			return nil, nil, nil, fmt.Errorf("parsing config labels: %w", err)
		}
	}

	merged, labels, warnings := merge(existing, p)
	if maps.Equal(merged, existing) {
		return raw, labels, warnings, nil
	}
	if inner == nil {
		inner = document{}
	}
	if len(merged) == 0 {
		delete(inner, "Labels")
	} else {
		inner["Labels"] = mustMarshal(merged)
	}
	cfg["config"] = mustMarshal(inner)
	return mustMarshal(cfg), labels, warnings, nil
}

// manifestEdit is an image manifest being stamped: the document, and its
// annotations before and after, with the entries the report shows.
type manifestEdit struct {
	doc              document
	old, annotations map[string]string
	entries          []plan.Entry
}

// reannotateManifest parses an image manifest, refuses one with more than
// MaxLayers layers, and works out its annotations (see reannotate).
func reannotateManifest(raw []byte, labels []plan.Entry, p plan.Plan) (manifestEdit, error) {
	var m document
	if err := json.Unmarshal(raw, &m); err != nil {
		return manifestEdit{}, fmt.Errorf("parsing manifest: %w", err)
	}
	if m == nil {
		return manifestEdit{}, fmt.Errorf("parsing manifest: it is null, not a JSON object")
	}
	if n, err := countLayers(m); err != nil {
		return manifestEdit{}, fmt.Errorf("parsing manifest layers: %w", err)
	} else if n > MaxLayers {
		return manifestEdit{}, fmt.Errorf("the manifest lists %d layers, more than the %d a publish accepts; squash the image", n, MaxLayers)
	}
	old, annotations, entries, err := reannotate(m, labels, p)
	if err != nil {
		return manifestEdit{}, fmt.Errorf("parsing manifest annotations: %w", err)
	}
	return manifestEdit{doc: m, old: old, annotations: annotations, entries: entries}, nil
}

// describeConfig points the manifest's config descriptor at config, keeping
// the descriptor's other fields.
func (m manifestEdit) describeConfig(config []byte) error {
	var desc document
	if err := json.Unmarshal(m.doc["config"], &desc); err != nil {
		return fmt.Errorf("parsing config descriptor: %w", err)
	}
	if desc == nil {
		return fmt.Errorf("parsing config descriptor: it is missing or null")
	}
	h, size, err := v1.SHA256(bytes.NewReader(config))
	if err != nil {
		return err
	}
	desc["digest"] = mustMarshal(h.String())
	desc["size"] = mustMarshal(size)
	m.doc["config"] = mustMarshal(desc)
	return nil
}

// assemble writes the manifest with its new annotations (retyped to OCI
// when convert is set) and makes the stamped image: that manifest and
// config over base's layers.
func assemble(base v1.Image, mt types.MediaType, m manifestEdit, config []byte, convert bool) (v1.Image, error) {
	if len(m.annotations) > 0 {
		m.doc["annotations"] = mustMarshal(m.annotations)
	} else {
		delete(m.doc, "annotations")
	}
	var retyped map[v1.Hash]types.MediaType
	if convert {
		var err error
		if retyped, err = toOCI(m.doc); err != nil {
			return nil, err
		}
		mt = types.OCIManifestSchema1
	}
	configDigest, _, err := v1.SHA256(bytes.NewReader(config))
	if err != nil {
		return nil, err
	}
	core := &stamped{
		base:         base,
		mediaType:    mt,
		manifest:     ocijson.Marshal(m.doc, ocijson.ManifestOrder),
		config:       config,
		configDigest: configDigest,
		retyped:      retyped,
	}
	derived, err := partial.CompressedToImage(core)
	if err != nil {
		return nil, fmt.Errorf("assembling stamped image: %w", err)
	}
	return &stampedImage{Image: derived, core: core}, nil
}

// MaxLayers bounds the layers of one manifest. The Docker engine runs no
// image with more than 127 (overlayfs stacks at most 128 lower
// directories); a manifest listing thousands is an attack on the push, which
// would check each one.
const MaxLayers = 1000

// countLayers counts the manifest's layer descriptors without decoding them.
func countLayers(m document) (int, error) {
	raw, ok := m["layers"]
	if !ok || isNull(raw) {
		return 0, nil
	}
	var layers []json.RawMessage
	if err := json.Unmarshal(raw, &layers); err != nil {
		return 0, err
	}
	return len(layers), nil
}

// merge applies the plan's labels to the image's with the documented
// precedence (plan.KeepsImageValue): inputs always win; the run's revision,
// created and version always win; otherwise a Dockerfile's own LABEL is
// never overwritten by a guess, unless the image's labels look inherited
// from another project's base image, where they are replaced (or dropped)
// and a warning says so.
func merge(existing map[string]string, p plan.Plan) (map[string]string, []plan.Entry, []string) {
	labels := maps.Clone(existing)
	effective := make([]plan.Entry, 0, len(p.Labels))
	var replaced, warnings []string
	planned := map[string]bool{}
	for _, e := range p.Labels {
		planned[e.Key] = true
		cur, ok := existing[e.Key]
		if ok && p.KeepsImageValue(e, cur, existing) {
			effective = append(effective, plan.Entry{Key: e.Key, Value: cur, Origin: plan.FromImage})
			continue
		}
		if ok && cur != "" && cur != e.Value && !e.Origin.Explicit() {
			replaced = append(replaced, fmt.Sprintf("%s %q", shortKey(e.Key), cut(cur)))
		}
		labels[e.Key] = e.Value
		effective = append(effective, e)
	}
	for _, k := range sortedKeys(existing) {
		if !planned[k] && p.DropsInherited(k, existing) {
			delete(labels, k)
			replaced = append(replaced, fmt.Sprintf("%s %q (dropped: this run has none)", shortKey(k), cut(existing[k])))
		}
	}
	if len(replaced) > 0 && p.Inherited(existing) {
		warnings = append(warnings, p.InheritedWarning(existing, replaced))
	} else if len(replaced) > 0 {
		warnings = append(warnings, fmt.Sprintf("the image's %s were replaced by this run's values: revision, created and version describe this build", strings.Join(replaced, ", ")))
	}
	for _, k := range p.RemoveLabels {
		delete(labels, k)
	}
	return labels, effective, warnings
}

// shortKey drops the org.opencontainers.image. prefix for messages.
func shortKey(k string) string { return strings.TrimPrefix(k, "org.opencontainers.image.") }

// cut shortens a value quoted in a warning.
func cut(v string) string {
	if len(v) > 80 {
		return v[:80] + "…"
	}
	return v
}

func sortedKeys(m map[string]string) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}

// annotate gives the manifest the same keys as the labels the plan manages,
// then the explicit annotations, which win. An annotation already on the
// manifest stands against a derived value as an existing label does.
func annotate(labels []plan.Entry, existing map[string]string, p plan.Plan) []plan.Entry {
	out := map[string]plan.Entry{}
	for _, e := range labels {
		if cur, ok := existing[e.Key]; ok && cur != "" && cur != e.Value && (e.Origin == plan.FromImage || p.KeepsImageValue(e, cur, existing)) {
			e = plan.Entry{Key: e.Key, Value: cur, Origin: plan.FromImage}
		}
		out[e.Key] = e
	}
	for _, e := range p.Annotations {
		out[e.Key] = e
	}
	entries := make([]plan.Entry, 0, len(out))
	for _, e := range out {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	return entries
}

// reannotate computes a manifest's or index's annotations: the ones it has,
// less removed labels, plus the plan's (see annotate). It returns the old
// set, the new set and the entries for the report.
func reannotate(doc document, labels []plan.Entry, p plan.Plan) (old, updated map[string]string, entries []plan.Entry, err error) {
	old = map[string]string{}
	if raw, ok := doc["annotations"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &old); err != nil {
			return nil, nil, nil, err
		}
	}
	entries = annotate(labels, old, p)
	updated = maps.Clone(old)
	for _, k := range p.RemoveLabels {
		delete(updated, k)
	}
	for _, e := range entries {
		updated[e.Key] = e.Value
	}
	return old, updated, entries, nil
}

// dockerToOCI maps Docker layer media types to their OCI equivalents; the
// blobs are the same bytes, only the descriptors change (image-spec,
// "Compatibility with Docker Image Manifest Version 2 Schema 2").
var dockerToOCI = map[types.MediaType]types.MediaType{
	types.DockerLayer:             types.OCILayer,
	types.DockerForeignLayer:      types.OCIRestrictedLayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
	types.DockerConfigJSON:        types.OCIConfigJSON,
}

// toOCI rewrites a Docker v2s2 manifest's media types in place and returns
// the new media type of each layer whose type changed.
func toOCI(m document) (map[v1.Hash]types.MediaType, error) {
	m["mediaType"] = mustMarshal(types.OCIManifestSchema1)
	var desc document
	if err := json.Unmarshal(m["config"], &desc); err != nil {
		return nil, fmt.Errorf("parsing config descriptor: %w", err)
	}
	if desc == nil {
		return nil, fmt.Errorf("parsing config descriptor: it is missing or null")
	}
	if _, _, err := retype(desc); err != nil {
		return nil, err
	}
	m["config"] = mustMarshal(desc)
	var layers []document
	if err := json.Unmarshal(m["layers"], &layers); err != nil {
		return nil, fmt.Errorf("parsing layer descriptors: %w", err)
	}
	retyped := map[v1.Hash]types.MediaType{}
	for _, l := range layers {
		mt, changed, err := retype(l)
		if err != nil {
			return nil, err
		}
		if changed {
			var h v1.Hash
			if err := json.Unmarshal(l["digest"], &h); err != nil {
				return nil, fmt.Errorf("parsing layer digest: %w", err)
			}
			retyped[h] = mt
		}
	}
	m["layers"] = mustMarshal(layers)
	return retyped, nil
}

// ociConfig makes a Docker config body valid under the OCI config schema
// (image-spec schema/config-schema.json), which allows null only for
// Entrypoint, Cmd, Volumes and Labels: Docker writes null for unset fields
// ("Env": null, as buildah commit --format docker does), which means the same
// as leaving them out. rootfs.diff_ids, required, becomes []. A config
// without nulls comes back byte-identical.
func ociConfig(raw []byte) ([]byte, error) {
	var cfg document
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	changed := dropNulls(cfg, nil)
	if inner, ok := cfg["config"]; ok {
		var c document
		if err := json.Unmarshal(inner, &c); err != nil {
			return nil, err
		}
		if dropNulls(c, []string{"Entrypoint", "Cmd", "Volumes", "Labels"}) {
			cfg["config"], changed = mustMarshal(c), true
		}
	}
	if r, ok := cfg["rootfs"]; ok {
		var rootfs document
		if err := json.Unmarshal(r, &rootfs); err != nil {
			return nil, err
		}
		if ids, ok := rootfs["diff_ids"]; !ok || isNull(ids) {
			rootfs["diff_ids"] = json.RawMessage("[]")
			cfg["rootfs"], changed = mustMarshal(rootfs), true
		}
	}
	if h, ok := cfg["history"]; ok {
		var history []document
		if err := json.Unmarshal(h, &history); err != nil {
			return nil, err
		}
		edited := false
		for _, e := range history {
			edited = dropNulls(e, nil) || edited
		}
		if edited {
			cfg["history"], changed = mustMarshal(history), true
		}
	}
	if !changed {
		return raw, nil
	}
	return mustMarshal(cfg), nil
}

// dropNulls removes d's null fields but those named in keep, and reports
// whether it removed any.
func dropNulls(d document, keep []string) bool {
	changed := false
	for k, v := range d {
		if isNull(v) && !slices.Contains(keep, k) {
			delete(d, k)
			changed = true
		}
	}
	return changed
}

func retype(desc document) (types.MediaType, bool, error) {
	var mt types.MediaType
	if err := json.Unmarshal(desc["mediaType"], &mt); err != nil {
		return "", false, fmt.Errorf("parsing descriptor media type: %w", err)
	}
	oci, ok := dockerToOCI[mt]
	if ok {
		desc["mediaType"] = mustMarshal(oci)
	}
	return oci, ok, nil
}

// stamped is the core of the new image: a new manifest and config over the
// original's layers.
type stamped struct {
	base         v1.Image
	mediaType    types.MediaType
	manifest     []byte
	config       []byte
	configDigest v1.Hash
	// retyped are layers whose descriptors changed media type in the
	// conversion to OCI; their blobs are the same.
	retyped map[v1.Hash]types.MediaType
}

func (s *stamped) MediaType() (types.MediaType, error) { return s.mediaType, nil }
func (s *stamped) RawManifest() ([]byte, error)        { return s.manifest, nil }
func (s *stamped) RawConfigFile() ([]byte, error)      { return s.config, nil }

func (s *stamped) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	return s.layer(h)
}

// layer serves blob h: the new config, or the original's layer as it was.
func (s *stamped) layer(h v1.Hash) (v1.Layer, error) {
	if h == s.configDigest {
		return partial.ConfigLayer(s)
	}
	l, err := s.base.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	mt, ok := s.retyped[h]
	if !ok {
		return l, nil
	}
	// Keep a remote layer mountable: go-containerregistry mounts only a
	// *remote.MountableLayer, so re-wrap it rather than hide it.
	if ml, isMountable := l.(*remote.MountableLayer); isMountable {
		return &remote.MountableLayer{Layer: &retypedLayer{Layer: ml.Layer, mediaType: mt}, Reference: ml.Reference}, nil
	}
	return &retypedLayer{Layer: l, mediaType: mt}, nil
}

// stampedImage is the stamped image. partial.CompressedToImage derives everything
// else, but wraps every layer it hands out, which would hide a
// *remote.MountableLayer and turn a cross-repository mount into a download
// and re-upload; so the layer methods return the original layers directly.
type stampedImage struct {
	v1.Image
	core *stamped
}

func (i *stampedImage) Layers() ([]v1.Layer, error) {
	m, err := i.Manifest()
	if err != nil {
		return nil, err
	}
	layers := make([]v1.Layer, 0, len(m.Layers))
	for _, d := range m.Layers {
		l, err := i.core.layer(d.Digest)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	return layers, nil
}

func (i *stampedImage) LayerByDigest(h v1.Hash) (v1.Layer, error) { return i.core.layer(h) }

func (i *stampedImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	digest, err := partial.DiffIDToBlob(i, h)
	if err != nil {
		return nil, err
	}
	return i.core.layer(digest)
}

// retypedLayer is a layer under its OCI media type.
type retypedLayer struct {
	v1.Layer
	mediaType types.MediaType
}

func (l *retypedLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
