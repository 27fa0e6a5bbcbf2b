package layer

import (
	"errors"
	"path"
	"strings"
	"testing"
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
