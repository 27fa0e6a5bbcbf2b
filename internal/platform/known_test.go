package platform

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestParseKnownValues: a typed platform must exist. An unknown os,
// architecture or variant is refused with the known values listed (and
// the nearest one when the typo is plain), while Check still lets a
// source carry any well-formed value.
func TestParseKnownValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr string // "" for accepted
	}{
		{name: "amd64", in: "linux/amd64"},
		{name: "amd64 level", in: "linux/amd64/v3"},
		{name: "arm v5", in: "linux/arm/v5"},
		{name: "arm v8", in: "linux/arm/v8"},
		{name: "arm64 v8", in: "linux/arm64/v8"},
		{name: "arm64 v9.2", in: "linux/arm64/v9.2"},
		{name: "riscv64", in: "linux/riscv64"},
		{name: "s390x", in: "linux/s390x"},
		{name: "ppc64le", in: "linux/ppc64le"},
		{name: "loong64", in: "linux/loong64"},
		{name: "386", in: "linux/386"},
		{name: "windows arm64", in: "windows/arm64"},
		{name: "wasip1 wasm", in: "wasip1/wasm"},
		{name: "typo in arch", in: "linux/amd46",
			wantErr: `platform "linux/amd46": architecture "amd46" is not known (did you mean amd64?); known: 386, amd64, arm, arm64, loong64, mips, mipsle, mips64, mips64le, ppc64, ppc64le, riscv64, s390x, wasm`},
		{name: "typo in os", in: "linxu/amd64",
			wantErr: `platform "linxu/amd64": os "linxu" is not known (did you mean linux?); known: aix, android, darwin, dragonfly, freebsd, illumos, ios, js, linux, netbsd, openbsd, plan9, solaris, wasip1, windows`},
		{name: "docker's name for an arch", in: "linux/x86_64", wantErr: `architecture "x86_64" is not known; known: 386, amd64,`},
		{name: "upper case", in: "Linux/amd64", wantErr: `os "Linux" is not known`},
		{name: "unknown/unknown is a source's, not a user's", in: "unknown/unknown", wantErr: `os "unknown" is not known`},
		{name: "arm variant", in: "linux/arm/v9", wantErr: `variant "v9" is not known for architecture arm; known: v5, v6, v7, v8`},
		{name: "amd64 variant", in: "linux/amd64/v5", wantErr: `variant "v5" is not known for architecture amd64; known: v1, v2, v3, v4`},
		{name: "arm64 variant", in: "linux/arm64/v7", wantErr: `variant "v7" is not known for architecture arm64; known: v8, v8.0,`},
		{name: "variant without a number", in: "linux/arm64/8", wantErr: `variant "8" is not known for architecture arm64`},
		{name: "arch without variants", in: "linux/s390x/v1", wantErr: `platform "linux/s390x/v1": variant "v1" is not known (architecture s390x has no variants; write "linux/s390x" without one)`},
		{name: "hostile value is quoted", in: "linux/a\x1bb", wantErr: `holds white space, a control character`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse(%q) = %v, want it accepted", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q) error = %v, want it to match ErrInvalid", tt.in, err)
			}
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Errorf("Parse(%q) error = %q holds a control character", tt.in, err)
			}
		})
	}
}

// TestCheckKeepsUnknownValues: what a source carries need not be known
// (BuildKit's attestation platform, an architecture newer than this
// program), only well formed.
func TestCheckKeepsUnknownValues(t *testing.T) {
	t.Parallel()
	for _, p := range []v1.Platform{
		{OS: "unknown", Architecture: "unknown"},
		{OS: "linux", Architecture: "amd46"},
		{OS: "linux", Architecture: "riscv128", Variant: "rvb99"},
	} {
		if err := Check(p); err != nil {
			t.Errorf("Check(%+v) = %v, want nil", p, err)
		}
		if _, err := Parse(String(p)); !errors.Is(err, ErrUnknown) {
			t.Errorf("Parse(%q) = %v, want ErrUnknown", String(p), err)
		}
	}
}
