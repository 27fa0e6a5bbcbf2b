package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
)

func TestGitHubToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		vars       map[string]string
		input      string
		resource   string
		want       authn.AuthConfig
		wantSource string
	}{{
		name:     "GITHUB_TOKEN for ghcr.io",
		vars:     map[string]string{"GITHUB_TOKEN": "ght-1", "GITHUB_ACTOR": "octocat"},
		resource: "ghcr.io/octocat/app",
		want:     authn.AuthConfig{Username: "octocat", Password: "ght-1"}, wantSource: "GITHUB_TOKEN",
	}, {
		name:     "input beats GITHUB_TOKEN",
		vars:     map[string]string{"GITHUB_TOKEN": "ght-1", "GITHUB_ACTOR": "octocat"},
		input:    "ght-input",
		resource: "ghcr.io/octocat/app",
		want:     authn.AuthConfig{Username: "octocat", Password: "ght-input"}, wantSource: "github-token input",
	}, {
		name:     "no actor",
		vars:     map[string]string{"GITHUB_TOKEN": "ght-1"},
		resource: "ghcr.io/o/app",
		want:     authn.AuthConfig{Username: "github-actions", Password: "ght-1"}, wantSource: "GITHUB_TOKEN",
	}, {
		name:     "GHES container host",
		vars:     map[string]string{"GITHUB_TOKEN": "ght-1", "GITHUB_ACTOR": "a", "GITHUB_SERVER_URL": "https://github.example.com"},
		resource: "containers.github.example.com/o/app",
		want:     authn.AuthConfig{Username: "a", Password: "ght-1"}, wantSource: "GITHUB_TOKEN",
	}, {
		name:     "GHES still ghcr.io",
		vars:     map[string]string{"GITHUB_TOKEN": "ght-1", "GITHUB_ACTOR": "a", "GITHUB_SERVER_URL": "https://github.example.com"},
		resource: "ghcr.io/o/app",
		want:     authn.AuthConfig{Username: "a", Password: "ght-1"}, wantSource: "GITHUB_TOKEN",
	}}
	for _, host := range []string{"quay.io/o/app", "github.example.com/o/app", "ghcr.io.evil.example/o/app", "containers.github.com/o/app", "docker.io/o/app", "evilghcr.io/o/app"} {
		tests = append(tests, struct {
			name       string
			vars       map[string]string
			input      string
			resource   string
			want       authn.AuthConfig
			wantSource string
		}{
			name:     "never for " + host,
			vars:     map[string]string{"GITHUB_TOKEN": "ght-1", "GITHUB_SERVER_URL": "https://github.example.com"},
			input:    "ght-input",
			resource: host, wantSource: "no credentials",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc := newKeychain(t, WithGetenv(env(tt.vars)), WithGitHubToken(tt.input))
			if got := resolve(t, kc, tt.resource); got != tt.want {
				t.Errorf("Resolve(%q) = %+v, want %+v", tt.resource, got, tt.want)
			}
			if got := kc.Source(resource(t, tt.resource)); got != tt.wantSource {
				t.Errorf("Source(%q) = %q, want %q", tt.resource, got, tt.wantSource)
			}
		})
	}
}

func TestGitLab(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fileVar := writeFile(t, dir, "DOCKER_AUTH_CONFIG", fmt.Sprintf(`{"auths":{"other.example":{"auth":%q}}}`, b64("fileuser:filepw")))
	tests := []struct {
		name       string
		vars       map[string]string
		resource   string
		wantUser   string
		wantPass   string
		wantSource string
	}{{
		name:     "registry user",
		vars:     map[string]string{"CI_REGISTRY": "gitlab.example:5050", "CI_REGISTRY_USER": "gitlab-ci-token", "CI_REGISTRY_PASSWORD": "glcbt-1", "CI_JOB_TOKEN": "glcbt-1"},
		resource: "gitlab.example:5050/group/proj", wantUser: "gitlab-ci-token", wantPass: "glcbt-1",
		wantSource: "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD",
	}, {
		name:     "job token alone",
		vars:     map[string]string{"CI_REGISTRY": "gitlab.example:5050", "CI_JOB_TOKEN": "glcbt-2"},
		resource: "gitlab.example:5050/group/proj", wantUser: "gitlab-ci-token", wantPass: "glcbt-2", wantSource: "CI_JOB_TOKEN",
	}, {
		name:     "deploy token before job token",
		vars:     map[string]string{"CI_REGISTRY": "gitlab.example:5050", "CI_JOB_TOKEN": "glcbt-2", "CI_DEPLOY_USER": "gitlab+deploy-token-1", "CI_DEPLOY_PASSWORD": "gldt-1"},
		resource: "gitlab.example:5050/group/proj", wantUser: "gitlab+deploy-token-1", wantPass: "gldt-1", wantSource: "CI_DEPLOY_USER/CI_DEPLOY_PASSWORD",
	}, {
		name:     "not for another registry",
		vars:     map[string]string{"CI_REGISTRY": "gitlab.example:5050", "CI_JOB_TOKEN": "glcbt-2"},
		resource: "gitlab.example/group/proj", wantSource: "no credentials",
	}, {
		name:     "no CI_REGISTRY",
		vars:     map[string]string{"CI_JOB_TOKEN": "glcbt-2"},
		resource: "registry.gitlab.com/group/proj", wantSource: "no credentials",
	}, {
		name:     "DOCKER_AUTH_CONFIG inline",
		vars:     map[string]string{"DOCKER_AUTH_CONFIG": fmt.Sprintf(` {"auths":{"https://other.example/":{"auth":%q}}}`, b64("u:inline-pw"))},
		resource: "other.example/x/y", wantUser: "u", wantPass: "inline-pw",
		wantSource: `DOCKER_AUTH_CONFIG variable (auths "https://other.example/")`,
	}, {
		name:     "DOCKER_AUTH_CONFIG file variable",
		vars:     map[string]string{"DOCKER_AUTH_CONFIG": fileVar},
		resource: "other.example/x/y", wantUser: "fileuser", wantPass: "filepw",
		wantSource: fmt.Sprintf(`DOCKER_AUTH_CONFIG file %s (auths "other.example")`, fileVar),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc := newKeychain(t, WithGetenv(env(tt.vars)))
			got := resolve(t, kc, tt.resource)
			if got.Username != tt.wantUser || got.Password != tt.wantPass {
				t.Errorf("Resolve(%q) = %q/%q, want %q/%q", tt.resource, got.Username, got.Password, tt.wantUser, tt.wantPass)
			}
			if got := kc.Source(resource(t, tt.resource)); got != tt.wantSource {
				t.Errorf("Source(%q) = %q, want %q", tt.resource, got, tt.wantSource)
			}
		})
	}
}

func TestDockerConfig(t *testing.T) {
	t.Parallel()
	content := fmt.Sprintf(`{
		"auths": {
			"basic.example": {"auth": %q},
			"plain.example": {"username": "pu", "password": "plain-pw"},
			"id.example": {"identitytoken": "id-tok-1"},
			"tok.example": {"registrytoken": "reg-tok-1"},
			"reg.example/org": {"auth": %q},
			"empty.example": {}
		},
		"psFormat": "table"
	}`, b64("bu:basic-pw"), b64("ou:org-pw"))
	tests := []struct {
		name     string
		vars     func(dir string) map[string]string
		resource string
		want     authn.AuthConfig
	}{
		{name: "auth", resource: "basic.example/a", want: authn.AuthConfig{Username: "bu", Password: "basic-pw"}},
		{name: "username and password", resource: "plain.example/a", want: authn.AuthConfig{Username: "pu", Password: "plain-pw"}},
		{name: "identitytoken", resource: "id.example/a", want: authn.AuthConfig{IdentityToken: "id-tok-1"}},
		{name: "registrytoken", resource: "tok.example/a", want: authn.AuthConfig{RegistryToken: "reg-tok-1"}},
		{name: "repository key", resource: "reg.example/org/a", want: authn.AuthConfig{Username: "ou", Password: "org-pw"}},
		{name: "repository key not registry", resource: "reg.example/other"},
		{name: "placeholder is anonymous", resource: "empty.example/a"},
		{
			name:     "HOME when no DOCKER_CONFIG",
			vars:     func(dir string) map[string]string { return map[string]string{"HOME": dir} },
			resource: "basic.example/a", want: authn.AuthConfig{Username: "bu", Password: "basic-pw"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			vars := map[string]string{"DOCKER_CONFIG": filepath.Join(dir, "cfg"), "HOME": filepath.Join(dir, "home")}
			if tt.vars != nil {
				vars = tt.vars(dir)
			}
			writeFile(t, dir, "cfg/config.json", content)
			writeFile(t, dir, ".docker/config.json", content)
			m := &recorder{}
			kc := newKeychain(t, WithGetenv(env(vars)), WithMask(m.mask))
			if got := resolve(t, kc, tt.resource); got != tt.want {
				t.Errorf("Resolve(%q) = %+v, want %+v", tt.resource, got, tt.want)
			}
			for _, s := range []string{b64("bu:basic-pw"), "basic-pw", "plain-pw", "id-tok-1", "reg-tok-1", b64("ou:org-pw"), "org-pw"} {
				if !m.masked(s) {
					t.Errorf("secret %q was not masked", s)
				}
			}
		})
	}
}

func TestContainersAuthFilesAllConsulted(t *testing.T) {
	t.Parallel()
	auth := func(host, user string) string {
		return fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, b64(user+":pw-"+user))
	}
	dir := t.TempDir()
	writeFile(t, dir, "explicit.json", auth("a.example", "from-explicit"))
	writeFile(t, dir, "run/containers/auth.json", auth("b.example", "from-runtime"))
	writeFile(t, dir, "home/.config/containers/auth.json", auth("c.example", "from-home-config"))
	writeFile(t, dir, "xdg/containers/auth.json", auth("c.example", "from-xdg-config"))
	base := map[string]string{
		"REGISTRY_AUTH_FILE": filepath.Join(dir, "explicit.json"),
		"XDG_RUNTIME_DIR":    filepath.Join(dir, "run"),
		"HOME":               filepath.Join(dir, "home"),
	}
	kc := newKeychain(t, WithGetenv(env(base)))
	for host, want := range map[string]string{"a.example": "from-explicit", "b.example": "from-runtime", "c.example": "from-home-config"} {
		if got := resolve(t, kc, host+"/x").Username; got != want {
			t.Errorf("Resolve(%s).Username = %q, want %q", host, got, want)
		}
	}
	base["XDG_CONFIG_HOME"] = filepath.Join(dir, "xdg")
	kc = newKeychain(t, WithGetenv(env(base)))
	if got, want := resolve(t, kc, "c.example/x").Username, "from-xdg-config"; got != want {
		t.Errorf("with XDG_CONFIG_HOME: Resolve(c.example).Username = %q, want %q", got, want)
	}
	if got, want := kc.Source(resource(t, "a.example/x")), fmt.Sprintf("containers auth file %s (auths %q)", base["REGISTRY_AUTH_FILE"], "a.example"); got != want {
		t.Errorf("Source() = %q, want %q", got, want)
	}
}

// TestMalformedSources checks that New fails, before any network call,
// naming the file, variable or input.
func TestMalformedSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		files    map[string]string
		vars     func(dir string) map[string]string
		opts     []Option
		wantText []string
	}{{
		name:     "docker config syntax",
		files:    map[string]string{"d/config.json": `{"auths": {"x": {"auth": "abc"}`},
		vars:     func(dir string) map[string]string { return map[string]string{"DOCKER_CONFIG": filepath.Join(dir, "d")} },
		wantText: []string{"docker config", filepath.Join("d", "config.json"), "invalid JSON"},
	}, {
		name:     "docker config bad base64",
		files:    map[string]string{"d/config.json": `{"auths": {"x": {"auth": "!!!notbase64"}}}`},
		vars:     func(dir string) map[string]string { return map[string]string{"DOCKER_CONFIG": filepath.Join(dir, "d")} },
		wantText: []string{"docker config", "invalid auth string"},
	}, {
		name:     "docker config wrong type",
		files:    map[string]string{"h/.docker/config.json": `{"auths": []}`},
		vars:     func(dir string) map[string]string { return map[string]string{"HOME": filepath.Join(dir, "h")} },
		wantText: []string{"docker config", filepath.Join("h", ".docker", "config.json"), "auths must be an object"},
	}, {
		name:  "containers auth file",
		files: map[string]string{"auth.json": `{"auths": {"x": {"auth": 12345}}}`},
		vars: func(dir string) map[string]string {
			return map[string]string{"REGISTRY_AUTH_FILE": filepath.Join(dir, "auth.json")}
		},
		wantText: []string{"containers auth file", "auth.json", "must be a string"},
	}, {
		name:     "unreadable docker config",
		files:    map[string]string{"d/config.json/keep": ""},
		vars:     func(dir string) map[string]string { return map[string]string{"DOCKER_CONFIG": filepath.Join(dir, "d")} },
		wantText: []string{"reading docker config", "config.json"},
	}, {
		name:     "DOCKER_AUTH_CONFIG inline",
		vars:     func(string) map[string]string { return map[string]string{"DOCKER_AUTH_CONFIG": `{"auths": `} },
		wantText: []string{"DOCKER_AUTH_CONFIG variable", "invalid JSON"},
	}, {
		name:     "DOCKER_AUTH_CONFIG neither",
		vars:     func(string) map[string]string { return map[string]string{"DOCKER_AUTH_CONFIG": "user:pass"} },
		wantText: []string{"DOCKER_AUTH_CONFIG is neither"},
	}, {
		name: "DOCKER_AUTH_CONFIG missing file",
		vars: func(dir string) map[string]string {
			return map[string]string{"DOCKER_AUTH_CONFIG": filepath.Join(dir, "nope")}
		},
		wantText: []string{"DOCKER_AUTH_CONFIG file"},
	}, {
		name:     "registry-auth entry",
		opts:     []Option{WithRegistryAuth([]Entry{{Registry: "a.example", Username: "u", Password: "p"}, {Registry: "b.example", Username: "u"}})},
		wantText: []string{"registry-auth input item 1", "password required"},
	}, {
		name:     "CI_REGISTRY",
		vars:     func(string) map[string]string { return map[string]string{"CI_REGISTRY": " "} },
		wantText: []string{"CI_REGISTRY"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for rel, content := range tt.files {
				writeFile(t, dir, rel, content)
			}
			opts := tt.opts
			if tt.vars != nil {
				opts = append(opts, WithGetenv(env(tt.vars(dir))))
			}
			_, err := New(opts...)
			if err == nil {
				t.Fatal("New() succeeded, want an error")
			}
			for _, want := range tt.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("New() error = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestMissingFilesAreSkipped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kc := newKeychain(t, WithGetenv(env(map[string]string{
		"HOME": filepath.Join(dir, "nohome"), "XDG_RUNTIME_DIR": filepath.Join(dir, "norun"),
		"DOCKER_CONFIG": filepath.Join(dir, "nodocker"), "REGISTRY_AUTH_FILE": filepath.Join(dir, "no.json"),
	})))
	if got := kc.Source(resource(t, "ghcr.io/a/b")); got != "no credentials" {
		t.Errorf("Source() = %q, want no credentials", got)
	}
	if got := strings.Join(kc.notes, "; "); !strings.Contains(got, "nodocker") || !strings.Contains(got, "no.json") {
		t.Errorf("notes = %q, want the explicit DOCKER_CONFIG and REGISTRY_AUTH_FILE named", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "nodocker")); err == nil {
		t.Error("New created a directory")
	}
}
