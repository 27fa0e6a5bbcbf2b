package auth

import (
	"fmt"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "host", in: "ghcr.io", want: "ghcr.io"},
		{name: "scheme and slash", in: "https://ghcr.io/", want: "ghcr.io"},
		{name: "http scheme", in: "http://LocalHost:5000", want: "localhost:5000"},
		{name: "path", in: "reg.example/org/team/", want: "reg.example/org/team"},
		{name: "url with path", in: "https://reg.example/org", want: "reg.example/org"},
		{name: "docker.io", in: "docker.io", want: hosts.DockerHub},
		{name: "registry-1", in: "registry-1.docker.io", want: hosts.DockerHub},
		{name: "index v1 url", in: "https://index.docker.io/v1/", want: hosts.DockerHub},
		{name: "hub with org", in: "docker.io/myorg", want: hosts.DockerHub + "/myorg"},
		{name: "v2 suffix of url", in: "https://reg.example/v2/", want: "reg.example"},
		{name: "repository named v2 kept", in: "reg.example/v2", want: "reg.example/v2"},
		{name: "empty", in: "", wantErr: true},
		{name: "only scheme", in: "https://", wantErr: true},
		{name: "space", in: "reg example", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := parseKey(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseKey(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil {
				if got := k.String(); got != tt.want {
					t.Errorf("parseKey(%q) = %q, want %q", tt.in, got, tt.want)
				}
			}
		})
	}
}

func TestDockerHubAliases(t *testing.T) {
	t.Parallel()
	for _, alias := range []string{"docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "https://registry-1.docker.io/", "registry.hub.docker.com"} {
		for _, res := range []string{"library/alpine", "docker.io/library/alpine", "index.docker.io/org/app", "index.docker.io", "registry.hub.docker.com/org/app"} {
			t.Run(alias+" for "+res, func(t *testing.T) {
				t.Parallel()
				kc := newKeychain(t, WithRegistryAuth([]Entry{{Registry: alias, Username: "hub", Password: "hub-pw"}}))
				if got, want := resolve(t, kc, res).Username, "hub"; got != want {
					t.Errorf("Resolve(%q).Username = %q, want %q", res, got, want)
				}
			})
		}
	}
}

func TestLongestPrefix(t *testing.T) {
	t.Parallel()
	entries := []Entry{
		{Registry: "reg.example", Username: "wrong-registry-wide", Password: "p1"},
		{Registry: "reg.example/org", Username: "org", Password: "p2"},
		{Registry: "https://reg.example/org/team/", Username: "team", Password: "p3"},
	}
	tests := []struct{ resource, wantUser string }{
		{"reg.example/org/team/app", "team"},
		{"reg.example/org/team", "team"},
		{"reg.example/org/other", "org"},
		{"reg.example/org", "org"},
		{"reg.example/organisation/app", "wrong-registry-wide"},
		{"reg.example/org/teamwork/app", "org"},
		{"reg.example/app", "wrong-registry-wide"},
		{"reg.example", "wrong-registry-wide"},
		{"other.example/org/team/app", ""},
	}
	kc := newKeychain(t, WithRegistryAuth(entries))
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			t.Parallel()
			if got := resolve(t, kc, tt.resource).Username; got != tt.wantUser {
				t.Errorf("Resolve(%q).Username = %q, want %q", tt.resource, got, tt.wantUser)
			}
		})
	}
}

// TestLongestPrefixAcrossSources puts the right, repository-scoped entry
// in each lower-precedence source and a wrong registry-wide one in a
// higher: the repository entry must win.
func TestLongestPrefixAcrossSources(t *testing.T) {
	t.Parallel()
	const repoKey = "reg.example/org"
	file := func(user string) string {
		return fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, repoKey, b64(user+":pw-"+user))
	}
	tests := []struct {
		name    string
		env     func(dir string) map[string]string
		entries []Entry
	}{{
		name: "docker config repo beats registry-auth registry",
		env: func(dir string) map[string]string {
			writeFileDir(dir, "docker/config.json", file("right"))
			return map[string]string{"DOCKER_CONFIG": dir + "/docker"}
		},
		entries: []Entry{{Registry: "reg.example", Username: "wrong", Password: "pw-wrong"}},
	}, {
		name: "containers file repo beats GitLab registry",
		env: func(dir string) map[string]string {
			writeFileDir(dir, "auth.json", file("right"))
			return map[string]string{
				"REGISTRY_AUTH_FILE": dir + "/auth.json",
				"CI_REGISTRY":        "reg.example", "CI_JOB_TOKEN": "job-token-wrong",
			}
		},
	}, {
		name: "containers file repo beats docker config registry",
		env: func(dir string) map[string]string {
			writeFileDir(dir, "home/.config/containers/auth.json", file("right"))
			writeFileDir(dir, "home/.docker/config.json", fmt.Sprintf(`{"auths":{"reg.example":{"auth":%q}}}`, b64("wrong:pw")))
			return map[string]string{"HOME": dir + "/home"}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc := newKeychain(t, WithGetenv(env(tt.env(t.TempDir()))), WithRegistryAuth(tt.entries))
			if got := resolve(t, kc, repoKey+"/app").Username; got != "right" {
				t.Errorf("Resolve(%q).Username = %q, want %q", repoKey+"/app", got, "right")
			}
			if got := resolve(t, kc, "reg.example/other").Username; got == "right" || got == "" {
				t.Errorf("Resolve(reg.example/other).Username = %q, want the registry-wide entry", got)
			}
		})
	}
}

// TestPrecedence gives one registry a credential in every source and
// removes them from the top down.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	const host = "reg.example"
	auth := func(user string) string {
		return fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, b64(user+":pw-"+user))
	}
	layers := []string{"registry-auth", "DOCKER_AUTH_CONFIG", "CI_REGISTRY_USER", "CI_DEPLOY_USER", "gitlab-ci-token", "docker-config", "containers-runtime", "containers-config"}
	for skip := range layers {
		want := layers[skip]
		t.Run(want, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			vars := map[string]string{"CI_REGISTRY": host}
			var opts []Option
			for _, l := range layers[skip:] {
				switch l {
				case "registry-auth":
					opts = append(opts, WithRegistryAuth([]Entry{{Registry: host, Username: l, Password: "pw"}}))
				case "DOCKER_AUTH_CONFIG":
					vars["DOCKER_AUTH_CONFIG"] = auth(l)
				case "CI_REGISTRY_USER":
					vars["CI_REGISTRY_USER"], vars["CI_REGISTRY_PASSWORD"] = l, "pw"
				case "CI_DEPLOY_USER":
					vars["CI_DEPLOY_USER"], vars["CI_DEPLOY_PASSWORD"] = l, "pw"
				case "gitlab-ci-token":
					vars["CI_JOB_TOKEN"] = "job-token"
				case "docker-config":
					vars["HOME"] = dir
					writeFileDir(dir, ".docker/config.json", auth(l))
				case "containers-runtime":
					vars["XDG_RUNTIME_DIR"] = dir + "/run"
					writeFileDir(dir, "run/containers/auth.json", auth(l))
				case "containers-config":
					vars["XDG_CONFIG_HOME"] = dir + "/cfg"
					writeFileDir(dir, "cfg/containers/auth.json", auth(l))
				}
			}
			kc := newKeychain(t, append(opts, WithGetenv(env(vars)))...)
			if got := resolve(t, kc, host+"/app").Username; got != want {
				t.Errorf("Resolve().Username = %q, want %q (source %s)", got, want, kc.Source(resource(t, host+"/app")))
			}
		})
	}
}
