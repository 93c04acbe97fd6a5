// Package ocijson writes OCI JSON documents (manifests, indexes, their
// descriptors) so that the bytes, and so the digest a registry stores them
// under, depend only on the content: the same document written twice, by
// any step, has one digest. It is the one writer source and stamp use for a
// document they rewrite.
package ocijson

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
)

// ManifestOrder is the field order of manifests and indexes in the
// image-spec's examples, which go-containerregistry and BuildKit also
// write; readers of raw manifests expect it.
var ManifestOrder = []string{"schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject", "annotations"}

// DescriptorOrder is the field order of descriptors in the image-spec's
// examples.
var DescriptorOrder = []string{"mediaType", "artifactType", "digest", "size", "urls", "platform", "annotations"}

// Marshal writes doc as one compact JSON object: the keys in order first,
// then the rest sorted, each value compacted (a value that is not valid
// JSON is written as it is). Keys are written as encoding/json writes
// strings.
func Marshal(doc map[string]json.RawMessage, order []string) []byte {
	rest := make([]string, 0, len(doc))
	for k := range doc {
		if !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, k := range append(slices.Clone(order), rest...) {
		v, ok := doc[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(k) // a string always marshals
		b.Write(key)
		b.WriteByte(':')
		b.Write(compact(v))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// compact is raw without insignificant space, or raw itself when it is not
// valid JSON.
func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
