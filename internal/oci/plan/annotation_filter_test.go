package plan

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestUnmatchedFilters: an annotation whose platform filter matches no
// platform of the index is named; one that matches (arm64 is arm64/v8),
// or has no filter, is not.
func TestUnmatchedFilters(t *testing.T) {
	t.Parallel()
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}
	tests := []struct {
		name string
		an   Annotation
		want string // "" when nothing is reported
	}{
		{"no filter", Annotation{Level: LevelManifestDescriptor, Key: "k"}, ""},
		{"matches", Annotation{Level: LevelManifest, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}, Key: "k"}, ""},
		{"arm64 is arm64/v8", Annotation{Level: LevelManifestDescriptor, Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}, Key: "k"}, ""},
		{"descriptor for s390x", Annotation{Level: LevelManifestDescriptor, Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}, Key: "k"},
			"annotation manifest-descriptor[linux/s390x]:k matches no platform of the index (linux/amd64, linux/arm64/v8); it was not written"},
		{"manifest for arm/v7", Annotation{Level: LevelManifest, Platform: &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, Key: "k"},
			"annotation manifest[linux/arm/v7]:k matches no platform of the index (linux/amd64, linux/arm64/v8); it was not written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(UnmatchedFilters([]Annotation{tt.an}, platforms), "\n")
			if got != tt.want {
				t.Errorf("unmatchedFilters() = %q, want %q", got, tt.want)
			}
		})
	}
}
