package auth

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestGitHubTokenSource checks that the token comes from one fallback, and
// that explanations name where it really came from: a token only in the
// environment is GITHUB_TOKEN, never the github-token input.
func TestGitHubTokenSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		vars       map[string]string
		input      string
		wantToken  string
		wantSource string
	}{{
		name:       "environment only",
		vars:       map[string]string{"GITHUB_TOKEN": "ght-env"},
		wantToken:  "ght-env",
		wantSource: "GITHUB_TOKEN",
	}, {
		name:       "environment with white space",
		vars:       map[string]string{"GITHUB_TOKEN": " ght-env\n"},
		wantToken:  "ght-env",
		wantSource: "GITHUB_TOKEN",
	}, {
		name:       "input beats environment",
		vars:       map[string]string{"GITHUB_TOKEN": "ght-env"},
		input:      "ght-input",
		wantToken:  "ght-input",
		wantSource: "github-token input",
	}, {
		name:       "blank input falls back",
		vars:       map[string]string{"GITHUB_TOKEN": "ght-env"},
		input:      "  ",
		wantToken:  "ght-env",
		wantSource: "GITHUB_TOKEN",
	}, {
		name:       "none",
		wantSource: "no credentials",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			kc := newKeychain(t, WithGetenv(env(tt.vars)), WithGitHubToken(tt.input), WithMask(rec.mask))
			if got := kc.GitHubToken(); got != tt.wantToken {
				t.Errorf("GitHubToken() = %q, want %q", got, tt.wantToken)
			}
			if tt.wantToken != "" && !rec.masked(tt.wantToken) {
				t.Errorf("token %q was not masked", tt.wantToken)
			}
			ref := name.MustParseReference("ghcr.io/o/app:v1")
			if got := kc.Source(ref.Context()); got != tt.wantSource {
				t.Errorf("Source(ghcr.io/o/app) = %q, want %q", got, tt.wantSource)
			}
			if tt.wantToken == "" {
				return
			}
			err := kc.Explain(fmt.Errorf("pushing: %w", &transport.Error{StatusCode: http.StatusUnauthorized}), ref)
			msg := err.Error()
			if want := "credential from " + tt.wantSource; !strings.Contains(msg, want) {
				t.Errorf("Explain() = %q, want it to contain %q", msg, want)
			}
			for _, other := range []string{"GITHUB_TOKEN", "github-token input"} {
				if other != tt.wantSource && strings.Contains(msg, "credential from "+other) {
					t.Errorf("Explain() = %q, names %s as the source", msg, other)
				}
			}
			if strings.Contains(msg, tt.wantToken) {
				t.Errorf("Explain() = %q, leaks the token", msg)
			}
		})
	}
}
