package auth

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRegistryAuth(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-Pw-Zz9"
	tests := []struct {
		name     string
		in       string
		want     []Entry
		wantErr  []string // substrings of the error
		wantNone bool
	}{{
		name: "two registries",
		in: `
- registry: docker.io
  username: hubuser
  password: ` + secret + `
- registry: https://ghcr.io/
  username: octocat
  password: "quoted: value"
`,
		want: []Entry{{"docker.io", "hubuser", secret}, {"https://ghcr.io/", "octocat", "quoted: value"}},
	}, {
		name: "flow style and number password",
		in:   `[{registry: reg.example/org, username: u, password: 12345}]`,
		want: []Entry{{"reg.example/org", "u", "12345"}},
	}, {
		name:     "empty",
		in:       "  \n",
		wantNone: true,
	}, {
		name:     "null",
		in:       "~",
		wantNone: true,
	}, {
		name:    "missing password",
		in:      "- registry: a.example\n  username: u\n",
		wantErr: []string{"item 0", "password required"},
	}, {
		name:    "missing registry in second item",
		in:      "- {registry: a.example, username: u, password: " + secret + "}\n- {username: u, password: " + secret + "}\n",
		wantErr: []string{"item 1", "registry required"},
	}, {
		name:    "not a list",
		in:      "registry: a.example\nusername: u\npassword: " + secret + "\n",
		wantErr: []string{"want a YAML list"},
	}, {
		name:    "unknown key",
		in:      "- registry: a.example\n  username: u\n  pasword: " + secret + "\n",
		wantErr: []string{"item 0", `unknown key "pasword"`},
	}, {
		name:    "secret as key",
		in:      "- registry: a.example\n  username: u\n  " + secret + ": x\n",
		wantErr: []string{"item 0", "unknown key"},
	}, {
		name:    "duplicate registry",
		in:      "- {registry: docker.io, username: u, password: p}\n- {registry: index.docker.io, username: v, password: q}\n",
		wantErr: []string{"items 0 and 1", "index.docker.io"},
	}, {
		name:    "password is a map",
		in:      "- registry: a.example\n  username: u\n  password: {x: " + secret + "}\n",
		wantErr: []string{"item 0", "password must be a string"},
	}, {
		name:    "unknown anchor",
		in:      "- registry: a.example\n  username: u\n  password: *" + secret + "\n",
		wantErr: []string{"not valid YAML"},
	}, {
		name:    "bad indentation",
		in:      "- registry: a.example\n username: u\n  password: " + secret + "\n",
		wantErr: []string{"not valid YAML", "line"},
	}, {
		name:    "bad registry",
		in:      "- {registry: 'a example', username: u, password: p}\n",
		wantErr: []string{"item 0", "registry"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRegistryAuth(tt.in)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParseRegistryAuth() = %+v, want an error", got)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("ParseRegistryAuth() error = %q, want it to contain %q", err, want)
					}
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("ParseRegistryAuth() error = %q contains the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRegistryAuth(): %v", err)
			}
			if tt.wantNone {
				if len(got) != 0 {
					t.Errorf("ParseRegistryAuth() = %+v, want none", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRegistryAuth() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
