package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type wantEntry struct {
	name     string
	typ      byte
	mode     int64
	linkname string
	content  string
}

func TestLayerContent(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	want := [][]wantEntry{{
		{name: "usr/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/bin/app", typ: tar.TypeReg, mode: 0o755, content: "#!/bin/sh\necho amd64\n"},
		{name: "usr/local/bin/applink", typ: tar.TypeSymlink, mode: 0o777, linkname: "../dist/linux-amd64/app"},
		{name: "usr/local/bin/suid", typ: tar.TypeReg, mode: 0o4755, content: "suid\n"},
	}, {
		{name: "srv/", typ: tar.TypeDir, mode: 0o755},
		{name: "srv/static/", typ: tar.TypeDir, mode: 0o755},
		{name: "srv/static/a-copy.html", typ: tar.TypeReg, mode: 0o644, content: "<h1>hello</h1>\n"},
		{name: "srv/static/css/", typ: tar.TypeDir, mode: 0o755},
		{name: "srv/static/css/site.css", typ: tar.TypeReg, mode: 0o600, content: "body{}\n"},
		{name: "srv/static/dangling", typ: tar.TypeSymlink, mode: 0o777, linkname: "/does/not/exist"},
		{name: "srv/static/home.html", typ: tar.TypeSymlink, mode: 0o777, linkname: "index.html"},
		{name: "srv/static/index.html", typ: tar.TypeLink, mode: 0o644, linkname: "srv/static/a-copy.html"},
		{name: "srv/static/private/", typ: tar.TypeDir, mode: 0o700},
		{name: "srv/static/private/key", typ: tar.TypeReg, mode: 0o400, content: "secret\n"},
		{name: "srv/static/z-copy.html", typ: tar.TypeLink, mode: 0o644, linkname: "srv/static/a-copy.html"},
	}}
	for _, tc := range []struct {
		name string
		c    Compression
		mt   types.MediaType
	}{
		{name: "gzip", c: Gzip, mt: "application/vnd.oci.image.layer.v1.tar+gzip"},
		{name: "zstd", c: Zstd, mt: "application/vnd.oci.image.layer.v1.tar+zstd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bs, _ := buildLayers(t, testSpecs, ws, amd64, WithCompression(tc.c, 0))
			if got, want := len(bs), 2; got != want {
				t.Fatalf("layers = %d, want %d", got, want)
			}
			for i, l := range layersOf(t, bs) {
				if got, err := l.MediaType(); err != nil || got != tc.mt {
					t.Errorf("MediaType() = %v, %v, want %v", got, err, tc.mt)
				}
				got := readLayer(t, l)
				checkEntries(t, got, want[i])
			}
		})
	}
}

func checkEntries(t *testing.T, got []tarEntry, want []wantEntry) {
	t.Helper()
	if len(got) != len(want) {
		var names []string
		for _, g := range got {
			names = append(names, g.hdr.Name)
		}
		t.Fatalf("entries = %q, want %d entries", names, len(want))
	}
	mtime := time.Unix(testCreated.Unix(), 0)
	for i, w := range want {
		h := got[i].hdr
		if h.Name != w.name || h.Typeflag != w.typ || h.Mode != w.mode || h.Linkname != w.linkname {
			t.Errorf("entry %d = %q type %c mode %o link %q, want %q type %c mode %o link %q",
				i, h.Name, h.Typeflag, h.Mode, h.Linkname, w.name, w.typ, w.mode, w.linkname)
		}
		if got[i].content != w.content {
			t.Errorf("%s content = %q, want %q", w.name, got[i].content, w.content)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "root" || h.Gname != "root" {
			t.Errorf("%s owner = %d:%d %s:%s, want 0:0 root:root", w.name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(mtime) {
			t.Errorf("%s mtime = %v, want %v", w.name, h.ModTime, mtime)
		}
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() || len(h.PAXRecords) != 0 || h.Format == tar.FormatGNU {
			t.Errorf("%s: atime %v ctime %v pax %v format %v, want none and not GNU", w.name, h.AccessTime, h.ChangeTime, h.PAXRecords, h.Format)
		}
	}
}

func TestCompressionsReadBackEqual(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	// A file larger than several gzip blocks, with compressible and random parts.
	big := bytes.Repeat([]byte("oci-assemble "), 300_000)
	if err := os.WriteFile(filepath.Join(ws, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	specs := testSpecs + "- files: [big:/data/big]\n"
	var tars [][]tarEntry
	for _, c := range []Compression{Gzip, Zstd} {
		bs, _ := buildLayers(t, specs, ws, arm64, WithCompression(c, 0))
		var all []tarEntry
		for _, l := range layersOf(t, bs) {
			all = append(all, readLayer(t, l)...)
		}
		tars = append(tars, all)
	}
	if got, want := len(tars[0]), len(tars[1]); got != want {
		t.Fatalf("gzip has %d entries, zstd %d", got, want)
	}
	for i := range tars[0] {
		g, z := tars[0][i], tars[1][i]
		if g.hdr.Name != z.hdr.Name || g.content != z.content || g.hdr.Mode != z.hdr.Mode {
			t.Errorf("entry %d: gzip %q differs from zstd %q", i, g.hdr.Name, z.hdr.Name)
		}
	}
	last := tars[0][len(tars[0])-1]
	if last.hdr.Name != "data/big" || last.content != string(big) {
		t.Errorf("last entry = %q (%d bytes), want data/big with the input's %d bytes", last.hdr.Name, len(last.content), len(big))
	}
	if got := tars[0][3].content; got != "#!/bin/sh\necho arm64\n" {
		t.Errorf("{platform} expanded to the wrong app: %q", got)
	}
}

func TestBuilderRemembersDigests(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	bs, _ := buildLayers(t, testSpecs, ws, amd64)
	b := bs[1]
	l, err := b.Layer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Digest(); !errors.Is(err, stream.ErrNotComputed) {
		t.Fatalf("Digest() before reading = %v, want stream.ErrNotComputed", err)
	}
	if _, err := l.Size(); !errors.Is(err, stream.ErrNotComputed) {
		t.Fatalf("Size() before reading = %v, want stream.ErrNotComputed", err)
	}

	// Closing early cancels and records nothing.
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close() early = %v, want nil", err)
	}
	if _, err := l.DiffID(); !errors.Is(err, stream.ErrNotComputed) {
		t.Fatalf("DiffID() after an early close = %v, want stream.ErrNotComputed", err)
	}

	first := readAll(t, l)
	d, err := l.Digest()
	if err != nil {
		t.Fatalf("Digest() after reading: %v", err)
	}
	if got, want := d, sha256Hash(first); got != want {
		t.Errorf("Digest() = %v, want sha256 of the bytes read %v", got, want)
	}
	if got, err := l.Size(); err != nil || got != int64(len(first)) {
		t.Errorf("Size() = %d, %v, want %d", got, err, len(first))
	}

	// A fresh layer from the same Builder knows its sums at once and
	// streams the same bytes again (what a retried upload needs).
	l2, err := b.Layer()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l2.Digest(); err != nil || got != d {
		t.Errorf("second Layer().Digest() = %v, %v, want %v", got, err, d)
	}
	if second := readAll(t, l2); !bytes.Equal(second, first) {
		t.Errorf("second read differs from the first")
	}
	u, err := l2.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(u)
	if err != nil {
		t.Fatalf("Uncompressed(): %v", err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := l2.DiffID(); err != nil || got != sha256Hash(raw) {
		t.Errorf("DiffID() = %v, %v, want sha256 of the tar %v", got, err, sha256Hash(raw))
	}

	// Same size, different bytes: only the digest can tell.
	if err := os.WriteFile(filepath.Join(ws, "static/css/site.css"), []byte("BODY{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err = l2.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, ErrChanged) {
		t.Errorf("reading after a file changed = %v, want ErrChanged", err)
	}
	// A changed size too: the walk keeps nothing of the first build but
	// its digests (memory must not grow with the number of files).
	if err := os.WriteFile(filepath.Join(ws, "static/css/site.css"), []byte("longer body{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(mustCompressed(t, l2)); !errors.Is(err, ErrChanged) {
		t.Errorf("reading after a file grew = %v, want ErrChanged", err)
	}
}

func TestConcurrencyDoesNotChangeOutput(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	// Several gzip blocks and zstd blocks, with mixed compressibility.
	data := make([]byte, 5<<20+12345)
	for i := range data {
		data[i] = byte(i*i>>7) ^ byte(i>>13)
	}
	if err := os.WriteFile(filepath.Join(ws, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	specs := "- files: [big:/big, static/:/s/]\n"
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			var digests []string
			for _, n := range []int{1, 2, 3, 8} {
				bs, _ := buildLayers(t, specs, ws, amd64, WithCompression(c, 0), WithConcurrency(n))
				l := layersOf(t, bs)[0]
				readAll(t, l)
				d, err := l.Digest()
				if err != nil {
					t.Fatal(err)
				}
				digests = append(digests, d.String())
			}
			for i, d := range digests[1:] {
				if d != digests[0] {
					t.Errorf("digest with concurrency index %d = %s, want %s as with concurrency 1", i+1, d, digests[0])
				}
			}
		})
	}
}

func readAll(t testing.TB, l interface {
	Compressed() (io.ReadCloser, error)
}) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading layer: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCompressed(t testing.TB, l interface {
	Compressed() (io.ReadCloser, error)
}) io.Reader {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rc.Close(); err != nil {
			t.Error(err)
		}
	})
	return rc
}

func TestLongAndUnicodeNames(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	long := strings.Repeat("directory-name-", 8) + "/" + strings.Repeat("f", 120) + "-ü.txt"
	if err := os.MkdirAll(filepath.Join(ws, "src", filepath.Dir(long)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "src", long), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var digests []string
	for range 2 {
		bs, _ := buildLayers(t, "- files: [src/:/opt/]\n", ws, amd64)
		l := layersOf(t, bs)[0]
		entries := readLayer(t, l)
		last := entries[len(entries)-1].hdr
		if got, want := last.Name, "opt/"+long; got != want {
			t.Errorf("name = %q, want %q", got, want)
		}
		for k := range last.PAXRecords {
			if k != "path" {
				t.Errorf("PAX record %q, want only path", k)
			}
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("digests differ: %v", digests)
	}
}

func TestNewBuilderWithoutExpand(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	for _, tc := range []struct {
		name    string
		files   []File
		opts    []Option
		wantErr string
	}{
		{name: "file", files: []File{{Src: filepath.Join(ws, "static/index.html"), Dest: "/index.html"}}},
		{name: "zstd level 19", files: []File{{Src: filepath.Join(ws, "static/index.html"), Dest: "/index.html"}},
			opts: []Option{WithCompression(Zstd, 19), WithConcurrency(1)}},
		{name: "no files", wantErr: "no files"},
		{name: "file to root", files: []File{{Src: filepath.Join(ws, "static/index.html"), Dest: "/"}}, wantErr: "DEST /"},
		{name: "missing", files: []File{{Src: filepath.Join(ws, "nope"), Dest: "/x"}}, wantErr: "no such file"},
		{name: "bad level", files: []File{{Src: filepath.Join(ws, "static/index.html"), Dest: "/x"}},
			opts: []Option{WithCompression(Gzip, 10)}, wantErr: "gzip accepts 1 to 9"},
		{name: "bad compression", files: []File{{Src: filepath.Join(ws, "static/index.html"), Dest: "/x"}},
			opts: []Option{WithCompression("lz4", 0)}, wantErr: `compression "lz4"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := NewBuilder(Resolved{Files: tc.files}, tc.opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInput) {
					t.Fatalf("NewBuilder() error = %v, want ErrInput containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l, err := b.Layer()
			if err != nil {
				t.Fatal(err)
			}
			if got := readLayer(t, l); len(got) != 1 || got[0].hdr.Name != "index.html" {
				t.Errorf("entries = %+v, want index.html", got)
			}
		})
	}
}

func TestParseCompression(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    Compression
		wantErr bool
	}{
		{in: "", want: Gzip},
		{in: "gzip", want: Gzip},
		{in: "zstd", want: Zstd},
		{in: "GZIP", wantErr: true},
		{in: "xz", wantErr: true},
	} {
		got, err := ParseCompression(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseCompression(%q) = %q, %v, want %q (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
