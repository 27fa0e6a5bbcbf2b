// Package platform owns what oci-assemble knows about image platforms: how
// a user writes one (Parse), how one is shown (String), when two are the
// same platform (Normalize, Key), when an image's platform is selected by a
// filter (Match), and how one names an environment variable (EnvName).
//
// Every other package calls these, so an input, a message and a match
// agree on what linux/arm64 means. The model is the OCI image index's
// platform object, go-containerregistry's v1.Platform:
// https://github.com/opencontainers/image-spec/blob/v1.1.1/image-index.md#image-index-property-descriptions
package platform

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Parse parses a platform as users write it in the platforms input, in
// annotation filters such as manifest[linux/arm64] and in a layer's
// platforms list: os/arch[/variant]. OS and architecture are required and
// no part may be empty or hold white space, a control character or any of
// ":[],", which delimit the texts a platform is embedded in. An os.version
// (buildx's ":10.0.17763") is refused: no input has a use for it. Parse does
// not trim; callers trim what their syntax allows around the platform.
func Parse(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || slices.ContainsFunc(parts, badPart) {
		return v1.Platform{}, fmt.Errorf("platform %q is not os/arch[/variant]", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func badPart(s string) bool {
	return s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(":[],", r)
	})
}

// String renders p as os/arch[/variant][:os.version], the way buildx and
// go-containerregistry print a platform. It is for messages and outputs;
// os.features are not shown.
func String(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	if p.OSVersion != "" {
		s += ":" + p.OSVersion
	}
	return s
}

// Normalize makes the variant an architecture implies explicit: arm64 is
// arm64/v8 and arm is arm/v7, as containerd's platforms package normalises
// them, so an image published without a variant is the same platform as
// one that names the default. Other fields are returned unchanged.
func Normalize(p v1.Platform) v1.Platform {
	if p.Variant == "" {
		switch p.Architecture {
		case "arm64":
			p.Variant = "v8"
		case "arm":
			p.Variant = "v7"
		}
	}
	return p
}

// Key identifies p for duplicate detection: two platforms have the same Key
// when os, architecture, normalised variant, os.version and os.features
// (in any order) are equal. Two images with one Key cannot both sit in an
// index, since a client could not choose between them.
func Key(p v1.Platform) string {
	n := Normalize(p)
	feats := slices.Clone(n.OSFeatures)
	slices.Sort(feats)
	// Quoting keeps the fields apart even if one holds the separator.
	return fmt.Sprintf("%q %q %q %q %q", n.OS, n.Architecture, n.Variant, n.OSVersion, feats)
}

// Match reports whether an image of platform have is selected by the filter
// want. OS and architecture must be equal; a want without variant matches
// every variant, and one with a variant matches after Normalize (so
// linux/arm64 and linux/arm64/v8 select each other); os.version must be
// equal only when want has one, and every os.feature want names must be
// among have's. Fields want leaves empty select anything, as
// go-containerregistry's Platform.Satisfies treats them.
func Match(want, have v1.Platform) bool {
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	if want.Variant != "" && Normalize(want).Variant != Normalize(have).Variant {
		return false
	}
	if want.OSVersion != "" && want.OSVersion != have.OSVersion {
		return false
	}
	for _, f := range want.OSFeatures {
		if !slices.Contains(have.OSFeatures, f) {
			return false
		}
	}
	return true
}

// EnvName turns a platform in its String form into the suffix of an
// environment variable name: linux/arm64/v8 becomes LINUX_ARM64_V8. ASCII
// letters are upper-cased, digits kept, and every other character becomes
// "_". It takes the rendered text because outputs carry platforms as text,
// and the name must follow exactly what the user sees.
func EnvName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, s)
}
