package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/ocijson"
)

// A docker save archive comes in two shapes. Engines from 25 on write an OCI
// layout (oci-layout, index.json, blobs/) holding the whole image — every
// platform of a multi-platform image and its attestations, in the containerd
// image store — plus manifest.json, a one-platform view kept for old
// clients. Older engines write only manifest.json, with one directory per
// layer. The OCI layout is read when there is one; manifest.json otherwise.
//
// Either way each layer blob is taken for what its bytes are: compressed
// blobs (gzip or zstd) are published as they are, under the media type that
// says so, after checking they decompress to their diff IDs; plain ones are
// gzip-compressed once. A manifest whose layers change is rewritten, and so
// is every index above it.

const (
	// annotationImageName is the full reference containerd and moby write on
	// index.json entries; org.opencontainers.image.ref.name holds the tag alone.
	annotationImageName = "io.containerd.image.name"
	annotationRefType   = "vnd.docker.reference.type"
	annotationRefDigest = "vnd.docker.reference.digest"
)

// errMissing marks a manifest whose blobs an export lacks.
var errMissing = errors.New("blob missing from the export")

// export is a docker save archive being read, and the documents and layers
// it yields as they are to be published.
type export struct {
	tar *tarIndex
	dir string // receives the compressed copies of plain layers
	// docs are manifests and indexes by the digest they are published under;
	// configs likewise.
	docs    map[v1.Hash]document
	configs map[v1.Hash][]byte
	layers  map[v1.Hash]*exportLayer
	// Notices are for the user: what was left out, and why.
	notices []string
	// missing are the platforms left out for want of blobs.
	missing []v1.Platform
	// compressedFrom are the plain layers compressed so far, by diff ID.
	compressedFrom map[v1.Hash]*exportLayer
}

type document struct {
	raw []byte
	mt  types.MediaType
}

// exportLayer is a layer blob: an entry of the archive, or a compressed copy.
type exportLayer struct {
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
	entry     string
	file      string
	// urls are where clients fetch a foreign layer, which has no entry
	// or file here.
	urls []string
}

func newExport(t *tarIndex, dir string) *export {
	return &export{tar: t, dir: dir, docs: map[v1.Hash]document{}, configs: map[v1.Hash][]byte{}, layers: map[v1.Hash]*exportLayer{}}
}

func blobPath(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }

// blob reads a document blob and checks it against its digest.
func (e *export) blob(what string, h v1.Hash) ([]byte, error) {
	if !e.tar.has(blobPath(h)) {
		return nil, fmt.Errorf("%s %s: %w", what, h, errMissing)
	}
	raw, err := e.tar.read(blobPath(h))
	if err != nil {
		return nil, err
	}
	if err := checkBytes(what, raw, h); err != nil {
		return nil, err
	}
	return raw, nil
}

// load reads the image the archive holds (ref selects one by REPO:TAG when
// it holds several) into a Loaded over e.
func (e *export) load(ctx context.Context, ref string) (*Loaded, error) {
	var (
		desc v1.Descriptor
		err  error
	)
	if e.tar.has("index.json") && e.tar.has("oci-layout") {
		desc, err = e.fromIndexJSON(ctx, ref)
	} else if e.tar.has("manifest.json") {
		desc, err = e.fromManifestJSON(ctx, ref)
	} else {
		return nil, errors.New("it has neither index.json nor manifest.json; it is not a docker save archive")
	}
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		return &Loaded{Index: &exportIndex{e: e, desc: desc}, Notices: e.notices, Missing: e.missing}, nil
	}
	img, err := e.image(desc.Digest)
	if err != nil {
		return nil, err
	}
	return &Loaded{Image: img, Notices: e.notices, Missing: e.missing}, nil
}

// fromIndexJSON selects the entry of index.json to publish and reads it.
func (e *export) fromIndexJSON(ctx context.Context, ref string) (v1.Descriptor, error) {
	raw, err := e.tar.read("index.json")
	if err != nil {
		return v1.Descriptor{}, err
	}
	top, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index.json: %w", err)
	}
	// One entry per tag: an image saved under two tags is listed twice.
	var names []string
	chosen := map[v1.Hash]v1.Descriptor{}
	for _, d := range top.Manifests {
		n := d.Annotations[annotationImageName]
		if n == "" {
			n = d.Annotations[specs.AnnotationRefName]
		}
		if n != "" {
			names = append(names, n)
		}
		if ref == "" || sameTag(n, ref) {
			chosen[d.Digest] = d
		}
	}
	switch {
	case len(top.Manifests) == 0:
		return v1.Descriptor{}, errors.New("it holds no image (index.json lists none)")
	case len(chosen) == 0:
		return v1.Descriptor{}, fmt.Errorf("no image tagged %s in it (tags there: %s)", ref, list(names))
	case len(chosen) > 1:
		return v1.Descriptor{}, fmt.Errorf("it holds %d images; add :REPO:TAG to choose one (tags there: %s)", len(chosen), list(names))
	}
	var d v1.Descriptor
	for _, c := range chosen {
		d = c
	}
	switch {
	case d.MediaType.IsIndex():
		return e.index(ctx, d)
	case d.MediaType.IsImage():
		return e.manifest(ctx, d)
	}
	return v1.Descriptor{}, fmt.Errorf("index.json entry %s has media type %q, which is not an image", d.Digest, d.MediaType)
}

// sameTag reports whether reference n names tag ref, as Docker normalizes
// names (foo:1 is docker.io/library/foo:1).
func sameTag(n, ref string) bool {
	if n == "" {
		return false
	}
	a, err := name.NewTag(n)
	if err != nil {
		return false
	}
	b, err := name.NewTag(ref)
	if err != nil {
		return false
	}
	return a.Name() == b.Name()
}

// index reads an index and its children, leaving out children whose blobs
// the export lacks (a partly pulled multi-platform image exports the index
// of every platform and the blobs of those pulled), and the attestations of
// those. It returns the index's descriptor as published.
func (e *export) index(ctx context.Context, d v1.Descriptor) (v1.Descriptor, error) {
	raw, err := e.blob("index", d.Digest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", d.Digest, err)
	}
	var children []map[string]json.RawMessage
	if err := json.Unmarshal(doc["manifests"], &children); err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", d.Digest, err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", d.Digest, err)
	}
	read, err := e.children(ctx, im)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if len(read.dropped) == 0 && len(read.renamed) == 0 {
		e.docs[d.Digest] = document{raw: raw, mt: d.MediaType}
		return d, nil
	}
	kept, images, err := read.kept(im, children)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", d.Digest, err)
	}
	if images == 0 {
		return v1.Descriptor{}, fmt.Errorf("index %s: the export has the blobs of none of its images (%s): %w", d.Digest, strings.Join(read.left, ", "), errMissing)
	}
	if len(read.left) > 0 {
		e.notices = append(e.notices, fmt.Sprintf("the export lacks the blobs of %s (a multi-platform image only partly pulled into the engine?), so they are left out; docker pull --platform fetches a missing platform", strings.Join(read.left, ", ")))
	}
	doc["manifests"] = marshal(kept)
	return e.store(d, doc), nil
}

// indexChildren is what reading the children of an index gave.
type indexChildren struct {
	// published are the children as published, by position in the
	// index; nil for one left out.
	published []*v1.Descriptor
	// renamed maps the digest of a child rewritten here to its new one.
	renamed map[string]string
	// dropped are the digests of the children left out.
	dropped map[string]bool
	// left names the children left out, for the notice.
	left []string
}

// children reads the children of index im, images first, so attestations
// know which images stay and under which digest.
func (e *export) children(ctx context.Context, im *v1.IndexManifest) (*indexChildren, error) {
	read := &indexChildren{published: make([]*v1.Descriptor, len(im.Manifests)), renamed: map[string]string{}, dropped: map[string]bool{}}
	for pass := range 2 {
		for i, c := range im.Manifests {
			attestation := isAttestation(c)
			if attestation != (pass == 1) {
				continue
			}
			if attestation && read.dropped[c.Annotations[annotationRefDigest]] {
				continue
			}
			got, err := e.child(ctx, c)
			if errors.Is(err, errMissing) {
				read.dropped[c.Digest.String()] = true
				read.left = append(read.left, e.leftOut(im, c))
				continue
			}
			if err != nil {
				return nil, err
			}
			read.published[i] = &got
			if got.Digest != c.Digest {
				read.renamed[c.Digest.String()] = got.Digest.String()
			}
		}
	}
	return read, nil
}

func isAttestation(c v1.Descriptor) bool {
	return c.Annotations[annotationRefType] == "attestation-manifest"
}

// child reads the child c of an index, as published.
func (e *export) child(ctx context.Context, c v1.Descriptor) (v1.Descriptor, error) {
	switch {
	case c.MediaType.IsIndex():
		return e.index(ctx, c)
	case c.MediaType.IsImage():
		return e.manifest(ctx, c)
	}
	// Not an image (an artifact): its blobs are not ours to judge.
	if !e.tar.has(blobPath(c.Digest)) {
		return v1.Descriptor{}, fmt.Errorf("%w", errMissing)
	}
	return c, nil
}

// leftOut names the child c of im, left out for want of its blobs, and
// counts its platform missing.
func (e *export) leftOut(im *v1.IndexManifest, c v1.Descriptor) string {
	switch {
	case isAttestation(c):
		return "the attestation of " + platformOfRef(im, c)
	case c.Platform != nil:
		e.missing = append(e.missing, *c.Platform)
		return platformName(*c.Platform)
	}
	return c.Digest.String()
}

// kept is the manifests list of index im as published: the children
// (their JSON, as the index has them) that stay, under the digests they
// are published under, with attestations naming those; and how many of
// them are images.
func (read *indexChildren) kept(im *v1.IndexManifest, children []map[string]json.RawMessage) ([]map[string]json.RawMessage, int, error) {
	var kept []map[string]json.RawMessage
	images := 0
	for i, c := range children {
		p := read.published[i]
		if p == nil {
			continue
		}
		c["digest"] = marshal(p.Digest.String())
		c["size"] = marshal(p.Size)
		c["mediaType"] = marshal(p.MediaType)
		if old := im.Manifests[i].Annotations[annotationRefDigest]; read.renamed[old] != "" {
			var ann map[string]string
			if err := json.Unmarshal(c["annotations"], &ann); err != nil {
				return nil, 0, err
			}
			ann[annotationRefDigest] = read.renamed[old]
			c["annotations"] = marshal(ann)
		}
		if !isAttestation(im.Manifests[i]) {
			images++
		}
		kept = append(kept, c)
	}
	return kept, images, nil
}

// platformOfRef names the platform of the image an attestation refers to.
func platformOfRef(im *v1.IndexManifest, att v1.Descriptor) string {
	for _, c := range im.Manifests {
		if c.Digest.String() == att.Annotations[annotationRefDigest] && c.Platform != nil {
			return platformName(*c.Platform)
		}
	}
	return att.Digest.String()
}

// platformName is p as the index writes it, variant included (arm64/v8).
func platformName(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// store keeps a rewritten document and returns d describing it.
func (e *export) store(d v1.Descriptor, doc map[string]json.RawMessage) v1.Descriptor {
	raw := ocijson.Marshal(doc, ocijson.ManifestOrder)
	h, size, _ := v1.SHA256(bytes.NewReader(raw))
	if mt, ok := doc["mediaType"]; ok {
		_ = json.Unmarshal(mt, &d.MediaType)
	}
	d.Digest, d.Size = h, size
	e.docs[h] = document{raw: raw, mt: d.MediaType}
	return d
}

// manifest reads an image manifest with its config and layers; see layer.
func (e *export) manifest(ctx context.Context, d v1.Descriptor) (v1.Descriptor, error) {
	raw, err := e.blob("manifest", d.Digest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
	}
	config, cf, err := e.manifestConfig(d, m)
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt := m.MediaType
	if mt == "" {
		mt = d.MediaType
	}
	// Every blob first: an image the export lacks part of is left out
	// whole, before any layer is compressed.
	for _, l := range m.Layers {
		if !e.tar.has(blobPath(l.Digest)) && len(l.URLs) == 0 {
			return v1.Descriptor{}, fmt.Errorf("layer %s: %w", l.Digest, errMissing)
		}
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
	}
	var layerDocs []map[string]json.RawMessage
	if err := json.Unmarshal(doc["layers"], &layerDocs); err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
	}
	changed, toOCI, err := e.manifestLayers(ctx, m, cf, mt, layerDocs)
	if err != nil {
		return v1.Descriptor{}, err
	}
	e.configs[m.Config.Digest] = config
	if toOCI {
		retypeToOCI(doc, layerDocs)
	}
	if !changed && !toOCI {
		e.docs[d.Digest] = document{raw: raw, mt: mt}
		return d, nil
	}
	doc["layers"] = marshal(layerDocs)
	return e.store(d, doc), nil
}

// manifestConfig reads the config of m, the manifest d, and checks that it
// gives each filesystem layer a diff ID.
func (e *export) manifestConfig(d v1.Descriptor, m *v1.Manifest) ([]byte, *v1.ConfigFile, error) {
	config, err := e.blob("config", m.Config.Digest)
	if err != nil {
		return nil, nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(config))
	if err != nil {
		return nil, nil, fmt.Errorf("parsing config %s: %w", m.Config.Digest, err)
	}
	// Only filesystem layers have diff IDs: BuildKit's attestation
	// manifests list an in-toto layer and no diff ID.
	filesystem := 0
	for _, l := range m.Layers {
		if isTarLayer(l.MediaType) {
			filesystem++
		}
	}
	if filesystem > 0 && len(m.Layers) != len(cf.RootFS.DiffIDs) {
		return nil, nil, fmt.Errorf("manifest %s lists %d layers and its config %d diff IDs", d.Digest, len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	return config, cf, nil
}

// manifestLayers reads the layers of m, of media type mt, and rewrites in
// layerDocs (the manifest's JSON of them) those published otherwise than
// m lists them. changed says one was; toOCI that the manifest must become
// OCI to describe them.
func (e *export) manifestLayers(ctx context.Context, m *v1.Manifest, cf *v1.ConfigFile, mt types.MediaType, layerDocs []map[string]json.RawMessage) (changed, toOCI bool, err error) {
	for i, l := range m.Layers {
		if foreign(l) || !e.tar.has(blobPath(l.Digest)) {
			// Fetched from its urls: published as the source lists it.
			e.addForeign(l)
			continue
		}
		if !isTarLayer(l.MediaType) {
			// Not a filesystem layer (an attestation's in-toto statement):
			// published as it is, checked against its digest as it streams.
			e.layers[l.Digest] = &exportLayer{digest: l.Digest, size: l.Size, mediaType: l.MediaType, entry: blobPath(l.Digest)}
			continue
		}
		got, oci, err := e.layer(ctx, blobPath(l.Digest), l, cf.RootFS.DiffIDs[i], mt)
		if err != nil {
			return false, false, fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
		}
		toOCI = toOCI || oci
		if got.digest != l.Digest || got.mediaType != l.MediaType {
			layerDocs[i]["digest"] = marshal(got.digest.String())
			layerDocs[i]["size"] = marshal(got.size)
			layerDocs[i]["mediaType"] = marshal(got.mediaType)
			changed = true
		}
	}
	return changed, toOCI, nil
}

// foreign reports whether d is a layer clients fetch from its urls rather
// than from the registry: a non-distributable layer that lists some
// (image-spec, "Non-distributable layers"; docker save's LayerSources). It
// is published under the descriptor its source gives, whatever the
// archive holds in its place, and never uploaded: a digest made here from
// the archive's copy would not be the one at its urls, and clients
// fetching it there refuse it (digest mismatch).
func foreign(d v1.Descriptor) bool {
	return !d.MediaType.IsDistributable() && len(d.URLs) > 0
}

// addForeign records the layer d, fetched from its urls, so the image
// lists it; its blob is not the export's to give.
func (e *export) addForeign(d v1.Descriptor) {
	if _, ok := e.layers[d.Digest]; !ok {
		e.layers[d.Digest] = &exportLayer{digest: d.Digest, size: d.Size, mediaType: d.MediaType, urls: d.URLs}
	}
}

// isTarLayer reports whether mt is a filesystem layer, whose compression
// the bytes tell.
func isTarLayer(mt types.MediaType) bool {
	switch mt {
	case types.DockerLayer, types.DockerForeignLayer, types.DockerUncompressedLayer,
		types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer,
		types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer,
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd":
		return true
	}
	return false
}

// retypeToOCI gives a Docker manifest OCI media types, for a zstd layer the
// Docker schema cannot describe.
func retypeToOCI(doc map[string]json.RawMessage, layers []map[string]json.RawMessage) {
	doc["mediaType"] = marshal(types.OCIManifestSchema1)
	var cfg map[string]json.RawMessage
	if json.Unmarshal(doc["config"], &cfg) == nil {
		cfg["mediaType"] = marshal(types.OCIConfigJSON)
		doc["config"] = marshal(cfg)
	}
	for _, l := range layers {
		var mt types.MediaType
		_ = json.Unmarshal(l["mediaType"], &mt)
		switch mt {
		case types.DockerLayer:
			l["mediaType"] = marshal(types.OCILayer)
		case types.DockerForeignLayer:
			l["mediaType"] = marshal(types.OCIRestrictedLayer)
		}
	}
}

// layer reads the blob at entry, listed as desc, and returns it as it is to
// be published: a compressed blob as it is, once checked against diffID; a
// plain one gzip-compressed into e.dir. oci says the manifest must become
// OCI to describe it (zstd in a Docker manifest).
func (e *export) layer(ctx context.Context, entry string, desc v1.Descriptor, diffID v1.Hash, manifest types.MediaType) (*exportLayer, bool, error) {
	rc, _, err := e.tar.open(entry)
	if err != nil {
		return nil, false, err
	}
	c, err := sniff(ctxReader{ctx, rc})
	rc.Close()
	if err != nil {
		return nil, false, err
	}
	if c == plain {
		if l, ok := e.byDiffID(diffID); ok {
			return l, false, nil // a layer two images share, compressed once
		}
	} else if l, ok := e.layers[desc.Digest]; ok && desc.Digest.Hex != "" {
		// A blob two images share, checked once.
		mt, oci := layerMediaType(desc.MediaType, c, manifest)
		return &exportLayer{digest: l.digest, size: l.size, mediaType: mt, entry: l.entry}, oci, nil
	}
	rc, _, err = e.tar.open(entry)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	out := &exportLayer{entry: entry}
	if c == plain {
		out.file = filepath.Join(e.dir, fmt.Sprintf("layer-%d.tar.gz", len(e.layers)))
		out.digest, out.size, err = gzipLayer(ctxReader{ctx, rc}, diffID, out.file)
		c = gzipped
	} else {
		out.digest, out.size, err = checkLayer(ctxReader{ctx, rc}, c, diffID)
		if err == nil && desc.Digest.Hex != "" && (out.digest != desc.Digest || out.size != desc.Size) {
			err = fmt.Errorf("its blob hashes to %s (%d bytes), not %s (%d bytes); the export is corrupt", out.digest, out.size, desc.Digest, desc.Size)
		}
	}
	if err != nil {
		return nil, false, err
	}
	var oci bool
	out.mediaType, oci = layerMediaType(desc.MediaType, c, manifest)
	e.layers[out.digest] = out
	e.plainIDs(out, diffID)
	return out, oci, nil
}

// byDiffID finds a plain layer already compressed for another image.
func (e *export) byDiffID(diffID v1.Hash) (*exportLayer, bool) {
	l, ok := e.compressedFrom[diffID]
	return l, ok
}

func (e *export) plainIDs(l *exportLayer, diffID v1.Hash) {
	if l.file == "" {
		return
	}
	if e.compressedFrom == nil {
		e.compressedFrom = map[v1.Hash]*exportLayer{}
	}
	e.compressedFrom[diffID] = l
}

// dockerManifestEntry is an entry of docker save's manifest.json.
type dockerManifestEntry struct {
	Config       string
	RepoTags     []string
	Layers       []string
	LayerSources map[v1.Hash]v1.Descriptor `json:",omitempty"`
}

// fromManifestJSON reads the image manifest.json lists (ref selects one by
// REPO:TAG when it lists several) and builds its manifest: Docker v2
// schema 2, or OCI when a layer is zstd.
func (e *export) fromManifestJSON(ctx context.Context, ref string) (v1.Descriptor, error) {
	m, err := e.manifestJSONEntry(ref)
	if err != nil {
		return v1.Descriptor{}, err
	}
	config, err := e.tar.read(m.Config)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading config: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(config))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing config %s: %w", m.Config, err)
	}
	if len(m.Layers) != len(cf.RootFS.DiffIDs) {
		return v1.Descriptor{}, fmt.Errorf("manifest.json lists %d layers and the config %d diff IDs", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	configDigest, configSize, _ := v1.SHA256(bytes.NewReader(config))
	e.configs[configDigest] = config
	mt := types.DockerManifestSchema2
	layers, oci, err := e.entryLayers(ctx, m, cf, mt)
	if err != nil {
		return v1.Descriptor{}, err
	}
	configType := types.DockerConfigJSON
	if oci {
		mt, configType = types.OCIManifestSchema1, types.OCIConfigJSON
	}
	doc := map[string]json.RawMessage{
		"schemaVersion": marshal(2),
		"mediaType":     marshal(mt),
		"config":        marshal(v1.Descriptor{MediaType: configType, Size: configSize, Digest: configDigest}),
		"layers":        marshal(layers),
	}
	if oci {
		var ls []map[string]json.RawMessage
		_ = json.Unmarshal(doc["layers"], &ls)
		retypeToOCI(doc, ls)
		doc["layers"] = marshal(ls)
	}
	return e.store(v1.Descriptor{MediaType: mt}, doc), nil
}

// manifestJSONEntry is the entry of manifest.json to publish: the one
// tagged ref, or the only one when ref is empty.
func (e *export) manifestJSONEntry(ref string) (dockerManifestEntry, error) {
	raw, err := e.tar.read("manifest.json")
	if err != nil {
		return dockerManifestEntry{}, err
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return dockerManifestEntry{}, fmt.Errorf("parsing manifest.json: %w", err)
	}
	var tags []string
	var chosen []dockerManifestEntry
	for _, m := range entries {
		tags = append(tags, m.RepoTags...)
		if ref == "" || slices.ContainsFunc(m.RepoTags, func(t string) bool { return sameTag(t, ref) }) {
			chosen = append(chosen, m)
		}
	}
	switch {
	case len(entries) == 0:
		return dockerManifestEntry{}, errors.New("it holds no image (manifest.json lists none)")
	case len(chosen) == 0:
		return dockerManifestEntry{}, fmt.Errorf("no image tagged %s in it (tags there: %s)", ref, list(tags))
	case len(chosen) > 1:
		return dockerManifestEntry{}, fmt.Errorf("it holds %d images; add :REPO:TAG to choose one (tags there: %s)", len(chosen), list(tags))
	}
	return chosen[0], nil
}

// entryLayers reads the layers of manifest.json's entry m into the
// descriptors of a manifest of media type mt; oci says it must become OCI
// to describe them.
func (e *export) entryLayers(ctx context.Context, m dockerManifestEntry, cf *v1.ConfigFile, mt types.MediaType) ([]v1.Descriptor, bool, error) {
	var layers []v1.Descriptor
	oci := false
	for i, p := range m.Layers {
		diffID := cf.RootFS.DiffIDs[i]
		src, listed := m.LayerSources[diffID]
		if listed && (foreign(src) || !e.tar.has(p)) {
			// Fetched from its urls: published as LayerSources gives it,
			// whatever the archive holds at p (docker save writes the
			// layer's tar there too).
			e.addForeign(src)
			layers = append(layers, src)
			continue
		}
		declared := types.DockerLayer
		if listed {
			declared = src.MediaType
		}
		l, needOCI, err := e.layer(ctx, p, v1.Descriptor{MediaType: declared}, diffID, mt)
		if err != nil {
			return nil, false, fmt.Errorf("layer %d (%s): %w", i, p, err)
		}
		oci = oci || needOCI
		desc := v1.Descriptor{MediaType: l.mediaType, Size: l.size, Digest: l.digest}
		if listed {
			desc.URLs, desc.Annotations = src.URLs, src.Annotations
		}
		layers = append(layers, desc)
	}
	return layers, oci, nil
}

// marshal marshals values that cannot fail to: strings, numbers,
// descriptors and documents of valid JSON.
func marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// image is the image published under manifest digest h.
func (e *export) image(h v1.Hash) (v1.Image, error) {
	d, ok := e.docs[h]
	if !ok || !d.mt.IsImage() {
		return nil, fmt.Errorf("no image %s in the export", h)
	}
	img, err := partial.CompressedToImage(&exportImage{e: e, doc: d})
	if err != nil {
		return nil, err
	}
	return &withFiles{Image: img, e: e}, nil
}

// withFiles is an image of the export whose layers say which of them are
// files of their own (see exportFileLayer).
type withFiles struct {
	v1.Image
	e *export
}

func (i *withFiles) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	for n, l := range ls {
		if ls[n], err = i.file(l); err != nil {
			return nil, err
		}
	}
	return ls, nil
}

func (i *withFiles) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return i.file(l)
}

func (i *withFiles) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDiffID(h)
	if err != nil {
		return nil, err
	}
	return i.file(l)
}

// file marks l when its blob is a compressed copy made here.
func (i *withFiles) file(l v1.Layer) (v1.Layer, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	if el, ok := i.e.layers[d]; ok && el.file != "" {
		return &exportFileLayer{Layer: l, file: el.file}, nil
	}
	return l, nil
}

// exportImage is an image of the export as it is to be published.
type exportImage struct {
	e   *export
	doc document
}

func (i *exportImage) MediaType() (types.MediaType, error) { return i.doc.mt, nil }
func (i *exportImage) RawManifest() ([]byte, error)        { return i.doc.raw, nil }

func (i *exportImage) RawConfigFile() ([]byte, error) {
	m, err := v1.ParseManifest(bytes.NewReader(i.doc.raw))
	if err != nil {
		return nil, err
	}
	c, ok := i.e.configs[m.Config.Digest]
	if !ok {
		return nil, fmt.Errorf("no config %s in the export", m.Config.Digest)
	}
	return c, nil
}

func (i *exportImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := i.e.layers[h]; ok {
		return &exportBlob{e: i.e, l: l}, nil
	}
	if cfg, err := partial.ConfigLayer(i); err == nil {
		if d, err := cfg.Digest(); err == nil && d == h {
			return cfg, nil
		}
	}
	return nil, fmt.Errorf("no blob %s in the export", h)
}

// exportBlob serves a layer, checked against its digest as it streams: the
// archive is read again at push time, after the check when it was loaded.
type exportBlob struct {
	e *export
	l *exportLayer
}

func (b *exportBlob) Digest() (v1.Hash, error)            { return b.l.digest, nil }
func (b *exportBlob) Size() (int64, error)                { return b.l.size, nil }
func (b *exportBlob) MediaType() (types.MediaType, error) { return b.l.mediaType, nil }

func (b *exportBlob) Compressed() (io.ReadCloser, error) {
	var rc io.ReadCloser
	var err error
	switch {
	case b.l.file != "":
		rc, err = openFile(b.l.file, "layer "+b.l.digest.String())
	case b.l.entry == "":
		return nil, fmt.Errorf("layer %s is not in the export: clients fetch it from %s", b.l.digest, strings.Join(b.l.urls, ", "))
	default:
		rc, _, err = b.e.tar.open(b.l.entry)
	}
	if err != nil {
		return nil, err
	}
	return newVerifier(rc, "layer", b.l.digest, b.l.size), nil
}

// exportFileLayer is a layer of the export whose blob is a compressed copy
// made here, a file of its own.
type exportFileLayer struct {
	v1.Layer
	file string
}

// OpenBlobFile opens the layer's compressed copy, which the export wrote
// and hashed itself, for an upload to send whole from the file
// (sendfile). Blobs that are entries of the engine's archive are read as
// a stream.
func (l *exportFileLayer) OpenBlobFile() (*os.File, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	return openFile(l.file, "layer "+d.String())
}

// exportIndex is an index of the export as it is to be published.
type exportIndex struct {
	e    *export
	desc v1.Descriptor
}

func (x *exportIndex) MediaType() (types.MediaType, error) { return x.desc.MediaType, nil }
func (x *exportIndex) Digest() (v1.Hash, error)            { return x.desc.Digest, nil }
func (x *exportIndex) Size() (int64, error)                { return x.desc.Size, nil }
func (x *exportIndex) RawManifest() ([]byte, error)        { return x.e.docs[x.desc.Digest].raw, nil }

func (x *exportIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.e.docs[x.desc.Digest].raw))
}

func (x *exportIndex) Image(h v1.Hash) (v1.Image, error) { return x.e.image(h) }

func (x *exportIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, ok := x.e.docs[h]
	if !ok || !d.mt.IsIndex() {
		return nil, fmt.Errorf("no index %s in the export", h)
	}
	return &exportIndex{e: x.e, desc: v1.Descriptor{MediaType: d.mt, Digest: h, Size: int64(len(d.raw))}}, nil
}
