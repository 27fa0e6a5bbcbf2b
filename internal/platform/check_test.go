package platform

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("v", MaxField+1)
	tests := []struct {
		name  string
		p     v1.Platform
		field string // "" when the platform passes
	}{
		{name: "linux/amd64", p: v1.Platform{OS: "linux", Architecture: "amd64"}},
		{name: "arm variant", p: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{name: "BuildKit attestation", p: v1.Platform{OS: "unknown", Architecture: "unknown"}},
		{name: "windows os.version and features", p: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234", OSFeatures: []string{"win32k"}}},
		{name: "no platform fields", p: v1.Platform{}},
		{name: "variant climbs", p: v1.Platform{OS: "linux", Architecture: "amd64", Variant: "x/../../../outside"}, field: "variant"},
		{name: "variant is ..", p: v1.Platform{OS: "linux", Architecture: "amd64", Variant: ".."}, field: "variant"},
		{name: "os is .", p: v1.Platform{OS: ".", Architecture: "amd64"}, field: "os"},
		{name: "absolute arch", p: v1.Platform{OS: "linux", Architecture: "/etc"}, field: "architecture"},
		{name: "backslash", p: v1.Platform{OS: "linux", Architecture: `..\..`}, field: "architecture"},
		{name: "newline workflow command", p: v1.Platform{OS: "linux\n::stop-commands::x", Architecture: "amd64"}, field: "os"},
		{name: "carriage return", p: v1.Platform{OS: "linux", Architecture: "amd64\r"}, field: "architecture"},
		{name: "ANSI escape", p: v1.Platform{OS: "linux", Architecture: "amd64", Variant: "\x1b[31mv8"}, field: "variant"},
		{name: "NUL", p: v1.Platform{OS: "linux", Architecture: "amd\x0064"}, field: "architecture"},
		{name: "space", p: v1.Platform{OS: "linux", Architecture: "amd 64"}, field: "architecture"},
		{name: "non-ASCII", p: v1.Platform{OS: "linux", Architecture: "ärm64"}, field: "architecture"},
		{name: "invalid UTF-8", p: v1.Platform{OS: "linux", Architecture: "\xff"}, field: "architecture"},
		{name: "delimiter", p: v1.Platform{OS: "linux", Architecture: "amd64,arm64"}, field: "architecture"},
		{name: "colon in os.version", p: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10:0"}, field: "os.version"},
		{name: "os.version climbs", p: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "../10"}, field: "os.version"},
		{name: "too long", p: v1.Platform{OS: "linux", Architecture: "amd64", Variant: long}, field: "variant"},
		{name: "empty os.feature", p: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"win32k", ""}}, field: "os.features[1]"},
		{name: "os.feature with a slash", p: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"a/b"}}, field: "os.features[0]"},
		{name: "too many os.features", p: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: make([]string, maxFeatures+1)}, field: "os.features"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Check(tt.p)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Check(%+v) = %v, want nil", tt.p, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check(%+v) = %v, want an error matching ErrInvalid", tt.p, err)
			}
			msg := err.Error()
			if want := "platform " + tt.field + " "; !strings.HasPrefix(msg, want) {
				t.Errorf("Check(%+v) = %q, want it to start with %q", tt.p, msg, want)
			}
			if strings.ContainsFunc(msg, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Errorf("Check(%+v) = %q holds a control character", tt.p, msg)
			}
			if len(msg) > 3*MaxField+100 {
				t.Errorf("Check(%+v) message is %d bytes, want it bounded", tt.p, len(msg))
			}
		})
	}
}

// TestCheckAgreesWithParse: a platform from a source passes Check exactly
// when its typed form passes Parse's rules of form (parseForm), so a value
// a user could not type cannot arrive through an image either. Parse also
// wants known values, which Check does not (TestParseKnownValues).
func TestCheckAgreesWithParse(t *testing.T) {
	t.Parallel()
	parts := []string{"linux", "amd64", "v8", "unknown", "x..y", ".", "..", "a/b", `a\b`, "a b", "a:b", "a,b", "[a", "ä", "\t", "\x00", strings.Repeat("a", MaxField), strings.Repeat("a", MaxField+1)}
	for _, os := range parts {
		for _, arch := range parts {
			for _, variant := range append(parts, "") {
				p := v1.Platform{OS: os, Architecture: arch, Variant: variant}
				typed := os + "/" + arch
				if variant != "" {
					typed += "/" + variant
				}
				got, perr := parseForm(typed)
				cerr := Check(p)
				if (cerr == nil) != (perr == nil && got.Equals(p)) {
					t.Errorf("Check(%+v) = %v, but parseForm(%q) = %+v, %v", p, cerr, typed, got, perr)
				}
				if perr != nil && !errors.Is(perr, ErrInvalid) {
					t.Errorf("parseForm(%q) = %v, want an error matching ErrInvalid", typed, perr)
				}
			}
		}
	}
}
