package ocijson

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   map[string]json.RawMessage
		order []string
		want  string
	}{
		{"empty", map[string]json.RawMessage{}, ManifestOrder, `{}`},
		{"nil", nil, ManifestOrder, `{}`},
		{
			"known fields in the spec's order, then the rest sorted",
			map[string]json.RawMessage{
				"zeta": json.RawMessage(`1`), "annotations": json.RawMessage(`{}`), "alpha": json.RawMessage(`2`),
				"config": json.RawMessage(`{}`), "schemaVersion": json.RawMessage(`2`), "mediaType": json.RawMessage(`"m"`),
			},
			ManifestOrder,
			`{"schemaVersion":2,"mediaType":"m","config":{},"annotations":{},"alpha":2,"zeta":1}`,
		},
		{
			"descriptor order",
			map[string]json.RawMessage{
				"platform": json.RawMessage(`{"os":"linux"}`), "size": json.RawMessage(`7`),
				"digest": json.RawMessage(`"sha256:x"`), "mediaType": json.RawMessage(`"m"`),
			},
			DescriptorOrder,
			`{"mediaType":"m","digest":"sha256:x","size":7,"platform":{"os":"linux"}}`,
		},
		{
			"values compacted, nested key order kept",
			map[string]json.RawMessage{"layers": json.RawMessage("[ {\n \"b\" : 1 ,\t\"a\" : [ 1, 2 ] } ]")},
			ManifestOrder,
			`{"layers":[{"b":1,"a":[1,2]}]}`,
		},
		{"a value that is not JSON is written as it is", map[string]json.RawMessage{"x": json.RawMessage(`{ oops`)}, nil, `{"x":{ oops}`},
		{"keys escaped as encoding/json escapes strings", map[string]json.RawMessage{"a<b\"": json.RawMessage(`1`)}, nil, `{"a\u003cb\"":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(Marshal(tt.doc, tt.order)); got != tt.want {
				t.Errorf("Marshal() = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestMarshalManifest pins the bytes of one parsed manifest: the digests of
// rewritten documents (an export's, a stamped image's) are taken over these
// bytes, so a change here changes every such digest.
func TestMarshalManifest(t *testing.T) {
	t.Parallel()
	raw := []byte(`{
		"annotations": {"org.opencontainers.image.version": "1.0"},
		"layers": [{"size": 3, "digest": "sha256:` + strings.Repeat("b", 64) + `", "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}],
		"config": {"size": 2, "digest": "sha256:` + strings.Repeat("a", 64) + `", "mediaType": "application/vnd.oci.image.config.v1+json"},
		"mediaType": "application/vnd.oci.image.manifest.v1+json",
		"x-unknown": true,
		"schemaVersion": 2
	}`)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"size":2,"digest":"sha256:` + strings.Repeat("a", 64) + `","mediaType":"application/vnd.oci.image.config.v1+json"},` +
		`"layers":[{"size":3,"digest":"sha256:` + strings.Repeat("b", 64) + `","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip"}],` +
		`"annotations":{"org.opencontainers.image.version":"1.0"},"x-unknown":true}`
	for range 20 { // map iteration order differs from call to call
		got := Marshal(doc, ManifestOrder)
		if string(got) != want {
			t.Fatalf("Marshal() = %s, want %s", got, want)
		}
	}
}
