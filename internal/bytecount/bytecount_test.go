package bytecount

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestCounts(t *testing.T) {
	t.Parallel()
	const text = "twelve bytes"
	r := &Reader{R: strings.NewReader(text)}
	var out bytes.Buffer
	w := &Writer{W: &out}
	// io.CopyBuffer with a small buffer: the counts must add up over many
	// calls, not come from one.
	if _, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	if r.N != int64(len(text)) || w.N != int64(len(text)) || out.String() != text {
		t.Errorf("read %d, wrote %d (%q), want %d each", r.N, w.N, out.String(), len(text))
	}
}
