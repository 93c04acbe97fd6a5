package stamp

import (
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ghcr-publish/publish-action/internal/source"
)

// TestIndexBounds: hostile indexes end in a clear error, not in work that
// doubles per level or recursion without end. fuzzIndex answers every
// nested index with itself, so its nesting is endless.
func TestIndexBounds(t *testing.T) {
	t.Parallel()
	img, err := partial.CompressedToImage(&fuzzCore{mediaType: types.OCIManifestSchema1, manifest: []byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}`), config: []byte(`{"os":"linux","architecture":"amd64"}`)})
	if err != nil {
		t.Fatal(err)
	}
	nested := func(digits ...string) string {
		var ds []string
		for _, d := range digits {
			ds = append(ds, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":1}`, strings.Repeat(d, 64)))
		}
		return `{"schemaVersion":2,"manifests":[` + strings.Join(ds, ",") + `]}`
	}
	var many []string
	for i := 0; i <= MaxManifests; i++ {
		many = append(many, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%064x","size":1,"platform":{"os":"linux","architecture":"arch%d"}}`, i, i))
	}
	tests := []struct {
		name, index, want string
	}{
		{"the next level listed twice", nested("1", "1"), "lists index sha256:1111"},
		{"endless nesting", nested("1"), "lists index sha256:1111"},
		{"too many manifests", `{"schemaVersion":2,"manifests":[` + strings.Join(many, ",") + `]}`, "more than 1000 manifests"},
		{"null", `null`, "it is null"},
	}
	for _, tc := range tests {
		_, _, err := Index([]*source.Loaded{{Line: "oci:out", Index: &fuzzIndex{raw: []byte(tc.index), img: img}}}, derived, RepointAttestations)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "oci:out") {
			t.Errorf("%s: Index() = %v, want an error naming oci:out and saying %q", tc.name, err, tc.want)
		}
	}
}

// chain is an index nested ever deeper, each level a new digest.
type chain struct {
	fuzzIndex
	level int
}

func (c *chain) RawManifest() ([]byte, error) {
	return fmt.Appendf(nil, `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%064x","size":1}]}`, c.level+1), nil
}

func (c *chain) ImageIndex(v1.Hash) (v1.ImageIndex, error) { return &chain{level: c.level + 1}, nil }

func TestIndexDepth(t *testing.T) {
	t.Parallel()
	top := &chain{}
	_, _, err := Index([]*source.Loaded{{Line: "oci:out", Index: top}}, derived, RepointAttestations)
	if err == nil || !strings.Contains(err.Error(), "nests indexes more than 8 deep") {
		t.Errorf("Index() = %v, want the nesting refused", err)
	}
}

// TestImageBounds: a null config and a manifest of too many layers are
// errors, not a panic or a push that checks 100,000 layers.
func TestImageBounds(t *testing.T) {
	t.Parallel()
	layers := strings.TrimSuffix(strings.Repeat(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},`, MaxLayers+1), ",")
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[%s]}`
	tests := []struct {
		name, config, manifest, want string
	}{
		{"null config", `null`, fmt.Sprintf(manifest, ""), "config: it is null"},
		{"null manifest", `{}`, `null`, "manifest: it is null"},
		{"too many layers", `{}`, fmt.Sprintf(manifest, layers), "1001 layers, more than the 1000"},
	}
	for _, tc := range tests {
		img, err := partial.CompressedToImage(&fuzzCore{mediaType: types.OCIManifestSchema1, manifest: []byte(tc.manifest), config: []byte(tc.config)})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Image(img, derived); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Image() = %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// TestHostilePlatform: platform names from an image reach the log, the
// platforms output and the summary; one that could start a workflow command
// is refused in an index and reported as unknown for a single image.
func TestHostilePlatform(t *testing.T) {
	t.Parallel()
	const evil = "amd64\n::add-mask::x\n::error::injected"
	cfg := fmt.Sprintf(`{"os":"linux","architecture":%q}`, evil)
	img, err := partial.CompressedToImage(&fuzzCore{mediaType: types.OCIManifestSchema1, manifest: []byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}`), config: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	index := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%064d","size":1,"platform":{"os":%q,"architecture":"amd64"}}]}`, 1, "linux\n::stop-commands::x")
	for name, sources := range map[string][]*source.Loaded{
		"index descriptor": {{Line: "oci:out", Index: &fuzzIndex{raw: []byte(index), img: img}}},
		"config":           {{Line: "oci:a", Image: img}, {Line: "oci:b", Image: img}},
	} {
		_, _, err := Index(sources, derived, RepointAttestations)
		if err == nil || !strings.Contains(err.Error(), "holds characters no platform name has") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: Index() = %v, want the platform refused on one line", name, err)
		}
	}
	e, err := ImageEntry("oci:out", img, Result{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Platform != "unknown" || e.Written != "unknown" {
		t.Errorf("ImageEntry() platform = %q, %q; want unknown", e.Platform, e.Written)
	}
}
