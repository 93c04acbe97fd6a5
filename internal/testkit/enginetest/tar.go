package enginetest

import (
	"archive/tar"
	"io"
	"slices"
	"strings"
)

// writeTar writes files (name → content) as a tar, in name order.
func writeTar(w io.Writer, files map[string]string) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	tw := tar.NewWriter(w)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := io.Copy(tw, strings.NewReader(files[n])); err != nil {
			return err
		}
	}
	return tw.Close()
}
