package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	kc := newKeychain(t,
		WithRegistryAuth([]Entry{{Registry: "reg.example/org", Username: "u", Password: "pw-explain-1"}}),
		WithGetenv(env(map[string]string{"DOCKER_CONFIG": "/nonexistent-dir-for-test"})))
	denied := func(code int) error {
		return fmt.Errorf("pushing: %w", &transport.Error{StatusCode: code, Errors: []transport.Diagnostic{{Code: transport.UnauthorizedErrorCode, Message: "authentication required"}}})
	}
	tests := []struct {
		name      string
		err       error
		ref       string
		want      []string
		not       []string
		unchanged bool
	}{{
		name: "401 with credential",
		err:  denied(http.StatusUnauthorized),
		ref:  "reg.example/org/app:v1",
		want: []string{"registry reg.example refused the credential from registry-auth input for repository org/app", "check it", "docker login reg.example", "--registry-auth", "nonexistent-dir-for-test"},
		not:  []string{"github-token", "DOCKER_AUTH_CONFIG"},
	}, {
		name: "403 anonymous",
		err:  denied(http.StatusForbidden),
		ref:  "ghcr.io/o/app@sha256:" + strings.Repeat("a", 64),
		want: []string{"registry ghcr.io denied anonymous access to repository o/app (no credential was found)"},
	}, {
		// GHCR's secondary rate limit is a 403 (perminder-klair/subwave#1377):
		// no credential advice for it.
		name: "403 rate limit",
		err: fmt.Errorf("pushing: %w", &transport.Error{StatusCode: http.StatusForbidden, Errors: []transport.Diagnostic{{
			Code: "DENIED", Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
		}}}),
		ref:  "ghcr.io/o/app:v1",
		want: []string{"registry ghcr.io is rate limiting", "run the job again later"},
		not:  []string{"credential", "github-token"},
	}, {
		name:      "404 unchanged",
		err:       &transport.Error{StatusCode: http.StatusNotFound},
		ref:       "ghcr.io/o/app:v1",
		unchanged: true,
	}, {
		name:      "other error unchanged",
		err:       errors.New("dial tcp: refused"),
		ref:       "ghcr.io/o/app:v1",
		unchanged: true,
	}, {
		name:      "nil",
		ref:       "ghcr.io/o/app:v1",
		unchanged: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ref, err := name.ParseReference(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			got := kc.Explain(tt.err, ref)
			if tt.unchanged {
				if got != tt.err {
					t.Errorf("Explain() = %v, want the error unchanged (%v)", got, tt.err)
				}
				return
			}
			var terr *transport.Error
			if !errors.As(got, &terr) {
				t.Errorf("Explain() = %v, want a wrapped *transport.Error", got)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("Explain() does not wrap the original error")
			}
			for _, want := range tt.want {
				if !strings.Contains(got.Error(), want) {
					t.Errorf("Explain() = %q, want it to contain %q", got, want)
				}
			}
			for _, not := range tt.not {
				if strings.Contains(got.Error(), not) {
					t.Errorf("Explain() = %q, want no %q in it", got, not)
				}
			}
			if strings.Contains(got.Error(), "\n") {
				t.Errorf("Explain() = %q, want one line", got)
			}
			t.Log(got)
		})
	}
}

// TestExplainFixForTheCI: the fix names the places the CI the program
// runs in reads credentials from, and none of another CI's.
func TestExplainFixForTheCI(t *testing.T) {
	t.Parallel()
	refused := func(code int) error {
		return fmt.Errorf("pushing: %w", &transport.Error{StatusCode: code})
	}
	tests := []struct {
		name string
		env  map[string]string
		opts []Option
		err  error
		ref  string
		want []string
		not  []string
	}{{
		name: "GitHub, ghcr.io, the job's token refused",
		env:  map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ght-1"},
		err:  refused(http.StatusForbidden),
		ref:  "ghcr.io/o/app:v1",
		want: []string{"registry ghcr.io denied the credential from GITHUB_TOKEN access to repository o/app", "permissions: packages: write", "github-token"},
		not:  []string{"docker login", "DOCKER_AUTH_CONFIG", "CI_JOB_TOKEN", "--registry-auth"},
	}, {
		name: "GitHub, another registry, no credential",
		env:  map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ght-1"},
		err:  refused(http.StatusUnauthorized),
		ref:  "reg.example/o/app:v1",
		want: []string{"registry reg.example requires a credential for repository o/app and none was found", "registry-auth input", "DOCKER_CONFIG", "docker/login-action"},
		not:  []string{"docker login reg", "DOCKER_AUTH_CONFIG", "CI_JOB_TOKEN", "permissions:"},
	}, {
		name: "GitLab, the project's registry",
		env:  map[string]string{"GITLAB_CI": "true", "CI_REGISTRY": "registry.gitlab.example", "CI_JOB_TOKEN": "glcbt-1", "CI_API_V4_URL": "https://gitlab.example/api/v4"},
		err:  refused(http.StatusForbidden),
		ref:  "registry.gitlab.example/g/p:v1",
		want: []string{"denied the credential from CI_JOB_TOKEN access to repository g/p", "CI/CD job token allowlist", "CI_DEPLOY_USER"},
		not:  []string{"github-token", "permissions:", "docker login"},
	}, {
		name: "GitLab, another registry",
		env:  map[string]string{"GITLAB_CI": "true", "CI_REGISTRY": "registry.gitlab.example"},
		err:  refused(http.StatusUnauthorized),
		ref:  "reg.example/o/app:v1",
		want: []string{"none was found", "DOCKER_AUTH_CONFIG", "--registry-auth"},
		not:  []string{"github-token", "permissions:", "docker login", "CI_JOB_TOKEN"},
	}, {
		name: "command line",
		err:  refused(http.StatusUnauthorized),
		ref:  "reg.example/o/app:v1",
		want: []string{"none was found", "docker login reg.example", "DOCKER_CONFIG", "--registry-auth"},
		not:  []string{"github-token", "permissions:", "DOCKER_AUTH_CONFIG", "CI_JOB_TOKEN"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc := newKeychain(t, append(tt.opts, WithGetenv(env(tt.env)))...)
			ref, err := name.ParseReference(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			got := kc.Explain(tt.err, ref)
			if !errors.Is(got, tt.err) {
				t.Errorf("Explain() does not wrap the original error")
			}
			for _, want := range tt.want {
				if !strings.Contains(got.Error(), want) {
					t.Errorf("Explain() = %q, want it to contain %q", got, want)
				}
			}
			for _, not := range tt.not {
				if strings.Contains(got.Error(), not) {
					t.Errorf("Explain() = %q, want no %q in it", got, not)
				}
			}
		})
	}
}
