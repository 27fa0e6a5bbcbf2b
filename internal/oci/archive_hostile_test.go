package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
	"github.com/oci-assemble/oci-assemble/internal/oci/source/archive"
)

// archiveEntry is one file of a docker archive written by writeArchive.
type archiveEntry struct {
	name string
	data []byte
}

// writeArchive writes entries as a tar, gzipped when gz, into a file of
// its own directory.
func writeArchive(t *testing.T, gz bool, entries ...archiveEntry) string {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data, p := out.Bytes(), filepath.Join(t.TempDir(), "image.tar")
	if gz {
		data, p = gzipped(t, data), p+".gz"
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// imageEntries are the config and manifest.json of an image whose
// layers are the files names, with diffIDs.
func imageEntries(t *testing.T, names []string, diffIDs []string) []archiveEntry {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		t.Fatal(err)
	}
	man, err := json.Marshal([]map[string]any{{"Config": "config.json", "Layers": names}})
	if err != nil {
		t.Fatal(err)
	}
	return []archiveEntry{{"config.json", cfg}, {"manifest.json", man}}
}

func joinArchive(t *testing.T, p string) error {
	t.Helper()
	a, err := newAssembler()
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Assemble(context.Background(), Plan{Sources: []plan.Ref{{Transport: plan.DockerArchive, Path: p}}})
	return err
}

// TestArchiveCompressedLayersMatchTheirDiffIDs: a layer stored
// compressed in an archive is joined only when its content is what the
// config's diffID says, in a plain and in a gzipped archive, gzip and
// zstd alike.
func TestArchiveCompressedLayersMatchTheirDiffIDs(t *testing.T) {
	t.Parallel()
	clean := tarOf(t, map[string]string{"etc/os-release": "ID=test\n"})
	other := tarOf(t, map[string]string{"etc/os-release": "ID=other\n"})
	tests := []struct {
		name   string
		stored []byte // the layer as the archive stores it
		gz     bool
		ok     bool
	}{
		{"gzip", gzipped(t, clean), false, true},
		{"zstd", zstded(t, clean), false, true},
		{"gzip in a gzipped archive", gzipped(t, clean), true, true},
		{"gzip of other content", gzipped(t, other), false, false},
		{"zstd of other content", zstded(t, other), false, false},
		{"gzip of other content in a gzipped archive", gzipped(t, other), true, false},
		{"gzip with more after the layer", append(gzipped(t, clean), gzipped(t, other)...), false, false},
		{"truncated gzip", gzipped(t, clean)[:40], false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entries := append([]archiveEntry{{"layer.tar", tt.stored}},
				imageEntries(t, []string{"layer.tar"}, []string{hashOf(clean).String()})...)
			err := joinArchive(t, writeArchive(t, tt.gz, entries...))
			if tt.ok {
				if err != nil {
					t.Fatalf("Assemble() = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, archive.ErrMismatch) || !errors.Is(err, plan.ErrSource) {
				t.Errorf("Assemble() = %v, want a source error for a layer that does not match", err)
			}
		})
	}
}

// TestArchiveHostileNames: manifest.json names files only inside the
// archive; a name that leaves it is refused, even where a file of that
// name exists next to the archive, and a name given twice in the tar is
// refused.
func TestArchiveHostileNames(t *testing.T) {
	t.Parallel()
	lt := tarOf(t, map[string]string{"etc/os-release": "ID=test\n"})
	diff := []string{hashOf(lt).String()}
	tests := []struct {
		name    string
		entries func(t *testing.T) []archiveEntry
		want    string
	}{
		{"layer above the archive", func(t *testing.T) []archiveEntry {
			return imageEntries(t, []string{"../outside.tar"}, diff)
		}, `"../outside.tar"`},
		{"absolute layer", func(t *testing.T) []archiveEntry {
			return imageEntries(t, []string{"/etc/passwd"}, diff)
		}, `"/etc/passwd"`},
		{"config above the archive", func(t *testing.T) []archiveEntry {
			man := []byte(`[{"Config":"../../config.json","Layers":[]}]`)
			return []archiveEntry{{"manifest.json", man}}
		}, `"../../config.json"`},
		{"newline in a name", func(t *testing.T) []archiveEntry {
			return imageEntries(t, []string{"a\n::error::b"}, diff)
		}, `"a\n::error::b"`},
		{"file twice", func(t *testing.T) []archiveEntry {
			return append([]archiveEntry{{"layer.tar", lt}, {"./layer.tar", lt}}, imageEntries(t, []string{"layer.tar"}, diff)...)
		}, `"./layer.tar" is in the archive twice`},
	}
	for _, tt := range tests {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s gz=%v", tt.name, gz), func(t *testing.T) {
				t.Parallel()
				p := writeArchive(t, gz, tt.entries(t)...)
				// What the hostile names point at, were they paths.
				if err := os.WriteFile(filepath.Join(filepath.Dir(p), "outside.tar"), lt, 0o644); err != nil {
					t.Fatal(err)
				}
				err := joinArchive(t, p)
				if !errors.Is(err, plan.ErrSource) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Assemble() = %v, want a source error naming %s", err, tt.want)
				}
				if err != nil && strings.Contains(err.Error(), "\n") {
					t.Errorf("Assemble() = %q, want the name escaped", err)
				}
			})
		}
	}
}

// TestArchiveBounds: manifest.json, the config and a compressed layer
// are read within bounds, with an error that says so.
func TestArchiveBounds(t *testing.T) {
	t.Parallel()
	lt := tarOf(t, map[string]string{"etc/os-release": "ID=test\n"})
	tests := []struct {
		name    string
		entries func(t *testing.T) []archiveEntry
	}{
		{"manifest.json too large", func(t *testing.T) []archiveEntry {
			return []archiveEntry{{"manifest.json", append([]byte(`[{"Config":"c"}]`), bytes.Repeat([]byte(" "), source.MaxManifestSize)...)}}
		}},
		{"config too large", func(t *testing.T) []archiveEntry {
			return []archiveEntry{{"config.json", bytes.Repeat([]byte(" "), source.MaxConfigSize+1)},
				{"manifest.json", []byte(`[{"Config":"config.json","Layers":[]}]`)}}
		}},
		{"too many layers", func(t *testing.T) []archiveEntry {
			names := make([]string, archive.MaxLayers+1)
			diffs := make([]string, len(names))
			for i := range names {
				names[i], diffs[i] = "layer.tar", hashOf(lt).String()
			}
			return append([]archiveEntry{{"layer.tar", gzipped(t, lt)}}, imageEntries(t, names, diffs)...)
		}},
		{"zstd layer expands past the bound", func(t *testing.T) []archiveEntry {
			bomb := zstded(t, make([]byte, archive.ExpansionFloor+(64<<20)))
			return append([]archiveEntry{{"layer.tar", bomb}}, imageEntries(t, []string{"layer.tar"}, []string{hashOf(lt).String()})...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := joinArchive(t, writeArchive(t, false, tt.entries(t)...))
			if !errors.Is(err, archive.ErrLimit) || !errors.Is(err, plan.ErrSource) {
				t.Errorf("Assemble() = %v, want a source error over a limit", err)
			}
		})
	}
}

// gzipBomb writes a gzipped archive of one file of size zero bytes: one
// gzip member per MiB (RFC 1952 §2.2 allows any number), so it is made
// without compressing size bytes. It returns the path.
func gzipBomb(t *testing.T, size int64) string {
	t.Helper()
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "layer.tar", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	// The header is written; the content follows as gzip members.
	var out bytes.Buffer
	out.Write(gzipped(t, hdr.Bytes()))
	var mib bytes.Buffer
	zw, err := gzip.NewWriterLevel(&mib, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for range size >> 20 {
		out.Write(mib.Bytes())
	}
	p := filepath.Join(t.TempDir(), "bomb.tar.gz")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestArchiveGzipBomb: a gzipped archive of a few MB that expands to
// 2 GiB stops at a clear error once it expands past its bound, having
// written no more than that bound to its temporary file.
func TestArchiveGzipBomb(t *testing.T) {
	t.Parallel()
	p := gzipBomb(t, 2<<30)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var temps []*os.File
	// A second descriptor of the temporary file, which is removed by
	// name at once, shows how much was written to it.
	a, err := newAssembler(client.WithCreateTemp(func(dir, pattern string) (*os.File, error) {
		f, err := os.CreateTemp(t.TempDir(), pattern)
		if err != nil {
			return nil, err
		}
		watch, err := os.Open(f.Name())
		if err != nil {
			return nil, err
		}
		mu.Lock()
		temps = append(temps, watch)
		mu.Unlock()
		return f, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, aerr := a.Assemble(context.Background(), Plan{Sources: []plan.Ref{{Transport: plan.DockerArchive, Path: p}}})
	if !errors.Is(aerr, archive.ErrLimit) || !errors.Is(aerr, plan.ErrSource) {
		t.Errorf("Assemble() = %v, want a source error over a limit", aerr)
	}
	if len(temps) != 1 {
		t.Fatalf("%d temporary files, want 1", len(temps))
	}
	st, err := temps[0].Stat()
	temps[0].Close() //nolint:errcheck // read-only
	if err != nil {
		t.Fatal(err)
	}
	if limit := archive.ExpansionLimit(fi.Size(), fi.Size()); st.Size() > limit {
		t.Errorf("the temporary file grew to %d bytes, more than the %d a %d-byte archive allows", st.Size(), limit, fi.Size())
	}
	t.Logf("a %d-byte archive stopped after writing %d bytes: %v", fi.Size(), st.Size(), aerr)
}
