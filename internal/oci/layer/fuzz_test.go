package layer

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Seeds beyond these live in testdata/fuzz/<FuzzName>/.

func FuzzParseSpecs(f *testing.F) {
	f.Add(testSpecs)
	f.Add("- files: ['dist/{os}-{arch}/app:/usr/local/bin/app']\n  platforms: [linux/arm64/v8]\n")
	f.Fuzz(func(t *testing.T, in string) {
		specs, err := ParseSpecs(in)
		if err != nil {
			if !errors.Is(err, ErrInput) {
				t.Fatalf("ParseSpecs() error %v is not ErrInput", err)
			}
			return
		}
		for i, s := range specs {
			if len(s.Files) == 0 {
				t.Fatalf("spec %d has no files", i)
			}
			for _, f := range s.Files {
				if !path.IsAbs(f.Dest) || strings.Contains("/"+f.Dest+"/", "/../") || f.Src == "" {
					t.Fatalf("spec %d accepted %q:%q", i, f.Src, f.Dest)
				}
			}
			for _, p := range s.Platforms {
				if p.OS == "" || p.Architecture == "" {
					t.Fatalf("spec %d accepted platform %+v", i, p)
				}
			}
		}
	})
}

func FuzzParseEnvLines(f *testing.F) {
	f.Add("PATH=/usr/bin\n\n# c\nA = b=c \r\n")
	f.Add("=x")
	f.Fuzz(func(t *testing.T, in string) {
		env, err := ParseEnvLines(in)
		if err != nil {
			if !errors.Is(err, ErrInput) {
				t.Fatalf("ParseEnvLines() error %v is not ErrInput", err)
			}
			return
		}
		for _, kv := range env {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" || strings.ContainsAny(k, " \t\n") {
				t.Fatalf("ParseEnvLines() returned %q", kv)
			}
		}
		if strings.Contains(in, "\r") {
			return // a trailing \r is trimmed once, so \r\r does not round-trip
		}
		again, err := ParseEnvLines(strings.Join(env, "\n"))
		if err != nil || strings.Join(again, "\n") != strings.Join(env, "\n") {
			t.Fatalf("re-parsing %q = %q, %v", env, again, err)
		}
	})
}

func FuzzParseLabelLines(f *testing.F) {
	f.Add("org.opencontainers.image.source=https://example.com\na=1\na=2\n")
	f.Add("a")
	f.Fuzz(func(t *testing.T, in string) {
		labels, err := ParseLabelLines(in)
		if err != nil {
			if !errors.Is(err, ErrInput) {
				t.Fatalf("ParseLabelLines() error %v is not ErrInput", err)
			}
			return
		}
		for k := range labels {
			if k == "" || strings.ContainsAny(k, " \t\n=") {
				t.Fatalf("ParseLabelLines() returned key %q", k)
			}
		}
	})
}

func FuzzParseJSONArray(f *testing.F) {
	f.Add(`["/app", "--flag"]`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, in string) {
		if _, err := ParseJSONArray("cmd", in); err != nil && !errors.Is(err, ErrInput) {
			t.Fatalf("ParseJSONArray() error %v is not ErrInput", err)
		}
	})
}

// FuzzExpandStaysInWorkspace: whatever relative SRC a user writes and
// whatever platform fills it, a SRC Expand accepts lies in the workspace
// once its symlinks are resolved (all of SRC/, all but the last element
// otherwise), so nothing outside it is read into a layer.
func FuzzExpandStaysInWorkspace(f *testing.F) {
	ws, _ := confineTree(f)
	real, err := filepath.EvalSymlinks(ws)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct{ src, os, arch, variant string }{
		{"dist/{platform}/", "linux", "amd64", "x/../../../outside"},
		{"dist/{os}-{arch}/app", "linux", "amd64", ""},
		{"dist/{variant}/", "linux", "amd64", ".."},
		{"../outside/", "linux", "amd64", ""},
		{"dist/out/", "linux", "amd64", ""},
		{"dist/up/config", "linux", "amd64", ""},
		{"dist/root/etc/", "linux", "amd64", ""},
		{"wslink/dist/out", "linux", "amd64", ""},
		{"{variant}/etc/", "linux", "amd64", ""},
		{"dist/{arch}/", "linux", "out", ""},
	} {
		f.Add(s.src, s.os, s.arch, s.variant)
	}
	f.Fuzz(func(t *testing.T, src, os, arch, variant string) {
		if src == "" || strings.HasPrefix(src, "/") || strings.ContainsRune(src, 0) {
			return // an absolute SRC may name anything; parseFile refuses the rest
		}
		p := v1.Platform{OS: os, Architecture: arch, Variant: variant}
		r, _, err := Expand(Spec{Files: []File{{Src: src, Dest: "/x/"}}}, p, ws)
		if err != nil {
			return
		}
		for _, f := range r.Files {
			got := filepath.Clean(f.Src)
			if strings.HasSuffix(f.Src, string(filepath.Separator)) {
				got, err = filepath.EvalSymlinks(got)
			} else {
				var dir string
				dir, err = filepath.EvalSymlinks(filepath.Dir(got))
				got = filepath.Join(dir, filepath.Base(got))
			}
			if err != nil {
				t.Fatalf("Expand(%q, %+v) gave SRC %s, which does not resolve: %v", src, p, f.Src, err)
			}
			if rel, err := filepath.Rel(real, got); err != nil || !filepath.IsLocal(rel) {
				t.Fatalf("Expand(%q, %+v) gave SRC %s, which resolves to %s, outside the workspace %s", src, p, f.Src, got, real)
			}
		}
	})
}
