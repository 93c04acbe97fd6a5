package source_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// The shapes of docker save archives engines write, crafted byte by byte as
// moby (classic store, engine 25 on), containerd (the containerd image
// store) and engines before 25 write them, so the reader is tested on each
// without an engine. The engine tests (daemon_test.go) check the same
// against a real Docker 29 engine in both stores.

// craft builds an archive's entries.
type craft struct {
	files map[string][]byte
}

func newCraft() *craft { return &craft{files: map[string][]byte{}} }

// blob stores b under blobs/sha256/ and returns its descriptor.
func (c *craft) blob(mt types.MediaType, b []byte) v1.Descriptor {
	h, n, _ := v1.SHA256(bytes.NewReader(b))
	c.files[path.Join("blobs", h.Algorithm, h.Hex)] = b
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}
}

func (c *craft) json(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	c.files[name] = b
}

// write writes the archive, entries in name order, and returns its path.
func (c *craft) write(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "export.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	names := make([]string, 0, len(c.files))
	for n := range c.files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c.files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(c.files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// layerTar is a filesystem layer holding one file.
func layerTar(content string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "file.txt", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	return b.Bytes()
}

type comp int

const (
	plainC comp = iota
	gzipC
	zstdC
)

func compress(b []byte, c comp) []byte {
	var out bytes.Buffer
	switch c {
	case gzipC:
		zw := gzip.NewWriter(&out)
		zw.Write(b)
		zw.Close()
	case zstdC:
		zw, _ := zstd.NewWriter(&out)
		zw.Write(b)
		zw.Close()
	default:
		return b
	}
	return out.Bytes()
}

var ociType = map[comp]types.MediaType{plainC: types.OCIUncompressedLayer, gzipC: types.OCILayer, zstdC: types.OCILayerZStd}

type layerSpec struct {
	content string
	comp    comp
	// declared overrides the media type the manifest gives the layer.
	declared types.MediaType
}

// image stores an OCI image's config, layers and manifest and returns the
// manifest's descriptor; missing layers are listed but not stored (a
// platform not pulled).
func (c *craft) image(p v1.Platform, layers []layerSpec, missing bool) v1.Descriptor {
	cfg := v1.ConfigFile{Architecture: p.Architecture, OS: p.OS, Variant: p.Variant, RootFS: v1.RootFS{Type: "layers"}}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	for _, l := range layers {
		raw := layerTar(l.content)
		h, _, _ := v1.SHA256(bytes.NewReader(raw))
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
		mt := ociType[l.comp]
		if l.declared != "" {
			mt = l.declared
		}
		blob := compress(raw, l.comp)
		d := c.blob(mt, blob)
		if missing {
			delete(c.files, path.Join("blobs", d.Digest.Algorithm, d.Digest.Hex))
		}
		m.Layers = append(m.Layers, d)
	}
	cb, _ := json.Marshal(cfg)
	m.Config = c.blob(types.OCIConfigJSON, cb)
	mb, _ := json.Marshal(m)
	d := c.blob(types.OCIManifestSchema1, mb)
	d.Platform = &p
	return d
}

// attestation stores a BuildKit attestation manifest for subject.
func (c *craft) attestation(subject v1.Descriptor) v1.Descriptor {
	statement := []byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}`)
	layer := c.blob("application/vnd.in-toto+json", statement)
	layer.Annotations = map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}
	// As BuildKit writes it: no diff ID for the in-toto layer.
	cfg, _ := json.Marshal(v1.ConfigFile{Architecture: "unknown", OS: "unknown", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{}}})
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: c.blob(types.OCIConfigJSON, cfg), Layers: []v1.Descriptor{layer}}
	mb, _ := json.Marshal(m)
	d := c.blob(types.OCIManifestSchema1, mb)
	d.Platform = &v1.Platform{Architecture: "unknown", OS: "unknown"}
	d.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": subject.Digest.String()}
	return d
}

func (c *craft) index(children ...v1.Descriptor) v1.Descriptor {
	b, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: children})
	return c.blob(types.OCIImageIndex, b)
}

// layout writes oci-layout and index.json naming each entry by its tag, as
// moby and containerd do.
func (c *craft) layout(tagged map[string]v1.Descriptor) {
	c.files["oci-layout"] = []byte(`{"imageLayoutVersion":"1.0.0"}`)
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	tags := make([]string, 0, len(tagged))
	for t := range tagged {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	for _, t := range tags {
		d := tagged[t]
		d.Platform = nil
		d.Annotations = map[string]string{"io.containerd.image.name": "docker.io/library/" + t, "org.opencontainers.image.ref.name": t[strings.LastIndex(t, ":")+1:]}
		idx.Manifests = append(idx.Manifests, d)
	}
	c.json("index.json", idx)
}

// manifestJSON writes manifest.json for images (tag → manifest).
func (c *craft) manifestJSON(tagged map[string]v1.Descriptor) {
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	entries := []entry{}
	for t, d := range tagged {
		var m v1.Manifest
		json.Unmarshal(c.files[path.Join("blobs/sha256", d.Digest.Hex)], &m)
		e := entry{Config: path.Join("blobs/sha256", m.Config.Digest.Hex), RepoTags: []string{t}}
		for _, l := range m.Layers {
			e.Layers = append(e.Layers, path.Join("blobs/sha256", l.Digest.Hex))
		}
		entries = append(entries, e)
	}
	c.json("manifest.json", entries)
}

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// shape is what a loaded export must be.
type shape struct {
	// platforms of the image(s), attestations as "attestation of "+platform.
	platforms []string
	// layerTypes of every image, in order, joined by ",".
	layerTypes []string
	manifest   types.MediaType
	// sameDigest: the published digest is the exported one, unchanged.
	sameDigest bool
	missing    []string
	notice     string
}

func TestLoadEngineExports(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		build func(c *craft) v1.Descriptor
		ref   string
		want  shape
		err   string
	}{{
		// moby's classic store from engine 25 on: an OCI manifest over plain
		// layers, in index.json and manifest.json.
		name: "classic v25",
		build: func(c *craft) v1.Descriptor {
			d := c.image(amd64, []layerSpec{{"one", plainC, ""}, {"two", plainC, ""}}, false)
			c.layout(map[string]v1.Descriptor{"app:v1": d})
			c.manifestJSON(map[string]v1.Descriptor{"app:v1": d})
			return d
		},
		want: shape{platforms: []string{"linux/amd64"}, layerTypes: []string{string(types.OCILayer) + "," + string(types.OCILayer)}, manifest: types.OCIManifestSchema1},
	}, {
		// The containerd store: a multi-platform index with BuildKit's
		// attestations, gzip layers as pushed; manifest.json lists amd64 only.
		name: "containerd gzip with attestations",
		build: func(c *craft) v1.Descriptor {
			a := c.image(amd64, []layerSpec{{"amd", gzipC, ""}}, false)
			b := c.image(arm64, []layerSpec{{"arm", gzipC, ""}}, false)
			idx := c.index(a, b, c.attestation(a), c.attestation(b))
			c.layout(map[string]v1.Descriptor{"app:v1": idx})
			c.manifestJSON(map[string]v1.Descriptor{"app:v1": a})
			return idx
		},
		want: shape{platforms: []string{"linux/amd64", "linux/arm64/v8", "attestation of linux/amd64", "attestation of linux/arm64/v8"}, layerTypes: []string{string(types.OCILayer), string(types.OCILayer), "application/vnd.in-toto+json", "application/vnd.in-toto+json"}, sameDigest: true},
	}, {
		name: "zstd",
		build: func(c *craft) v1.Descriptor {
			d := c.image(amd64, []layerSpec{{"one", zstdC, ""}, {"two", zstdC, ""}}, false)
			c.layout(map[string]v1.Descriptor{"app:v1": d})
			c.manifestJSON(map[string]v1.Descriptor{"app:v1": d})
			return d
		},
		want: shape{platforms: []string{"linux/amd64"}, layerTypes: []string{string(types.OCILayerZStd) + "," + string(types.OCILayerZStd)}, manifest: types.OCIManifestSchema1, sameDigest: true},
	}, {
		// Blobs as stored after a classic image was loaded and built on:
		// gzip, zstd and plain in one image, some declared wrongly.
		name: "mixed compression",
		build: func(c *craft) v1.Descriptor {
			d := c.image(amd64, []layerSpec{{"gz", gzipC, ""}, {"zs", zstdC, types.OCILayer}, {"plain", plainC, types.OCILayer}}, false)
			c.layout(map[string]v1.Descriptor{"app:v1": d})
			return d
		},
		want: shape{platforms: []string{"linux/amd64"}, layerTypes: []string{strings.Join([]string{string(types.OCILayer), string(types.OCILayerZStd), string(types.OCILayer)}, ",")}, manifest: types.OCIManifestSchema1},
	}, {
		// An engine before 25: manifest.json only, mixed compression.
		name: "manifest.json only, mixed compression",
		build: func(c *craft) v1.Descriptor {
			d := c.image(amd64, []layerSpec{{"gz", gzipC, ""}, {"plain", plainC, ""}, {"zs", zstdC, ""}}, false)
			c.manifestJSON(map[string]v1.Descriptor{"app:v1": d})
			return d
		},
		want: shape{platforms: []string{"linux/amd64"}, layerTypes: []string{strings.Join([]string{string(types.OCILayer), string(types.OCILayer), string(types.OCILayerZStd)}, ",")}, manifest: types.OCIManifestSchema1},
	}, {
		name: "manifest.json only, gzip and plain",
		build: func(c *craft) v1.Descriptor {
			d := c.image(amd64, []layerSpec{{"gz", gzipC, ""}, {"plain", plainC, ""}}, false)
			c.manifestJSON(map[string]v1.Descriptor{"app:v1": d})
			return d
		},
		want: shape{platforms: []string{"linux/amd64"}, layerTypes: []string{string(types.DockerLayer) + "," + string(types.DockerLayer)}, manifest: types.DockerManifestSchema2},
	}, {
		// One platform of a multi-platform image pulled: the index lists
		// both, the export has the blobs of one.
		name: "partly pulled",
		build: func(c *craft) v1.Descriptor {
			a := c.image(amd64, []layerSpec{{"amd", gzipC, ""}}, false)
			b := c.image(arm64, []layerSpec{{"arm", gzipC, ""}}, true)
			idx := c.index(a, b, c.attestation(a), c.attestation(b))
			c.layout(map[string]v1.Descriptor{"app:v1": idx})
			return idx
		},
		want: shape{platforms: []string{"linux/amd64", "attestation of linux/amd64"}, layerTypes: []string{string(types.OCILayer), "application/vnd.in-toto+json"}, missing: []string{"linux/arm64/v8"}, notice: "lacks the blobs of linux/arm64/v8"},
	}, {
		name: "nothing pulled",
		build: func(c *craft) v1.Descriptor {
			a := c.image(amd64, []layerSpec{{"amd", gzipC, ""}}, true)
			idx := c.index(a)
			c.layout(map[string]v1.Descriptor{"app:v1": idx})
			return idx
		},
		err: "has the blobs of none of its images (linux/amd64)",
	}, {
		name: "empty",
		build: func(c *craft) v1.Descriptor {
			c.layout(nil)
			c.manifestJSON(nil)
			return v1.Descriptor{}
		},
		err: "holds no image",
	}, {
		name: "empty, before 25",
		build: func(c *craft) v1.Descriptor {
			c.manifestJSON(nil)
			return v1.Descriptor{}
		},
		err: "holds no image",
	}, {
		name: "two images, no REF",
		build: func(c *craft) v1.Descriptor {
			a := c.image(amd64, []layerSpec{{"a", gzipC, ""}}, false)
			b := c.image(amd64, []layerSpec{{"b", gzipC, ""}}, false)
			c.layout(map[string]v1.Descriptor{"app:v1": a, "app:v2": b})
			c.manifestJSON(map[string]v1.Descriptor{"app:v1": a, "app:v2": b})
			return v1.Descriptor{}
		},
		err: "holds 2 images; add :REPO:TAG to choose one (tags there: docker.io/library/app:v1, docker.io/library/app:v2)",
	}, {
		name: "two images, REF",
		build: func(c *craft) v1.Descriptor {
			a := c.image(amd64, []layerSpec{{"a", gzipC, ""}}, false)
			b := c.image(arm64, []layerSpec{{"b", gzipC, ""}}, false)
			c.layout(map[string]v1.Descriptor{"app:v1": a, "app:v2": b})
			c.manifestJSON(map[string]v1.Descriptor{"app:v1": a, "app:v2": b})
			return b
		},
		ref:  "app:v2",
		want: shape{platforms: []string{"linux/arm64/v8"}, layerTypes: []string{string(types.OCILayer)}, manifest: types.OCIManifestSchema1, sameDigest: true},
	}, {
		name: "two images, unknown REF",
		build: func(c *craft) v1.Descriptor {
			a := c.image(amd64, []layerSpec{{"a", gzipC, ""}}, false)
			b := c.image(arm64, []layerSpec{{"b", gzipC, ""}}, false)
			c.layout(map[string]v1.Descriptor{"app:v1": a, "app:v2": b})
			return b
		},
		ref: "app:v3",
		err: "no image tagged app:v3 in it",
	}, {
		name: "two images before 25, REF",
		build: func(c *craft) v1.Descriptor {
			a := c.image(amd64, []layerSpec{{"a", plainC, ""}}, false)
			b := c.image(arm64, []layerSpec{{"b", plainC, ""}}, false)
			c.manifestJSON(map[string]v1.Descriptor{"app:v1": a, "app:v2": b})
			return b
		},
		ref:  "docker.io/library/app:v2",
		want: shape{platforms: []string{"linux/arm64/v8"}, layerTypes: []string{string(types.DockerLayer)}, manifest: types.DockerManifestSchema2},
	}, {
		// Documents are bounded before they are read (MaxDocument).
		name: "oversized index.json",
		build: func(c *craft) v1.Descriptor {
			c.layout(nil)
			c.files["index.json"] = bytes.Repeat([]byte(" "), source.MaxDocument+1)
			return v1.Descriptor{}
		},
		err: "index.json is 4194305 bytes, more than the 4194304",
	}, {
		name: "corrupt layer",
		build: func(c *craft) v1.Descriptor {
			d := c.image(amd64, []layerSpec{{"one", gzipC, ""}}, false)
			var m v1.Manifest
			json.Unmarshal(c.files[path.Join("blobs/sha256", d.Digest.Hex)], &m)
			c.files[path.Join("blobs/sha256", m.Layers[0].Digest.Hex)] = compress(layerTar("tampered"), gzipC)
			c.layout(map[string]v1.Descriptor{"app:v1": d})
			return d
		},
		err: "the export is corrupt",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCraft()
			exported := tc.build(c)
			archive := c.write(t)
			tmp := t.TempDir()
			line := "docker-archive:" + archive
			l, err := source.Load(context.Background(), &inputs.Source{Line: line, Transport: inputs.DockerArchive, Path: archive, Ref: tc.ref}, source.Options{TempDir: tmp})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Load() = %v, want an error containing %q", err, tc.err)
				}
				checkEmpty(t, tmp)
				return
			}
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			defer func() {
				if err := l.Close(); err != nil {
					t.Error(err)
				}
				checkEmpty(t, tmp)
			}()
			got := describe(t, l)
			// platforms: linux/arm64 must then fail naming the reason.
			if lacks := l.Lacks([]v1.Platform{amd64, {OS: "linux", Architecture: "arm64"}}); len(tc.want.missing) > 0 != (len(lacks) == 1 && lacks[0] == "linux/arm64") {
				t.Errorf("Lacks(linux/amd64, linux/arm64) = %v with %v missing", lacks, tc.want.missing)
			}
			if tc.want.manifest == "" {
				got.manifest = ""
			}
			if !tc.want.sameDigest {
				got.sameDigest = false
			} else {
				got.sameDigest = got.digest == exported.Digest
			}
			if !strings.Contains(got.notice, tc.want.notice) || (tc.want.notice == "") != (got.notice == "") {
				t.Errorf("notices %q, want one containing %q", got.notice, tc.want.notice)
			}
			got.notice = tc.want.notice
			if diff := cmp.Diff(tc.want, got.shape, cmp.AllowUnexported(shape{})); diff != "" {
				t.Errorf("loaded export mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

type described struct {
	shape
	digest v1.Hash
}

// describe validates what l holds (every layer decompresses to its diff ID,
// as go-containerregistry's validate checks) and sums it up.
func describe(t *testing.T, l *source.Loaded) described {
	t.Helper()
	var out described
	for _, p := range l.Missing {
		out.missing = append(out.missing, platformName(p))
	}
	out.notice = strings.Join(l.Notices, "\n")
	eachImage(t, l, func(plat string, img v1.Image, m *v1.Manifest) {
		var ts []string
		for _, d := range m.Layers {
			ts = append(ts, string(d.MediaType))
		}
		out.layerTypes = append(out.layerTypes, strings.Join(ts, ","))
		out.platforms = append(out.platforms, plat)
		mt, _ := img.MediaType()
		out.manifest = mt
	})
	if l.Image != nil {
		out.digest, _ = l.Image.Digest()
		return out
	}
	out.manifest = ""
	out.digest, _ = l.Index.Digest()
	return out
}

func platformName(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// checkLayers reads every layer of img as a push does: its blob matches its
// digest and size, and for filesystem layers the decompressed content
// (gzip, zstd or plain, told by the bytes) matches the config's diff ID.
func checkLayers(t *testing.T, img v1.Image, m *v1.Manifest) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range m.Layers {
		if d.MediaType == "application/vnd.in-toto+json" {
			continue // an attestation's statement: no diff ID
		}
		if i >= len(cf.RootFS.DiffIDs) {
			t.Fatalf("%d diff IDs for %d layers", len(cf.RootFS.DiffIDs), len(m.Layers))
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, n, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || h != d.Digest || n != d.Size {
			t.Errorf("layer %d: blob %s (%d bytes, %v), want %s (%d bytes)", i, h, n, err, d.Digest, d.Size)
		}
		rc, err = l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err = v1.SHA256(rc)
		rc.Close()
		if err != nil || h != cf.RootFS.DiffIDs[i] {
			t.Errorf("layer %d (%s) decompresses to %s (%v), want diff ID %s", i, d.MediaType, h, err, cf.RootFS.DiffIDs[i])
		}
	}
}

// TestLoadEngineExportLikeOCILayout: an index read from an engine's export
// is the one the same blobs give as an OCI layout (what buildx --output
// type=oci writes), so both publish to the same digest.
func TestLoadEngineExportLikeOCILayout(t *testing.T) {
	t.Parallel()
	c := newCraft()
	a := c.image(amd64, []layerSpec{{"amd", gzipC, ""}}, false)
	b := c.image(arm64, []layerSpec{{"arm", zstdC, ""}}, false)
	idx := c.index(a, b, c.attestation(a), c.attestation(b))
	c.layout(map[string]v1.Descriptor{"app:v1": idx})
	archive := c.write(t)

	dir := t.TempDir()
	for n, b := range c.files {
		if strings.HasPrefix(n, "blobs/") || n == "oci-layout" || n == "index.json" {
			os.MkdirAll(filepath.Join(dir, filepath.Dir(n)), 0o755)
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	fromExport, err := source.Load(context.Background(), &inputs.Source{Transport: inputs.DockerArchive, Path: archive}, source.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer fromExport.Close()
	fromLayout, err := source.Load(context.Background(), &inputs.Source{Transport: inputs.OCILayout, Path: dir}, source.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer fromLayout.Close()
	for _, l := range []*source.Loaded{fromExport, fromLayout} {
		if l.Index == nil {
			t.Fatal("not read as an index")
		}
	}
	got, _ := fromExport.Index.Digest()
	want, _ := fromLayout.Index.Digest()
	if got != want || got != idx.Digest {
		t.Errorf("export read as %s, OCI layout as %s, built as %s", got, want, idx.Digest)
	}
	r1, _ := fromExport.Index.RawManifest()
	r2, _ := fromLayout.Index.RawManifest()
	if !bytes.Equal(r1, r2) {
		t.Errorf("index bytes differ:\n%s\n%s", r1, r2)
	}
}

// Exports recorded from real engines (testdata/exports/README.md says how),
// read without one: every platform, attestation and layer as described, every
// layer decompressing to its diff ID (images checks each).
func TestLoadRecordedExports(t *testing.T) {
	t.Parallel()
	const (
		gz     = types.OCILayer
		zst    = types.OCILayerZStd
		intoto = types.MediaType("application/vnd.in-toto+json")
	)
	multi := map[string][]types.MediaType{
		"linux/amd64": {gz, gz}, "linux/arm64": {gz, gz},
		"attestation of linux/amd64": {intoto}, "attestation of linux/arm64": {intoto},
	}
	tests := []struct {
		file, ref string
		// want maps each image ("os/arch[/variant]", "attestation of …")
		// to its layer media types.
		want    map[string][]types.MediaType
		missing []string
		err     string
		// files: every layer was compressed here, into a file the push
		// can send whole (sendfile).
		files bool
	}{
		// Docker 29, classic store: an OCI manifest over plain layers,
		// compressed once here.
		{file: "classic-v29.tar", want: map[string][]types.MediaType{"linux/amd64": {gz, gz}}, files: true},
		// Docker 29, containerd store, after docker load of a classic save
		// and a build FROM it: two plain layers and a gzip one in one image.
		{file: "containerd-mixed.tar", want: map[string][]types.MediaType{"linux/amd64": {gz, gz, gz}}},
		// buildx --platform linux/amd64,linux/arm64 with provenance.
		{file: "containerd-multi-provenance.tar", want: multi},
		// Its arm64 image removed (as if only amd64 was pulled): arm64 and
		// its attestation are left out, and said to be.
		{file: "containerd-partly-pulled.tar", want: map[string][]types.MediaType{"linux/amd64": {gz}, "attestation of linux/amd64": {intoto}}, missing: []string{"linux/arm64"}},
		// docker image rm --force --platform removed a layer both platforms
		// share: no platform is whole, which is an error, not an empty index.
		{file: "containerd-shared-layer-removed.tar", err: "the export has the blobs of none of its images (linux/amd64, linux/arm64)"},
		{file: "containerd-two-images.tar", err: "it holds 2 images; add :REPO:TAG to choose one (tags there: docker.io/fixture/zstd:1, docker.io/fixture/multi:1)"},
		{file: "containerd-two-images.tar", ref: "fixture/zstd:1", want: map[string][]types.MediaType{"linux/amd64": {zst, zst}}},
		{file: "containerd-two-images.tar", ref: "fixture/multi:1", want: multi},
		// buildx --output type=image,compression=zstd: kept as zstd.
		{file: "containerd-zstd.tar", want: map[string][]types.MediaType{"linux/amd64": {zst, zst}}},
		// Debian's Docker 20.10: manifest.json only, one directory per layer.
		{file: "docker-20.10.tar", want: map[string][]types.MediaType{"linux/amd64": {types.DockerLayer, types.DockerLayer}}, files: true},
	}
	for _, tc := range tests {
		t.Run(tc.file+tc.ref, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("..", "..", "testdata", "exports", tc.file)
			l, err := source.Load(context.Background(), &inputs.Source{Transport: inputs.DockerArchive, Path: path, Ref: tc.ref}, source.Options{TempDir: t.TempDir()})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Load() = %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			defer l.Close()
			got := map[string][]types.MediaType{}
			for k, img := range images(t, l) {
				m, _ := img.Manifest()
				for _, d := range m.Layers {
					got[k] = append(got[k], d.MediaType)
				}
				layers, err := img.Layers()
				if err != nil {
					t.Fatal(err)
				}
				for _, layer := range layers {
					checkBlobFile(t, layer, tc.files)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", tc.file, diff)
			}
			var missing []string
			for _, p := range l.Missing {
				missing = append(missing, platformName(p))
			}
			if diff := cmp.Diff(tc.missing, missing); diff != "" {
				t.Errorf("%s: missing platforms (-want +got):\n%s", tc.file, diff)
			}
		})
	}
}

// checkBlobFile checks that a layer that says its blob is a file names one
// holding exactly the blob, and that one said to be a file is.
func checkBlobFile(t *testing.T, l v1.Layer, want bool) {
	t.Helper()
	digest, _ := l.Digest()
	var f *os.File
	if bf, ok := l.(interface{ OpenBlobFile() (*os.File, error) }); ok {
		var err error
		if f, err = bf.OpenBlobFile(); err != nil {
			t.Fatalf("layer %s: OpenBlobFile() = %v", digest, err)
		}
	}
	if f == nil {
		if want {
			t.Errorf("layer %s: compressed here, but not offered as a file to send", digest)
		}
		return
	}
	defer f.Close()
	got, n, err := v1.SHA256(f)
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := l.Size(); got != digest || n != size {
		t.Errorf("layer %s (%d bytes): its file holds %s (%d bytes)", digest, size, got, n)
	}
}
