package plan

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// Level is where an annotation is written, as buildx names the levels.
type Level int

const (
	// LevelIndex writes into the index manifest.
	LevelIndex Level = iota
	// LevelManifest writes into each platform manifest, which changes its
	// digest.
	LevelManifest
	// LevelManifestDescriptor writes into each platform's descriptor in the
	// index.
	LevelManifestDescriptor
	// LevelIndexDescriptor writes into the index's own descriptor, which
	// exists only in an OCI layout's index.json.
	LevelIndexDescriptor
)

func (l Level) String() string {
	switch l {
	case LevelManifest:
		return "manifest"
	case LevelManifestDescriptor:
		return "manifest-descriptor"
	case LevelIndexDescriptor:
		return "index-descriptor"
	}
	return "index"
}

// Annotation is one key and value at one level, optionally only for one
// platform (buildx's manifest[linux/arm64]:key=value).
type Annotation struct {
	Level    Level
	Platform *v1.Platform
	Key      string
	Value    string
}

// Matches reports whether the annotation applies to an image of platform p:
// always without a filter, else as platform.Match selects (a filter without
// a variant matches every variant; arm64 and arm64/v8 are the same platform).
func (a Annotation) Matches(p v1.Platform) bool {
	return a.Platform == nil || platform.Match(*a.Platform, p)
}

// UnmatchedFilters names each platform-filtered annotation that applies to
// no image of the index: a filter such as manifest-descriptor[linux/s390x]
// for a platform the sources do not have would otherwise do nothing,
// silently.
func UnmatchedFilters(anns []Annotation, platforms []v1.Platform) []string {
	var out []string
	for _, an := range anns {
		if an.Platform == nil || (an.Level != LevelManifest && an.Level != LevelManifestDescriptor) {
			continue
		}
		if !slices.ContainsFunc(platforms, an.Matches) {
			names := make([]string, len(platforms))
			for i, p := range platforms {
				names[i] = platform.String(p)
			}
			out = append(out, fmt.Sprintf("annotation %s[%s]:%s matches no platform of the index (%s); it was not written",
				an.Level, platform.String(*an.Platform), an.Key, strings.Join(names, ", ")))
		}
	}
	return out
}
