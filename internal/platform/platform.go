// Package platform owns what oci-assemble knows about image platforms: how
// a user writes one and which values exist (Parse, and the one list of
// known os, architecture and variant values in known.go), when one read
// from a source is safe to use (Check, which does not ask for known
// values), how one is shown (String), when two are the same platform
// (Normalize, Key), when an image's platform is selected by a filter
// (Match), and how one names an environment variable (EnvName).
//
// Every other package calls these, so an input, a message and a match
// agree on what linux/arm64 means. The model is the OCI image index's
// platform object, go-containerregistry's v1.Platform:
// https://github.com/opencontainers/image-spec/blob/v1.1.1/image-index.md#image-index-property-descriptions
package platform

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Parse parses a platform as users write it in the platforms input, in
// annotation filters such as manifest[linux/arm64] and in a layer's
// platforms list: os/arch[/variant]. OS and architecture are required and
// every part must pass the rules Check applies to a platform read from a
// source (printable ASCII without white space or any of ":[],/\", not
// "." or "..", at most MaxField bytes), so a typed platform and one from an
// image are held to the same rules of form. A typed platform must also be
// one that exists: os, architecture and variant must be known values
// (knownOS), so linux/amd46 is refused, listing the known ones, before an
// image for an architecture no machine runs is published. An os.version
// (buildx's ":10.0.17763") is refused: no input has a use for it. Parse
// does not trim; callers trim what their syntax allows around the
// platform.
func Parse(s string) (v1.Platform, error) {
	p, err := parseForm(s)
	if err != nil {
		return v1.Platform{}, err
	}
	if err := checkKnown(s, p); err != nil {
		return v1.Platform{}, err
	}
	return p, nil
}

// parseForm is Parse without the known values: the rules of form that
// Check applies to a platform read from a source.
func parseForm(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return v1.Platform{}, &fieldError{typed: s}
	}
	for i, part := range parts {
		if err := checkField(fieldNames[i], part, true); err != nil {
			err.typed = s
			return v1.Platform{}, err
		}
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

var fieldNames = [...]string{"os", "architecture", "variant"}

// ErrInvalid marks a platform that breaks the rules of Check or Parse;
// callers tell it apart with errors.Is.
var ErrInvalid = errors.New("invalid platform")

// MaxField bounds the length in bytes of one platform field and of one
// os.feature. Real values are short ("linux", "arm64", "v8",
// "10.0.17763.1234", "win32k"); the bound keeps a hostile config from
// putting megabytes into a path, a log line or an output.
const MaxField = 128

// maxFeatures bounds the number of os.features. The image spec names one
// value ("win32k") for Windows; a few dozen is far beyond any real image.
const maxFeatures = 32

// fieldError is a platform field that breaks the rules of Check or Parse;
// Error shows the value quoted and cut to MaxField bytes.
type fieldError struct {
	field  string // "os", "architecture", "variant", "os.version", "os.features[i]"; "" for a Parse of too few or many parts
	value  string
	reason string
	typed  string // the text Parse was given; "" for Check
}

func (e *fieldError) Error() string {
	switch {
	case e.field == "":
		return fmt.Sprintf("platform %s is not os/arch[/variant]", quote(e.typed))
	case e.typed != "":
		return fmt.Sprintf("platform %s is not os/arch[/variant]: %s %s %s", quote(e.typed), e.field, quote(e.value), e.reason)
	}
	return fmt.Sprintf("platform %s %s %s", e.field, quote(e.value), e.reason)
}

func (e *fieldError) Is(target error) bool { return target == ErrInvalid }

// Check verifies the fields of a platform read from a source (an image
// config, an index descriptor, an OCI layout, a docker-archive) before the
// platform reaches a path, a log line, an output or a match. A platform's
// fields fill a layer's {os}, {arch}, {variant} and {platform} in a SRC
// path, so each present field must be one harmless path element: printable
// ASCII (0x21-0x7e) without ":[],", which delimit the texts a platform is
// written in, nor "/" or "\", and not "." or "..", at most MaxField bytes.
// The same rules apply to os.version and each os.feature, and there are at
// most 32 os.features. These are Parse's rules for a typed platform, so a
// platform from a source passes exactly when its typed form would.
//
// Check does not require any field: the image spec makes os and
// architecture required, but whether a missing one is an error is for the
// caller, which knows whether it needs them. Values real images carry,
// such as BuildKit's "unknown/unknown" attestation platform or os.version
// "10.0.17763.1234", pass. The error names the field, quotes the value
// and matches ErrInvalid.
// https://github.com/opencontainers/image-spec/blob/v1.1.1/image-index.md#image-index-property-descriptions
func Check(p v1.Platform) error {
	for _, f := range []struct{ name, value string }{
		{"os", p.OS}, {"architecture", p.Architecture}, {"variant", p.Variant}, {"os.version", p.OSVersion},
	} {
		if err := checkField(f.name, f.value, false); err != nil {
			return err
		}
	}
	if len(p.OSFeatures) > maxFeatures {
		return &fieldError{field: "os.features", value: strings.Join(p.OSFeatures[:maxFeatures], ","),
			reason: fmt.Sprintf("has %d values, more than %d", len(p.OSFeatures), maxFeatures)}
	}
	for i, f := range p.OSFeatures {
		if err := checkField(fmt.Sprintf("os.features[%d]", i), f, true); err != nil {
			return err
		}
	}
	return nil
}

// checkField applies the rules of Check and Parse to one field; an empty
// value is an error only when required.
func checkField(name, v string, required bool) *fieldError {
	fail := func(reason string) *fieldError { return &fieldError{field: name, value: v, reason: reason} }
	switch {
	case v == "" && required:
		return fail("is empty")
	case len(v) > MaxField:
		return fail(fmt.Sprintf("is longer than %d bytes", MaxField))
	case v == "." || v == "..":
		return fail(`is a "." or ".." path element`)
	}
	for i := range len(v) {
		switch c := v[i]; {
		case c <= ' ' || c > '~':
			return fail("holds white space, a control character or a character outside printable ASCII")
		case strings.IndexByte(":[],/\\", c) >= 0:
			return fail(fmt.Sprintf("holds %q", c))
		}
	}
	return nil
}

// quote quotes s for a message, cut to MaxField bytes so a hostile value
// cannot flood a log.
func quote(s string) string {
	if len(s) <= MaxField {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:MaxField], len(s))
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
