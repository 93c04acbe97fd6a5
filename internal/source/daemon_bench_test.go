package source

import (
	"compress/gzip"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/pgzip"
)

// layerData is a layer-sized mix of text-like (compressible) and random
// bytes, as real layers are.
func layerData(b *testing.B, size int) []byte {
	b.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	words := []byte("usr/lib/libexample.so.1 ELF GNU config license readme binary ")
	for i := 0; i < size; i += 4096 {
		end := min(i+4096, size)
		if (i/4096)%2 == 0 {
			for j := i; j < end; j++ {
				data[j] = byte(r.Uint32())
			}
		} else {
			for j := i; j < end; j++ {
				data[j] = words[r.IntN(len(words))]
			}
		}
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
	b.Run("pgzip", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			zw, _ := pgzip.NewWriterLevel(io.Discard, pgzip.DefaultCompression)
			zw.SetConcurrency(1<<20, 2*runtime.GOMAXPROCS(0))
			zw.Write(data)
			zw.Close()
		}
	})
}
