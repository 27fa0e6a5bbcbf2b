// Package layer builds image layers from local files, the way nix's
// streamLayeredImage and ko do: it parses the user's `layers` input, expands it
// per platform, streams each layer (files → tar → gzip or zstd → digests) in
// one pass straight to whoever consumes it, and applies the user's config
// changes (env, entrypoint, cmd, workdir, user, labels) on top of a base image.
//
// Everything it produces is reproducible: the same files, options and created
// time give the same layer and image digests, bit for bit.
package layer

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gopkg.in/yaml.v3"

	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// ErrInput marks errors caused by the user's input: malformed YAML, a bad
// SRC:DEST, a missing SRC, an unsupported file type, a bad env line. Callers
// branch on it with errors.Is to report a user error instead of a failure.
var ErrInput = errors.New("invalid input")

// File is one SRC:DEST item of a layer, as written by the user: SRC may hold
// {os}, {arch}, {variant} and {platform} placeholders and may end in "/" (copy
// the directory's contents); DEST is an absolute path in the image.
type File struct {
	Src, Dest string
}

// Spec is one item of the `layers` input: the files of one layer and the
// platforms it applies to (empty means all platforms).
type Spec struct {
	Files     []File
	Platforms []v1.Platform

	// pos is the 1-based position in the `layers` list, 0 when the Spec was
	// not made by ParseSpecs; it only names the item in error messages.
	pos int
}

// placeholderRE matches a {name} placeholder; names are checked against
// knownPlaceholders so that a typo like {archh} fails instead of staying literal.
var placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)

func knownPlaceholder(s string) bool {
	switch s {
	case "{os}", "{arch}", "{variant}", "{platform}":
		return true
	}
	return false
}

// ParseSpecs parses the `layers` input: a YAML list whose items have `files`
// (a list of "SRC:DEST" strings) and optionally `platforms` (a list of
// "os/arch[/variant]"). It checks syntax, placeholders and DEST; files on disk
// are checked later by Expand. Empty input yields no specs. Errors wrap
// ErrInput and name the item, e.g. "layers[1].files[0]: ...".
func ParseSpecs(yamlText string) ([]Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(yamlText), &doc); err != nil {
		return nil, &inputError{msg: "layers: " + err.Error(), err: err}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // empty input
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.SequenceNode {
		return nil, inputErrorf("layers: want a YAML list of {files: [...], platforms: [...]} items (line %d)", root.Line)
	}
	specs := make([]Spec, 0, len(root.Content))
	for i, item := range root.Content {
		s, err := parseItem(fmt.Sprintf("layers[%d]", i), item)
		if err != nil {
			return nil, err
		}
		s.pos = i + 1
		specs = append(specs, s)
	}
	return specs, nil
}

func parseItem(name string, item *yaml.Node) (Spec, error) {
	var s Spec
	if item.Kind != yaml.MappingNode {
		return s, inputErrorf("%s: want a mapping with files and platforms (line %d)", name, item.Line)
	}
	seen := map[string]bool{}
	for k := 0; k+1 < len(item.Content); k += 2 {
		key, val := item.Content[k], item.Content[k+1]
		if key.Kind != yaml.ScalarNode {
			return s, inputErrorf("%s: keys must be strings (line %d)", name, key.Line)
		}
		if seen[key.Value] {
			return s, inputErrorf("%s: duplicate key %q (line %d)", name, key.Value, key.Line)
		}
		seen[key.Value] = true
		switch key.Value {
		case "files":
			items, err := stringList(name+".files", val)
			if err != nil {
				return s, err
			}
			for j, it := range items {
				f, err := parseFile(it)
				if err != nil {
					return s, fmt.Errorf("%s.files[%d]: %w", name, j, err)
				}
				s.Files = append(s.Files, f)
			}
		case "platforms":
			items, err := stringList(name+".platforms", val)
			if err != nil {
				return s, err
			}
			for j, it := range items {
				p, err := platform.Parse(it)
				if err != nil {
					return s, inputErrorf("%s.platforms[%d]: %v", name, j, err)
				}
				s.Platforms = append(s.Platforms, p)
			}
		default:
			return s, inputErrorf("%s: unknown key %q (line %d); known keys are files and platforms", name, key.Value, key.Line)
		}
	}
	if len(s.Files) == 0 {
		return s, inputErrorf("%s: files is missing or empty (line %d)", name, item.Line)
	}
	return s, nil
}

// stringList reads a YAML sequence of scalars. Aliases are refused: a layer
// list has no use for them and they would let a small input expand hugely.
func stringList(name string, n *yaml.Node) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, inputErrorf("%s: want a list of strings (line %d)", name, n.Line)
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			return nil, inputErrorf("%s[%d]: want a string (line %d)", name, i, c.Line)
		}
		out = append(out, c.Value)
	}
	return out, nil
}

// parseFile splits "SRC:DEST" at the first colon and validates both halves.
func parseFile(s string) (File, error) {
	src, dest, ok := strings.Cut(s, ":")
	if !ok {
		return File{}, inputErrorf("%q: want SRC:DEST", s)
	}
	if src == "" {
		return File{}, inputErrorf("%q: SRC is empty", s)
	}
	if strings.ContainsRune(src, 0) || strings.ContainsRune(dest, 0) {
		return File{}, inputErrorf("%q: contains a NUL byte", s)
	}
	for _, m := range placeholderRE.FindAllString(src, -1) {
		if !knownPlaceholder(m) {
			return File{}, inputErrorf("%q: unknown placeholder %s in SRC; known are {os}, {arch}, {variant}, {platform}", s, m)
		}
	}
	if err := checkDest(dest); err != nil {
		return File{}, fmt.Errorf("%q: %w", s, err)
	}
	return File{Src: src, Dest: dest}, nil
}

// checkDest rejects a DEST that is not absolute or that climbs with "..";
// placeholders are expanded only in SRC, so one in DEST is most likely a
// mistake and is refused rather than copied literally.
func checkDest(dest string) error {
	switch {
	case dest == "":
		return inputErrorf("DEST is empty")
	case !strings.HasPrefix(dest, "/"):
		return inputErrorf("DEST %q must be an absolute path in the image", dest)
	}
	for _, part := range strings.Split(dest, "/") {
		if part == ".." {
			return inputErrorf("DEST %q must not contain ..", dest)
		}
	}
	for _, m := range placeholderRE.FindAllString(dest, -1) {
		if knownPlaceholder(m) {
			return inputErrorf("DEST %q: placeholders are expanded only in SRC", dest)
		}
	}
	return nil
}

// matches reports whether platform p is selected by the spec's filter: no
// filter selects every platform, else p must match one of its platforms as
// platform.Match selects (a filter without variant matches every variant;
// arm64 is arm64/v8).
func (s Spec) matches(p v1.Platform) bool {
	return len(s.Platforms) == 0 || slices.ContainsFunc(s.Platforms, func(f v1.Platform) bool {
		return platform.Match(f, p)
	})
}

// expandSrc replaces the placeholders of src for platform p.
func expandSrc(src string, p v1.Platform) string {
	plat := p.OS + "-" + p.Architecture
	if p.Variant != "" {
		plat += "-" + p.Variant
	}
	return strings.NewReplacer(
		"{os}", p.OS,
		"{arch}", p.Architecture,
		"{variant}", p.Variant,
		"{platform}", plat,
	).Replace(src)
}

// cleanDest cleans an absolute image path; path.Clean keeps it absolute.
func cleanDest(dest string) string { return path.Clean(dest) }

// inputError is an error in the user's input; it matches ErrInput without
// repeating its text in every message.
type inputError struct {
	msg string
	err error // optional cause, e.g. fs.ErrNotExist
}

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Unwrap() error        { return e.err }
func (e *inputError) Is(target error) bool { return target == ErrInput }

func inputErrorf(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}
