package stamp

import (
	"bytes"
	"encoding/json"
)

// document is a JSON object whose fields we do not all know; unknown ones
// pass through untouched.
type document map[string]json.RawMessage

// mustMarshal marshals values that cannot fail to marshal: strings, numbers,
// string maps and documents of valid JSON.
func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
