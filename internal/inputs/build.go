package inputs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// layerOnly are the inputs that mean something only in layer mode.
var layerOnly = []string{"platforms", "layers", "env", "entrypoint", "cmd", "workdir", "user", "labels", "compression-level", "created"}

// parseBuild validates the layer-mode inputs into s.Build. It is called
// only when base is set; insecure marks plain-HTTP registries.
func parseBuild(s *Spec, raw Raw, getenv func(string) string, insecure hosts.Insecure, fail func(input, format string, a ...any)) {
	b := &plan.Build{}
	base := strings.TrimSpace(raw["base"])
	if strings.EqualFold(base, "scratch") {
		b.Scratch = true
	} else if r, err := parseRef(base, insecure); err != nil {
		fail("base", "%v", err)
	} else if msg := checkSource(r); msg != "" {
		fail("base", "%s", msg)
	} else {
		b.Base = r
	}

	seen := map[string]bool{}
	for _, v := range splitList(raw["platforms"]) {
		p, err := platform.Parse(v)
		if err != nil {
			fail("platforms", "%v", err)
			continue
		}
		// arm64 and arm64/v8 are one platform, listed twice.
		if k := platform.Key(p); seen[k] {
			fail("platforms", "%s is listed twice", platform.String(platform.Normalize(p)))
			continue
		}
		seen[platform.Key(p)] = true
		b.Platforms = append(b.Platforms, p)
	}
	if b.Scratch && len(splitList(raw["platforms"])) == 0 {
		fail("platforms", "base scratch has no platforms of its own; list them, e.g. linux/amd64,linux/arm64")
	}

	var err error
	if b.Layers, err = layer.ParseSpecs(raw["layers"]); err != nil {
		fail("layers", "%v", err)
	}
	parseConfig(b, raw, fail)
	parseCompression(b, raw, fail)
	if b.Created, err = parseCreated(raw["created"], getenv("SOURCE_DATE_EPOCH")); err != nil {
		fail("created", "%v", err)
	}
	parseWorkspace(b, getenv, fail)
	s.Build = b
}

// parseConfig reads the inputs that overlay the base's image config.
func parseConfig(b *plan.Build, raw Raw, fail func(input, format string, a ...any)) {
	var err error
	if b.Config.Env, err = layer.ParseEnvLines(raw["env"]); err != nil {
		fail("env", "%v", err)
	}
	if b.Config.Labels, err = layer.ParseLabelLines(raw["labels"]); err != nil {
		fail("labels", "%v", err)
	}
	if b.Config.Entrypoint, err = layer.ParseJSONArray("entrypoint", raw["entrypoint"]); err != nil {
		fail("entrypoint", "%v", err)
	}
	b.Config.EntrypointSet = b.Config.Entrypoint != nil
	if b.Config.Cmd, err = layer.ParseJSONArray("cmd", raw["cmd"]); err != nil {
		fail("cmd", "%v", err)
	}
	b.Config.CmdSet = b.Config.Cmd != nil
	if w := strings.TrimSpace(raw["workdir"]); w != "" {
		if !strings.HasPrefix(w, "/") {
			fail("workdir", "%q is not absolute; write it as /PATH", w)
		}
		b.Config.Workdir = w
	}
	b.Config.User = strings.TrimSpace(raw["user"])
}

// parseCompression reads compression and compression-level.
func parseCompression(b *plan.Build, raw Raw, fail func(input, format string, a ...any)) {
	var err error
	if b.Compression, err = layer.ParseCompression(strings.ToLower(strings.TrimSpace(raw["compression"]))); err != nil {
		fail("compression", "%q is not gzip or zstd", strings.TrimSpace(raw["compression"]))
	} else if lv := strings.TrimSpace(raw["compression-level"]); lv != "" {
		if b.Level, err = strconv.Atoi(lv); err != nil || b.Level < 1 {
			fail("compression-level", "%q is not a positive whole number", lv)
		} else if err := b.Compression.CheckLevel(b.Level); err != nil {
			fail("compression-level", "%v", err)
		}
	}
}

// parseWorkspace finds the workspace relative layer sources are under
// (GITHUB_WORKSPACE, else the working directory) and checks every source.
func parseWorkspace(b *plan.Build, getenv func(string) string, fail func(input, format string, a ...any)) {
	var err error
	if b.Workspace = getenv("GITHUB_WORKSPACE"); b.Workspace == "" {
		if b.Workspace, err = os.Getwd(); err != nil {
			fail("layers", "cannot find the working directory: %v", err)
		}
	}
	if b.Workspace, err = filepath.Abs(b.Workspace); err != nil {
		fail("layers", "workspace %q: %v", b.Workspace, err)
	}

	// With the platforms known, every SRC is checked now, before the base
	// is read or anything is written. An index base without platforms
	// names its platforms only when it is read; Assemble checks then,
	// still before any upload.
	if len(b.Platforms) > 0 && b.Workspace != "" {
		for _, spec := range b.Layers {
			for _, p := range b.Platforms {
				if _, _, err := layer.Expand(spec, p, b.Workspace); err != nil {
					fail("layers", "%v", err)
					break
				}
			}
		}
	}
}

// parseCreated parses the created input: RFC 3339, Unix seconds or "now".
// Empty means SOURCE_DATE_EPOCH (reproducible-builds.org's convention),
// else the Unix epoch.
func parseCreated(v, sourceDateEpoch string) (time.Time, error) {
	v = strings.TrimSpace(v)
	from := "created"
	if v == "" {
		if v = strings.TrimSpace(sourceDateEpoch); v == "" {
			return time.Unix(0, 0).UTC(), nil
		}
		from = "SOURCE_DATE_EPOCH"
	}
	if strings.EqualFold(v, "now") && from == "created" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 253402300799 { // after 9999-12-31 does not fit RFC 3339
			return time.Time{}, fmt.Errorf("%s %q: Unix seconds out of range", from, v)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if from == "created" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			if t.Year() < 1970 {
				return time.Time{}, fmt.Errorf("%q is before 1970", v)
			}
			return t.UTC().Truncate(time.Second), nil
		}
		return time.Time{}, fmt.Errorf("%q is not RFC 3339 (2024-05-01T12:00:00Z), Unix seconds or now", v)
	}
	return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not Unix seconds; fix the variable or set created", v)
}
