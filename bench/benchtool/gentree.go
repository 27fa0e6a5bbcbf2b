package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// treeTime is every file's and directory's mtime, so the tree (and a tar of
// it) is the same on every run and machine.
var treeTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// genTree writes a seeded tree of exactly -bytes bytes in -files files.
// Files come in pairs of equal size: one incompressible (random bytes, like
// compiled code and compressed assets) and one compressible (text drawn from
// a Zipf-distributed vocabulary, like source and config, about 3:1 under
// gzip). Sizes vary from a quarter to 1.75 times the mean.
func genTree(args []string) error {
	fl := flag.NewFlagSet("gentree", flag.ContinueOnError)
	dir := fl.String("dir", "", "directory to create (must not exist)")
	total := fl.Int64("bytes", 256<<20, "total bytes of file content (even)")
	files := fl.Int("files", 2000, "number of files (even)")
	seed := fl.Uint64("seed", 1, "seed")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *files < 2 || *files%2 != 0 || *total%2 != 0 || *total < int64(*files) {
		return errors.New("need -dir, an even -files >= 2 and an even -bytes >= -files")
	}
	if _, err := os.Stat(*dir); err == nil {
		return fmt.Errorf("%s exists", *dir)
	}
	var s [32]byte
	for i := range 8 {
		s[i] = byte(*seed >> (8 * i))
	}
	src := rand.NewChaCha8(s)
	rng := rand.New(src)

	sizes := pairSizes(rng, *total, *files/2)
	words := vocabulary(rng, 2048)
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(words)-1))

	buf := make([]byte, 0, 1<<20)
	for i := range *files {
		size := sizes[i/2]
		if cap(buf) < int(size) {
			buf = make([]byte, 0, size)
		}
		buf = buf[:size]
		if i%2 == 0 {
			_, _ = src.Read(buf) // ChaCha8.Read never fails
		} else {
			fillText(buf, words, zipf, rng)
		}
		// 20 top-level directories of 10 subdirectories each.
		d := filepath.Join(*dir, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("s%d", (i/20)%10))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		name := fmt.Sprintf("f%05d.bin", i)
		if i%2 == 1 {
			name = fmt.Sprintf("f%05d.txt", i)
		}
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return err
		}
		if err := os.Chtimes(p, treeTime, treeTime); err != nil {
			return err
		}
	}
	// Directories last: adding an entry changes a directory's mtime.
	err := filepath.WalkDir(*dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chtimes(p, treeTime, treeTime)
	})
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d files, %d bytes (seed %d)\n", *dir, *files, *total, *seed)
	return nil
}

// pairSizes returns n sizes summing to total/2 (each size is used by two
// files), the last one absorbing rounding.
func pairSizes(rng *rand.Rand, total int64, n int) []int64 {
	half := total / 2
	mean := float64(half) / float64(n)
	raw := make([]float64, n)
	var sum float64
	for i := range raw {
		raw[i] = mean * (0.25 + 1.5*rng.Float64())
		sum += raw[i]
	}
	sizes := make([]int64, n)
	var got int64
	for i := range raw {
		sizes[i] = max(1, int64(raw[i]*float64(half)/sum))
		got += sizes[i]
	}
	sizes[n-1] += half - got
	return sizes
}

func vocabulary(rng *rand.Rand, n int) [][]byte {
	const letters = "abcdefghijklmnopqrstuvwxyz_"
	seps := []string{" ", " ", " ", " ", ", ", ".\n", "\n\t", "(", ") ", " = ", ": ", "{\n", "}\n"}
	words := make([][]byte, n)
	for i := range words {
		l := 2 + rng.IntN(10)
		w := make([]byte, 0, l+3)
		for range l {
			w = append(w, letters[rng.IntN(len(letters))])
		}
		w = append(w, seps[rng.IntN(len(seps))]...)
		words[i] = w
	}
	return words
}

func fillText(buf []byte, words [][]byte, zipf *rand.Zipf, rng *rand.Rand) {
	n := 0
	for n < len(buf) {
		w := words[zipf.Uint64()]
		if rng.IntN(16) == 0 {
			// A number now and then, as in logs and config.
			w = fmt.Appendf(nil, "%d ", rng.IntN(100000))
		}
		n += copy(buf[n:], w)
	}
}
