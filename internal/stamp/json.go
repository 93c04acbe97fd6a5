package stamp

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
)

// document is a JSON object whose fields we do not all know; unknown ones
// pass through untouched.
type document map[string]json.RawMessage

// manifestOrder is the field order of the image-spec's examples, which
// go-containerregistry and BuildKit also write; readers of raw manifests
// expect it.
var manifestOrder = []string{"schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject", "annotations"}

// marshalOrdered writes d with the keys in order first, then the rest sorted,
// so the bytes (and so the digest) depend only on the content.
func marshalOrdered(d document, order []string) []byte {
	keys := make([]string, 0, len(d))
	for k := range d {
		if !slices.Contains(order, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, k := range append(slices.Clone(order), keys...) {
		v, ok := d[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(mustMarshal(k))
		b.WriteByte(':')
		b.Write(compact(v))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// mustMarshal marshals values that cannot fail to marshal: strings, numbers,
// string maps and documents of valid JSON.
func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
