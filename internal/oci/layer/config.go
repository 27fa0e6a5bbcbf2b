package layer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ConfigChanges are the config inputs applied on top of the base image's
// config. Zero values leave the base's value alone.
type ConfigChanges struct {
	// Env entries ("KEY=VALUE") replace the base's entry with the same KEY in
	// place, or are appended; a later entry for the same KEY wins.
	Env []string
	// Entrypoint and Cmd replace the base's when EntrypointSet / CmdSet (so
	// an empty list can clear them). As in a Dockerfile, setting Entrypoint
	// without Cmd clears the base's Cmd, which was written for the base's
	// entrypoint.
	Entrypoint, Cmd       []string
	EntrypointSet, CmdSet bool
	// Workdir (absolute) and User replace the base's when not empty.
	Workdir, User string
	// Labels are merged into the base's labels; these win.
	Labels map[string]string
}

// ParseEnvLines parses `env`: one KEY=VALUE per line. Blank lines and lines
// starting with # are skipped; the value is kept verbatim (only a trailing
// \r is removed). Errors wrap ErrInput and name the line.
func ParseEnvLines(text string) ([]string, error) {
	var env []string
	err := parseLines("env", text, func(k, v string) { env = append(env, k+"="+v) })
	return env, err
}

// ParseLabelLines parses `labels` like ParseEnvLines; a later line for the
// same key wins.
func ParseLabelLines(text string) (map[string]string, error) {
	labels := map[string]string{}
	if err := parseLines("labels", text, func(k, v string) { labels[k] = v }); err != nil {
		return nil, err
	}
	return labels, nil
}

func parseLines(input, text string, set func(k, v string)) error {
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			return inputErrorf("%s line %d: %q: want KEY=VALUE", input, i+1, line)
		case k == "":
			return inputErrorf("%s line %d: %q: KEY is empty", input, i+1, line)
		case strings.ContainsAny(k, " \t\x00") || strings.ContainsRune(v, 0):
			return inputErrorf("%s line %d: %q: KEY must not contain spaces or NUL", input, i+1, line)
		}
		set(k, v)
	}
	return nil
}

// ParseJSONArray parses `entrypoint` or `cmd` (named by input in errors): a
// JSON array of strings. Empty text returns nil, meaning "not set"; "[]" returns
// an empty, non-nil slice, meaning "clear it".
func ParseJSONArray(input, text string) ([]string, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	var out []string
	err := dec.Decode(&out)
	if err == nil && dec.More() {
		err = fmt.Errorf("text after the array")
	}
	if err == nil && out == nil {
		err = fmt.Errorf("null")
	}
	if err != nil {
		return nil, &inputError{
			msg: fmt.Sprintf(`%s: want a JSON array of strings like ["/app", "--flag"]: %v`, input, err),
			err: err,
		}
	}
	return out, nil
}

// applyChanges sets cc, the platform and created on cf.
func applyChanges(cf *v1.ConfigFile, p v1.Platform, cc ConfigChanges, created time.Time) error {
	c := &cf.Config
	for _, kv := range cc.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return inputErrorf("env %q: want KEY=VALUE", kv)
		}
		c.Env = setEnv(c.Env, k, kv)
	}
	if cc.EntrypointSet {
		c.Entrypoint = cc.Entrypoint
		if !cc.CmdSet {
			c.Cmd = nil
		}
	}
	if cc.CmdSet {
		c.Cmd = cc.Cmd
	}
	if cc.Workdir != "" {
		if !path.IsAbs(cc.Workdir) {
			return inputErrorf("workdir %q must be an absolute path", cc.Workdir)
		}
		c.WorkingDir = path.Clean(cc.Workdir)
	}
	if cc.User != "" {
		c.User = cc.User
	}
	if len(cc.Labels) > 0 {
		labels := maps.Clone(c.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, cc.Labels)
		c.Labels = labels
	}
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	if p.OSVersion != "" {
		cf.OSVersion = p.OSVersion
	}
	if len(p.OSFeatures) > 0 {
		cf.OSFeatures = p.OSFeatures
	}
	cf.Created = v1.Time{Time: created}
	return nil
}

// setEnv replaces KEY's entry in env in place, or appends kv.
func setEnv(env []string, key, kv string) []string {
	out := make([]string, 0, len(env)+1)
	found := false
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			if !found {
				out = append(out, kv)
				found = true
			}
			continue // drop duplicates of KEY in the base
		}
		out = append(out, e)
	}
	if !found {
		out = append(out, kv)
	}
	return out
}
