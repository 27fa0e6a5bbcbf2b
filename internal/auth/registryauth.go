package auth

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Entry is one credential of the registry-auth input.
type Entry struct {
	// Registry is a registry (ghcr.io) or a repository path in one
	// (ghcr.io/org); a scheme and trailing slashes are ignored.
	Registry string
	// Username and Password are sent to the registry or its token server.
	Username, Password string
}

// validate checks e and returns its normalised key. Its errors name the
// field, never the password.
func (e Entry) validate() (key, error) {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"registry", e.Registry}, {"username", e.Username}, {"password", e.Password},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return key{}, fmt.Errorf("%s required", strings.Join(missing, " and "))
	}
	k, err := parseKey(e.Registry)
	if err != nil {
		return key{}, fmt.Errorf("registry: %w", err)
	}
	return k, nil
}

// ParseRegistryAuth parses the registry-auth input, docker/login-action's
// format: a YAML list of maps with registry, username and password, all
// required. Empty text gives no entries. Errors name the item index, the
// line and column and the field, and never quote a value (the caller should
// have masked the input); they do not name the input, which the caller
// does.
// In a workflow:
//
//	registry-auth: |
//	  - registry: ghcr.io
//	    username: octocat
//	    password: ${{ secrets.GHCR_TOKEN }}
func ParseRegistryAuth(yamlText string) ([]Entry, error) {
	if strings.TrimSpace(yamlText) == "" {
		return nil, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(yamlText), &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", yamlError(yamlText, err))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	list := doc.Content[0]
	if list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
		return nil, nil
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d, column %d: want a YAML list of maps with registry, username and password", list.Line, list.Column)
	}
	entries := make([]Entry, 0, len(list.Content))
	seen := map[string]int{}
	for i, item := range list.Content {
		e, err := parseEntry(item)
		if err != nil {
			return nil, fmt.Errorf("item %d (line %d, column %d): %w", i, item.Line, item.Column, err)
		}
		k, err := e.validate()
		if err != nil {
			return nil, fmt.Errorf("item %d (line %d, column %d): %w", i, item.Line, item.Column, err)
		}
		if j, dup := seen[k.String()]; dup {
			return nil, fmt.Errorf("items %d and %d both name %s", j, i, k)
		}
		seen[k.String()] = i
		entries = append(entries, e)
	}
	return entries, nil
}

// parseEntry reads one map of the list. Aliases are refused: they could
// make one password appear under another name.
func parseEntry(item *yaml.Node) (Entry, error) {
	if item.Kind != yaml.MappingNode {
		return Entry{}, errors.New("want a map with registry, username and password")
	}
	var e Entry
	seen := map[string]bool{}
	for j := 0; j+1 < len(item.Content); j += 2 {
		k, v := item.Content[j], item.Content[j+1]
		if k.Kind != yaml.ScalarNode {
			return Entry{}, fmt.Errorf("line %d, column %d: a key is not a plain name", k.Line, k.Column)
		}
		var field *string
		switch k.Value {
		case "registry":
			field = &e.Registry
		case "username":
			field = &e.Username
		case "password":
			field = &e.Password
		default:
			return Entry{}, fmt.Errorf("line %d, column %d: unknown key %s (want registry, username, password)", k.Line, k.Column, describeKey(k.Value))
		}
		if seen[k.Value] {
			return Entry{}, fmt.Errorf("line %d, column %d: %s given twice", k.Line, k.Column, k.Value)
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return Entry{}, fmt.Errorf("line %d, column %d: %s must be a string", v.Line, v.Column, k.Value)
		}
		*field = v.Value
	}
	return e, nil
}

// describeKey quotes an unknown key when it looks like a field name (a typo
// such as "pasword") and not otherwise: a misplaced secret can end up as a
// key.
func describeKey(k string) string {
	if len(k) > 24 {
		return "(a long key)"
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return "(a key that is not a field name)"
		}
	}
	return fmt.Sprintf("%q", k)
}
