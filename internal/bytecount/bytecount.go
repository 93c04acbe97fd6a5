// Package bytecount counts the bytes that pass through a reader or a
// writer: where a member starts in a tar archive, how long a blob written
// while it was hashed came out. It is the one such counter the steps and
// the programs under cmd use, a leaf that imports nothing of ours.
package bytecount

import "io"

// Reader reads from R and counts in N the bytes read so far. It is not
// safe for concurrent use, as an io.Reader need not be.
type Reader struct {
	R io.Reader
	N int64
}

func (c *Reader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// Writer writes to W and counts in N the bytes written so far.
type Writer struct {
	W io.Writer
	N int64
}

func (c *Writer) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}
