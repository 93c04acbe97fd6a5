package source

import (
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/pgzip"
)

// layerData is layer-like content: the Go toolchain's own binaries and
// sources, as an image layer holds, up to size bytes.
func layerData(b *testing.B, size int) []byte {
	b.Helper()
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skipf("go env GOROOT: %v", err)
	}
	data := make([]byte, 0, size)
	filepath.WalkDir(strings.TrimSpace(string(goroot)), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || len(data) >= size {
			return nil
		}
		if f, err := os.ReadFile(path); err == nil {
			data = append(data, f[:min(len(f), size-len(data))]...)
		}
		return nil
	})
	if len(data) < size/2 {
		b.Skipf("GOROOT holds only %d bytes", len(data))
	}
	return data
}

// BenchmarkCompressLayer compares the parallel gzip docker-daemon sources
// use with the single-threaded compress/gzip go-containerregistry would use:
//
//	go test ./internal/source/ -run '^$' -bench CompressLayer -benchtime 5x
//
// The target is a ratio of at least 1.8 on 2 cores.
func BenchmarkCompressLayer(b *testing.B) {
	data := layerData(b, 64<<20)
	b.Run("compress-gzip", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			zw, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
			zw.Write(data)
			zw.Close()
		}
	})
	// The same compressor on one block at a time, to separate what the
	// cores give from what klauspost's faster deflate gives.
	for _, blocks := range []int{1, 2 * runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("pgzip-%d-blocks", blocks), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				zw, _ := pgzip.NewWriterLevel(io.Discard, pgzip.DefaultCompression)
				zw.SetConcurrency(1<<20, blocks)
				zw.Write(data)
				zw.Close()
			}
		})
	}
}
