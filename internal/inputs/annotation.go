package inputs

import (
	"fmt"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/platform"
)

var levels = map[string]plan.Level{
	"index":               plan.LevelIndex,
	"manifest":            plan.LevelManifest,
	"manifest-descriptor": plan.LevelManifestDescriptor,
	"index-descriptor":    plan.LevelIndexDescriptor,
}

// ParseAnnotation parses one line of the annotations input,
// [LEVELS:]KEY=VALUE as buildx and docker/metadata-action write it: LEVELS
// is a comma list of levels, each optionally with a [os/arch[/variant]]
// platform filter. It returns one Annotation per level. The value is
// everything after the first '=' and may hold '=' and spaces.
func ParseAnnotation(line string) ([]plan.Annotation, error) {
	eq := strings.IndexByte(line, '=')
	if eq < 0 {
		return nil, fmt.Errorf("%q has no '='; write [LEVEL:]KEY=VALUE", line)
	}
	lhs, value := line[:eq], line[eq+1:]
	prefix, key := "", lhs
	if i := indexOutsideBrackets(lhs, ':'); i >= 0 {
		prefix, key = lhs[:i], lhs[i+1:]
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, fmt.Errorf("%q has an empty key; write [LEVEL:]KEY=VALUE", line)
	}
	if strings.ContainsAny(key, " \t[]") {
		return nil, fmt.Errorf("key %q has white space or brackets", key)
	}
	if prefix == "" {
		if strings.ContainsAny(lhs, "[]") {
			return nil, fmt.Errorf("%q: a platform filter needs a level, as in manifest[linux/arm64]:KEY=VALUE", line)
		}
		return []plan.Annotation{{Level: plan.LevelIndex, Key: key, Value: value}}, nil
	}
	var out []plan.Annotation
	for _, part := range splitOutsideBrackets(prefix, ',') {
		a := plan.Annotation{Key: key, Value: value}
		lvl := strings.TrimSpace(part)
		if i := strings.IndexByte(lvl, '['); i >= 0 {
			if !strings.HasSuffix(lvl, "]") {
				return nil, fmt.Errorf("level %q: unclosed platform filter", lvl)
			}
			p, err := platform.Parse(strings.TrimSpace(lvl[i+1 : len(lvl)-1]))
			if err != nil {
				return nil, fmt.Errorf("level %q: %v", lvl, err)
			}
			a.Platform = &p
			lvl = lvl[:i]
		}
		l, ok := levels[lvl]
		if !ok {
			return nil, fmt.Errorf("unknown level %q; use index, manifest, manifest-descriptor or index-descriptor", lvl)
		}
		if a.Platform != nil && (l == plan.LevelIndex || l == plan.LevelIndexDescriptor) {
			return nil, fmt.Errorf("level %q: a platform filter applies only to manifest and manifest-descriptor", part)
		}
		a.Level = l
		out = append(out, a)
	}
	return out, nil
}

func indexOutsideBrackets(s string, c byte) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case c:
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func splitOutsideBrackets(s string, c byte) []string {
	var out []string
	for {
		i := indexOutsideBrackets(s, c)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}
