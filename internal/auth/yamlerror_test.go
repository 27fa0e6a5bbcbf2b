package auth

import (
	"strings"
	"testing"
)

// TestRegistryAuthYAMLErrorPosition: a registry-auth input that is not
// YAML is reported by the line and column of the problem, with yaml's
// reason and the tokens of its grammar kept, and never with the input's
// text.
func TestRegistryAuthYAMLErrorPosition(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-Pw9"
	const head = "- registry: ghcr.io\n  username: u\n"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "key indented one too few", in: head + " password: " + secret + "\n",
			want: "not valid YAML: line 3, column 2: did not find expected '-' indicator"},
		{name: "item not indented", in: "- registry: ghcr.io\nusername: " + secret + "\n",
			want: "not valid YAML: line 2, column 1: did not find expected '-' indicator"},
		{name: "tab", in: head + "\tpassword: " + secret + "\n",
			want: "not valid YAML: line 3, column 1: found a tab character that violates indentation"},
		{name: "character that cannot start a token", in: head + "  password: @" + secret + "\n",
			want: "not valid YAML: line 3, column 13: found character that cannot start any token"},
		{name: "colon in a plain password", in: head + "  password: " + secret + ": x\n",
			want: "not valid YAML: line 3, column 3: mapping values are not allowed in this context"},
		{name: "unterminated quote", in: head + "  password: \"" + secret + "\n",
			want: "not valid YAML: line 3, column 3: found unexpected end of stream"},
		{name: "unknown escape", in: head + "  password: \"a\\q" + secret + "\"\n",
			want: "not valid YAML: line 3, column 15: found unknown escape character"},
		{name: "unclosed flow map", in: "- {registry: ghcr.io, username: u, password: " + secret + "\n",
			want: "not valid YAML: line 1, column 1: did not find expected ',' or '}'"},
		{name: "anchor name is the secret", in: head + "  password: *" + secret + "\n",
			want: "not valid YAML: line 3, column 13: unknown anchor '…' referenced"},
		{name: "map instead of list", in: "registry: ghcr.io\n- username: " + secret + "\n",
			want: "not valid YAML: line 2, column 1: did not find expected key"},
		{name: "unknown key has a column", in: head + "  password: p\n  pasword: " + secret + "\n",
			want: `item 0 (line 1, column 3): line 4, column 3: unknown key "pasword"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRegistryAuth(tt.in)
			if err == nil {
				t.Fatal("ParseRegistryAuth() error = nil, want one")
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("ParseRegistryAuth() error = %q, want it to start %q", got, tt.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseRegistryAuth() error = %q holds the secret or a newline", err)
			}
		})
	}
}

// TestRedactYAMLReason: yaml's own grammar tokens stay, anything else it
// quotes goes.
func TestRedactYAMLReason(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"did not find expected '-' indicator": "did not find expected '-' indicator",
		"did not find expected ',' or ']'":    "did not find expected ',' or ']'",
		"could not find expected ':'":         "could not find expected ':'",
		"unknown anchor 'pw' referenced":      "unknown anchor '…' referenced",
		"anchor 'a' value contains itself":    "anchor '…' value contains itself",
		"cannot unmarshal !!str `hunter2`":    "cannot unmarshal !!str '…'",
		"unclosed 'hunter2":                   "unclosed '…'",
		"two\nlines":                          "two lines",
	} {
		if got := redactYAMLReason(in); got != want {
			t.Errorf("redactYAMLReason(%q) = %q, want %q", in, got, want)
		}
	}
}
