package main

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
)

// TestMasks checks that secrets are masked with ::add-mask:: under GitHub,
// the one runner that reads it, and that no secret is ever printed: not
// elsewhere, not in an error about the input that holds it.
func TestMasks(t *testing.T) {
	t.Parallel()
	const (
		password = "pw-registry-auth-9f3c"
		token    = "ght-input-41d7"
		jobToken = "glcbt-job-token-77aa"
	)
	// basic is what Basic authentication sends for u and the password.
	basic := base64.StdEncoding.EncodeToString([]byte("u:" + password))
	tests := []struct {
		name     string
		github   bool
		vars     map[string]string
		auth     string // registry-auth; HOST is the registry
		wantCode int
		wantMask []string // masked once each, under GitHub only
	}{{
		name:     "GitHub masks the registry-auth password, its Basic credential and the github-token",
		github:   true,
		auth:     "- registry: HOST\n  username: u\n  password: " + password,
		wantCode: exitOK,
		wantMask: []string{password, token, basic},
	}, {
		name:     "GitHub masks a password in registry-auth that does not parse",
		github:   true,
		auth:     "- registry: HOST\n  username: u\n  password: " + password + "\n   bad: [indent",
		wantCode: exitInput,
		wantMask: []string{password, token},
	}, {
		name:     "command line prints no secret and no mask",
		auth:     "- registry: HOST\n  username: u\n  password: " + password,
		wantCode: exitOK,
	}, {
		name:     "command line, registry-auth that does not parse",
		auth:     "- registry: HOST\n  username: u\n  password: " + password + "\n   bad: [indent",
		wantCode: exitInput,
	}, {
		name: "GitLab prints no secret and no mask",
		vars: map[string]string{
			"GITLAB_CI": "true", "CI_REGISTRY": "registry.gitlab.example", "CI_API_V4_URL": "https://gitlab.example/api/v4",
			"CI_PROJECT_ID": "1", "CI_JOB_TOKEN": jobToken, "CI_REGISTRY_USER": "gitlab-ci-token", "CI_REGISTRY_PASSWORD": jobToken,
		},
		auth:     "- registry: HOST\n  username: u\n  password: " + password,
		wantCode: exitOK,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistry(t, nil)
			dir := t.TempDir()
			inputs := map[string]string{
				"images": layoutSources(t), "tags": reg.host + "/o/app:v1", "insecure-registries": reg.host,
				"registry-auth": strings.ReplaceAll(tt.auth, "HOST", reg.host), "github-token": token,
				// delete-tags brings in cleanup, which reads the GitLab job token.
				"delete-tags": reg.host + "/o/app:tmp-none",
			}
			vars := map[string]string{}
			for k, v := range tt.vars {
				vars[k] = v
			}
			var args []string
			if tt.github {
				vars = githubVars(dir, inputs)
			} else {
				for k, v := range inputs {
					args = append(args, "--"+k, v)
				}
				args = append(args, "--dotenv", filepath.Join(dir, "build.env"))
			}
			r := runAction(t, vars, args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d", r.code, tt.wantCode)
			}
			checkSecrets(t, r, dir, tt.wantMask, []string{password, token, jobToken, basic})
		})
	}
}

// checkSecrets checks that each of wantMask has one ::add-mask:: line, that
// there is no other, and that no secret appears anywhere else: stdout,
// stderr, or the files under dir.
func checkSecrets(t *testing.T, r result, dir string, wantMask, secrets []string) {
	t.Helper()
	masked := 0
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "::add-mask::") {
			masked++
		}
	}
	if masked != len(wantMask) {
		t.Errorf("%d ::add-mask:: lines, want %d", masked, len(wantMask))
	}
	for _, s := range wantMask {
		if n := strings.Count(r.stdout, "::add-mask::"+s+"\n"); n != 1 {
			t.Errorf("%q masked %d times, want once", s, n)
		}
	}
	files := ""
	for _, f := range []string{"output", "summary", "build.env"} {
		files += readFile(t, filepath.Join(dir, f))
	}
	for _, s := range secrets {
		printed := strings.Count(r.stdout, s) - strings.Count(r.stdout, "::add-mask::"+s+"\n")
		if printed > 0 || strings.Contains(r.stderr, s) || strings.Contains(files, s) {
			t.Errorf("secret %q was printed or written", s)
		}
	}
}
