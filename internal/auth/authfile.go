package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/authn"
)

// builder collects entries in precedence order while New reads the sources.
type builder struct {
	o       options
	masker  *masker
	entries []entry
	notes   []string
}

func (b *builder) add(e entry) { b.entries = append(b.entries, e) }

// rawAuthFile is the part of a docker config or containers auth file that
// holds secrets, read before docker/cli decodes it so that the base64 auth
// strings can be masked as they are: docker/cli keeps only the decoded
// username and password.
type rawAuthFile struct {
	Auths map[string]struct {
		Auth          string `json:"auth"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
		RegistryToken string `json:"registrytoken"`
	} `json:"auths"`
}

// parseAuthFile parses a docker config.json, a containers auth.json or a
// DOCKER_AUTH_CONFIG value (one format) through docker/cli's config
// package, passing every secret to mask first. Its errors never quote the
// input.
func parseAuthFile(data []byte, mask func(string)) (*configfile.ConfigFile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return configfile.New(""), nil
	}
	var raw rawAuthFile
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, jsonError(err)
	}
	for _, a := range raw.Auths {
		mask(a.Auth)
		if dec, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			if _, pw, ok := strings.Cut(string(dec), ":"); ok {
				mask(strings.Trim(pw, "\x00"))
			}
		}
		mask(a.Password)
		mask(a.IdentityToken)
		mask(a.RegistryToken)
	}
	cf, err := config.LoadFromReader(bytes.NewReader(data))
	if err != nil {
		var serr *json.SyntaxError
		var terr *json.UnmarshalTypeError
		if errors.As(err, &serr) || errors.As(err, &terr) {
			return nil, jsonError(err)
		}
		// docker/cli's only other errors come from decoding an auth
		// string; none of them quotes it.
		return nil, fmt.Errorf("an auths entry has an invalid auth string: %w", err)
	}
	for _, ac := range cf.AuthConfigs {
		mask(ac.Password)
	}
	return cf, nil
}

// jsonError describes a JSON error by position and kind without quoting the
// input. A syntax error quotes at most one character, so it is kept; a type
// error quotes the number it could not store (a password written as a
// number would show), so it is rewritten rather than wrapped.
func jsonError(err error) error {
	var serr *json.SyntaxError
	if errors.As(err, &serr) {
		return fmt.Errorf("invalid JSON at byte %d: %w", serr.Offset, err)
	}
	var terr *json.UnmarshalTypeError
	if errors.As(err, &terr) {
		field := terr.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Errorf("invalid JSON at byte %d: %s must be %s", terr.Offset, field, jsonKind(terr.Type.Kind().String()))
	}
	return errors.New("invalid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "a list"
	case "string":
		return "a string"
	}
	return "a " + goKind
}

// addAuthFile adds a parsed file's entries: credHelpers, then credsStore,
// then auths, so that at the same path length a helper answers first, as in
// docker.
func (b *builder) addAuthFile(cf *configfile.ConfigFile, desc string) {
	for _, raw := range slices.Sorted(maps.Keys(cf.CredentialHelpers)) {
		helper := cf.CredentialHelpers[raw]
		k, err := parseKey(raw)
		if err != nil || helper == "" {
			b.o.logger.Warn("ignoring credHelpers entry", "file", desc, "key", raw)
			continue
		}
		b.add(entry{key: k, helper: helper, source: fmt.Sprintf("%s (credHelpers %q: %q)", desc, raw, helper)})
	}
	if cf.CredentialsStore != "" {
		b.add(entry{anyRegistry: true, helper: cf.CredentialsStore, source: fmt.Sprintf("%s (credsStore %q)", desc, cf.CredentialsStore)})
	}
	for _, raw := range slices.Sorted(maps.Keys(cf.AuthConfigs)) {
		ac := cf.AuthConfigs[raw]
		cfg := authn.AuthConfig{
			Username:      ac.Username,
			Password:      ac.Password,
			IdentityToken: ac.IdentityToken,
			RegistryToken: ac.RegistryToken,
		}
		if empty(cfg) {
			continue // a placeholder docker writes when a helper holds the secret
		}
		k, err := parseKey(raw)
		if err != nil {
			b.o.logger.Warn("ignoring auths entry", "file", desc, "key", raw)
			continue
		}
		b.add(entry{key: k, cfg: cfg, source: fmt.Sprintf("%s (auths %q)", desc, raw)})
	}
}

// loadFile reads and adds one auth file. A missing file is skipped; when
// explicit (the user named it through a variable) the miss is remembered
// for Explain.
func (b *builder) loadFile(path, desc string, explicit bool) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if explicit {
			b.notes = append(b.notes, desc+" does not exist in this container")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", desc, err)
	}
	cf, err := parseAuthFile(data, b.masker.mask)
	if err != nil {
		return fmt.Errorf("%s: %w", desc, err)
	}
	b.addAuthFile(cf, desc)
	return nil
}

// addDockerConfig reads $DOCKER_CONFIG/config.json, else
// $HOME/.docker/config.json.
func (b *builder) addDockerConfig() error {
	getenv := b.o.getenv
	if dir := getenv(config.EnvOverrideConfigDir); dir != "" {
		path := filepath.Join(dir, config.ConfigFileName)
		return b.loadFile(path, "docker config "+path, true)
	}
	if home := getenv("HOME"); home != "" {
		path := filepath.Join(home, ".docker", config.ConfigFileName)
		return b.loadFile(path, "docker config "+path, false)
	}
	return nil
}

// addContainersAuthFiles reads every containers auth file podman, buildah
// and skopeo would, in their order: REGISTRY_AUTH_FILE, then the runtime
// and config directories' containers/auth.json.
func (b *builder) addContainersAuthFiles() error {
	getenv := b.o.getenv
	type file struct {
		path     string
		explicit bool
	}
	var files []file
	if p := getenv("REGISTRY_AUTH_FILE"); p != "" {
		files = append(files, file{p, true})
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		files = append(files, file{filepath.Join(d, "containers", "auth.json"), false})
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		files = append(files, file{filepath.Join(d, "containers", "auth.json"), false})
	} else if home := getenv("HOME"); home != "" {
		files = append(files, file{filepath.Join(home, ".config", "containers", "auth.json"), false})
	}
	seen := map[string]bool{}
	for _, f := range files {
		clean := filepath.Clean(f.path)
		if seen[clean] {
			continue
		}
		seen[clean] = true
		if err := b.loadFile(f.path, "containers auth file "+f.path, f.explicit); err != nil {
			return err
		}
	}
	return nil
}
