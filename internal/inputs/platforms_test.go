package inputs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/platform"
)

func TestParsePlatformsInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		platforms string
		want      []string
		wantErr   string
	}{
		{name: "comma list", platforms: "linux/amd64, linux/arm64/v8", want: []string{"linux/amd64", "linux/arm64/v8"}},
		{name: "lines", platforms: "linux/amd64\nlinux/arm/v7\n", want: []string{"linux/amd64", "linux/arm/v7"}},
		{name: "os only", platforms: "linux", wantErr: `input platforms: platform "linux" is not os/arch[/variant]`},
		{name: "os.version", platforms: "windows/amd64:10.0.17763", wantErr: `input platforms: platform "windows/amd64:10.0.17763" is not os/arch[/variant]`},
		{name: "inner space", platforms: "linux/ amd64", wantErr: `platform "linux/ amd64" is not os/arch[/variant]`},
		{name: "listed twice", platforms: "linux/amd64,linux/amd64", wantErr: "input platforms: linux/amd64 is listed twice"},
		{name: "arm64 is arm64/v8", platforms: "linux/arm64,linux/arm64/v8", wantErr: "input platforms: linux/arm64/v8 is listed twice"},
		{name: "unknown architecture", platforms: "linux/amd64,linux/amd46",
			wantErr: `input platforms: platform "linux/amd46": architecture "amd46" is not known (did you mean amd64?); known: 386, amd64, arm,`},
		{name: "unknown variant", platforms: "linux/arm/v9", wantErr: `input platforms: platform "linux/arm/v9": variant "v9" is not known for architecture arm; known: v5, v6, v7, v8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "a")
			if err := os.WriteFile(src, []byte("a"), 0o644); err != nil {
				t.Fatal(err)
			}
			raw := Raw{"base": "scratch", "platforms": tt.platforms, "layers": "- files: ['" + src + ":/a']", "push": "false"}
			s, err := Parse(raw, func(string) string { return "" })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(platforms=%q) error = %v, want containing %q", tt.platforms, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(platforms=%q) = %v", tt.platforms, err)
			}
			var got []string
			for _, p := range s.Build.Platforms {
				got = append(got, platform.String(p))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Parse(platforms=%q) platforms = %q, want %q", tt.platforms, got, tt.want)
			}
		})
	}
}

// TestUnknownPlatformInEveryInput: a platform the user types in an
// annotation filter or a layer's platforms is held to the same known
// values as the platforms input, and names its input.
func TestUnknownPlatformInEveryInput(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "a")
	if err := os.WriteFile(src, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		raw     Raw
		wantErr string
	}{
		{name: "annotation filter", raw: Raw{"images": "reg.example/o/app:1", "annotations": "manifest-descriptor[linux/amd46]:k=v"},
			wantErr: `input annotations: line 1: level "manifest-descriptor[linux/amd46]": platform "linux/amd46": architecture "amd46" is not known (did you mean amd64?); known: 386,`},
		{name: "layer platforms", raw: Raw{"base": "scratch", "platforms": "linux/amd64", "layers": "- files: ['" + src + ":/a']\n  platforms: [linux/amd46]"},
			wantErr: `platform "linux/amd46": architecture "amd46" is not known (did you mean amd64?); known: 386,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.raw["push"] = "false"
			_, err := Parse(tt.raw, func(string) string { return "" })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse() error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}
