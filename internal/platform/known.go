package platform

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The values a user may type for a platform. The image index spec asks for
// Go's GOOS and GOARCH values, and lists the variants of ARM
// (https://github.com/opencontainers/image-spec/blob/v1.1.1/image-index.md#platform-variants);
// the GOOS/GOARCH values are those of Go's port table
// (https://go.dev/doc/install/source#environment). The variants are those
// containerd's platforms package normalises and matches
// (https://github.com/containerd/platforms): GOARM v5-v8, GOAMD64
// micro-architecture levels v1-v4, the ARMv8.x and ARMv9.x revisions of
// arm64, the RISC-V profiles of riscv64 and the POWER generations of
// ppc64le. Platforms read from a source are not held to these lists
// (Check): an image may carry unknown/unknown or an architecture newer
// than this program.
var (
	knownOS = []string{
		"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js",
		"linux", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows",
	}
	knownArch = []string{
		"386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64",
		"mips64le", "ppc64", "ppc64le", "riscv64", "s390x", "wasm",
	}
	knownVariants = map[string][]string{
		"arm":   {"v5", "v6", "v7", "v8"},
		"amd64": {"v1", "v2", "v3", "v4"},
		"arm64": {
			"v8", "v8.0", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9",
			"v9", "v9.0", "v9.1", "v9.2", "v9.3", "v9.4", "v9.5",
		},
		"riscv64": {"rva20u64", "rva22u64", "rva23u64"},
		"ppc64le": {"power8", "power9", "power10"},
	}
)

// ErrUnknown marks a typed platform whose os, architecture or variant is
// not one the image index spec or containerd knows (see knownOS); it also
// matches ErrInvalid.
var ErrUnknown = errors.New("unknown platform")

// unknownError is a typed platform field that is well formed but unknown;
// Error lists the values that are known.
type unknownError struct {
	typed, field, value string
	known               []string
	arch                string // for a variant: the architecture it belongs to
}

func (e *unknownError) Error() string {
	msg := fmt.Sprintf("platform %s: %s %s is not known", quote(e.typed), e.field, quote(e.value))
	switch {
	case e.field == "variant" && len(e.known) == 0:
		return msg + fmt.Sprintf(" (architecture %s has no variants; write %s without one)", e.arch, quote(strings.TrimSuffix(e.typed, "/"+e.value)))
	case e.field == "variant":
		msg += " for architecture " + e.arch
	}
	if near := nearest(e.value, e.known); near != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", near)
	}
	return msg + "; known: " + strings.Join(e.known, ", ")
}

func (e *unknownError) Is(target error) bool { return target == ErrUnknown || target == ErrInvalid }

// checkKnown checks the fields of a typed platform, already well formed,
// against the known values.
func checkKnown(typed string, p v1.Platform) error {
	switch {
	case !slices.Contains(knownOS, p.OS):
		return &unknownError{typed: typed, field: "os", value: p.OS, known: knownOS}
	case !slices.Contains(knownArch, p.Architecture):
		return &unknownError{typed: typed, field: "architecture", value: p.Architecture, known: knownArch}
	case p.Variant != "" && !slices.Contains(knownVariants[p.Architecture], p.Variant):
		return &unknownError{typed: typed, field: "variant", value: p.Variant, known: knownVariants[p.Architecture], arch: p.Architecture}
	}
	return nil
}

// nearest is the known value within two edits of v (a typo such as amd46
// or arm46), "" when there is none or more than one is as near.
func nearest(v string, known []string) string {
	best, bestDist, ties := "", 3, 0
	for _, k := range known {
		switch d := editDistance(v, k); {
		case d < bestDist:
			best, bestDist, ties = k, d, 0
		case d == bestDist:
			ties++
		}
	}
	if ties > 0 {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (optimal string
// alignment) of two short ASCII strings: a swap of two neighbours, as in
// amd46, counts as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range len(b) + 1 {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
