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
