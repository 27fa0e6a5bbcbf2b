package cleanup

import (
	"strings"
	"testing"
)

func TestIsReferrerTag(t *testing.T) {
	t.Parallel()
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		tag  string
		want bool
	}{
		{name: "fallback", tag: "sha256-" + hex, want: true},
		{name: "cosign sig", tag: "sha256-" + hex + ".sig", want: true},
		{name: "cosign att", tag: "sha256-" + hex + ".att", want: true},
		{name: "cosign sbom", tag: "sha256-" + hex + ".sbom", want: true},
		{name: "other suffix", tag: "sha256-" + hex + ".tmp", want: false},
		{name: "short", tag: "sha256-abc", want: false},
		{name: "upper hex", tag: "sha256-" + strings.ToUpper(hex), want: false},
		{name: "temp tag", tag: "tmp-amd64", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := isReferrerTag(tc.tag); got != tc.want {
				t.Errorf("isReferrerTag(%q) = %v, want %v", tc.tag, got, tc.want)
			}
		})
	}
}
