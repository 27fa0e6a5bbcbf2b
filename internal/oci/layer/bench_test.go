package layer

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchTree writes a generated tree of about 32 MiB: 64 files, half random
// (incompressible, like compiled binaries' data sections) and half text-like
// (compressible), and returns the total file bytes.
func benchTree(b *testing.B, dir string) int64 {
	b.Helper()
	rng := rand.New(rand.NewChaCha8([32]byte{2}))
	words := []string{"oci", "assemble ", "layer\n", "registry ", "manifest ", "{\"a\": 1}\n", "func main() {}\n"}
	var total int64
	for i := range 64 {
		buf := make([]byte, 512<<10)
		if i%2 == 0 {
			for j := range buf {
				buf[j] = byte(rng.Uint32())
			}
		} else {
			n := 0
			for n < len(buf) {
				n += copy(buf[n:], words[rng.IntN(len(words))])
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%8), fmt.Sprintf("f%02d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(buf))
	}
	return total
}

// BenchmarkLayer measures layer throughput (MB/s of file content) for gzip
// and zstd against the floor of building the tar and its sha256 alone. It
// reports; it asserts nothing about time.
func BenchmarkLayer(b *testing.B) {
	dir := b.TempDir()
	total := benchTree(b, dir)
	r, ok, err := Expand(Spec{Files: []File{{Src: "./", Dest: "/data/"}}}, amd64, dir)
	if err != nil || !ok {
		b.Fatal(ok, err)
	}
	for _, bc := range []struct {
		name string
		c    Compression
	}{
		{name: "tar+sha256"},
		{name: "gzip", c: Gzip},
		{name: "zstd", c: Zstd},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := []Option{}
			if bc.c != "" {
				opts = append(opts, WithCompression(bc.c, 0))
			}
			bl, err := NewBuilder(r, opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(total)
			b.ReportAllocs()
			var size int64
			for b.Loop() {
				if bc.c == "" {
					if _, err := bl.writeUncompressed(io.Discard); err != nil {
						b.Fatal(err)
					}
					continue
				}
				l, err := bl.Layer()
				if err != nil {
					b.Fatal(err)
				}
				readDiscard(b, l)
				if size, err = l.Size(); err != nil {
					b.Fatal(err)
				}
			}
			if size > 0 {
				b.ReportMetric(float64(size)/float64(total), "ratio")
			}
		})
	}
}

// BenchmarkGzipLevels compares the gzip levels' throughput and ratio on
// the same tree, with one and two blocks compressed at once, as evidence
// for the default level (docs/benchmarks.md). It asserts nothing.
func BenchmarkGzipLevels(b *testing.B) {
	dir := b.TempDir()
	total := benchTree(b, dir)
	r, ok, err := Expand(Spec{Files: []File{{Src: "./", Dest: "/data/"}}}, amd64, dir)
	if err != nil || !ok {
		b.Fatal(ok, err)
	}
	for _, conc := range []int{1, 2} {
		for level := 1; level <= 9; level++ {
			b.Run(fmt.Sprintf("conc=%d/level=%d", conc, level), func(b *testing.B) {
				bl, err := NewBuilder(r, WithCompression(Gzip, level), WithConcurrency(conc))
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(total)
				var size int64
				for b.Loop() {
					s, err := bl.writeCompressed(io.Discard)
					if err != nil {
						b.Fatal(err)
					}
					size = s.size
				}
				b.ReportMetric(float64(size)/float64(total), "ratio")
			})
		}
	}
}
