package test

import (
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// ciMode is one way the binary runs, with what its fix for a missing or
// refused credential names and what it must not (another CI's places).
type ciMode struct {
	name string
	run  func(t *testing.T, inputs map[string]string, env ...string) (code int, lines []string, all string)
	fix  func(host string) []string
	not  []string
}

func ciModes() []ciMode {
	cli := func(t *testing.T, inputs map[string]string, env ...string) (int, []string, string) {
		var args []string
		for k, v := range inputs {
			args = append(args, "--"+k, v)
		}
		r := runCLI(t, args, env...)
		var lines []string
		for _, l := range strings.Split(r.stderr, "\n") {
			if s, ok := strings.CutPrefix(l, "error: "); ok {
				lines = append(lines, s)
			}
		}
		return r.code, lines, r.stdout + r.stderr
	}
	return []ciMode{{
		name: "GitHub",
		run: func(t *testing.T, inputs map[string]string, env ...string) (int, []string, string) {
			r := runAction(t, inputs, env...)
			return r.code, errorLines(r.stdout), r.stdout + r.stderr + r.summary
		},
		fix: func(host string) []string {
			return []string{"add a credential for " + host + " to the registry-auth input", "DOCKER_CONFIG directory under the workspace"}
		},
		not: []string{"docker login", "DOCKER_AUTH_CONFIG", "CI_JOB_TOKEN", "--registry-auth"},
	}, {
		name: "GitLab",
		run: func(t *testing.T, inputs map[string]string, env ...string) (int, []string, string) {
			return cli(t, inputs, append(env, "GITLAB_CI=true", "CI_REGISTRY=registry.gitlab.example")...)
		},
		fix: func(host string) []string {
			return []string{"add a credential for " + host + " to DOCKER_AUTH_CONFIG", "--registry-auth"}
		},
		not: []string{"github-token", "permissions:", "docker login", "docker/login-action"},
	}, {
		name: "command line",
		run: func(t *testing.T, inputs map[string]string, env ...string) (int, []string, string) {
			return cli(t, inputs, env...)
		},
		fix: func(host string) []string { return []string{"run docker login " + host, "--registry-auth"} },
		not: []string{"github-token", "permissions:", "DOCKER_AUTH_CONFIG", "CI_JOB_TOKEN", "docker/login-action"},
	}}
}

// TestRegistryErrorsOneLinePerCI runs the binary against a registry with
// htpasswd auth (TLS) and one with token auth, with no credential, a
// wrong one, and against a port where nothing listens, as GitHub, GitLab
// and a person run it. Each failure is one error line that says what
// failed, the registry and repository, the registry's own words, and the
// fix for that CI: never a Go value, a raw request or text said twice.
func TestRegistryErrorsOneLinePerCI(t *testing.T) {
	t.Parallel()
	const user, secret = "ci", "s3cret-Pa55-errors"
	tlsCfg := registrytest.NewTLS(t)
	basic := registrytest.Start(t, registrytest.WithVersion(registrytest.V2), registrytest.WithTLS(tlsCfg),
		registrytest.WithConfig(registrytest.HtpasswdConfig(t, user, secret)))
	ts := registrytest.NewTokenServer(t, user, secret)
	tok := registrytest.Start(t, registrytest.WithVersion(registrytest.V3), registrytest.WithConfig(ts.Config()))
	src, err := name.ParseReference(tok.Host + "/o/app:tmp-amd64")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(src, platformImage(t, amd64), remote.WithAuth(&authn.Basic{Username: user, Password: secret})); err != nil {
		t.Fatal(err)
	}
	realm, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	layoutDir := filepath.Join(t.TempDir(), "layout")
	writeLayout(t, layoutDir, "a", platformImage(t, amd64))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	auth := func(host, pw string) string {
		return "- registry: " + host + "\n  username: " + user + "\n  password: " + pw + "\n"
	}
	insecureTok := tok.Host + "," + realm.Host // the token realm is plain HTTP too
	tests := []struct {
		name   string
		inputs map[string]string
		host   string // the registry whose credential fix is expected; "" for none
		want   []string
		slow   string // why -short skips it; "" runs it always
	}{{
		name:   "htpasswd, no credential, push",
		inputs: map[string]string{"images": "oci:" + layoutDir + ":a", "tags": basic.Host + "/o/app:1"},
		host:   basic.Host,
		want: []string{"uploading " + basic.Host + "/o/app@sha256:", "registry " + basic.Host + " answered 401 Unauthorized",
			"registry " + basic.Host + " requires a credential for repository o/app and none was found"},
	}, {
		name:   "htpasswd, wrong password, push",
		inputs: map[string]string{"images": "oci:" + layoutDir + ":a", "tags": basic.Host + "/o/app:1", "registry-auth": auth(basic.Host, "wrong-"+secret)},
		host:   basic.Host,
		want: []string{"registry " + basic.Host + " answered 401 Unauthorized",
			"registry " + basic.Host + " refused the credential from registry-auth input for repository o/app", "check it"},
	}, {
		name:   "token, no credential, pull",
		inputs: map[string]string{"images": tok.Host + "/o/app:tmp-amd64", "tags": "oci:" + t.TempDir() + "/out", "insecure-registries": insecureTok},
		host:   tok.Host,
		want: []string{"reading " + tok.Host + "/o/app:tmp-amd64: registry " + tok.Host + ` answered 401 Unauthorized: "UNAUTHORIZED: authentication required"`,
			"requires a credential for repository o/app and none was found"},
	}, {
		name: "token, wrong password, push",
		inputs: map[string]string{"images": "oci:" + layoutDir + ":a", "tags": tok.Host + "/o/app:1", "insecure-registries": insecureTok,
			"registry-auth": auth(tok.Host, "wrong-"+secret)},
		host: tok.Host,
		want: []string{"the token service at " + realm.Host + ` answered 401 Unauthorized: "UNAUTHORIZED: bad credentials"`,
			"registry " + tok.Host + " refused the credential from registry-auth input for repository o/app"},
	}, {
		name:   "nothing listens",
		slow:   "waits out the retries' backoff against a closed port",
		inputs: map[string]string{"images": dead + "/o/app:1", "tags": "oci:" + t.TempDir() + "/out", "insecure-registries": dead},
		want:   []string{"reading " + dead + "/o/app:1: could not reach " + dead + " over https: connection refused; could not reach " + dead + " over http: connection refused"},
	}}
	for _, mode := range ciModes() {
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				if testing.Short() && tt.slow != "" {
					t.Skip(tt.slow + ": run without -short")
				}
				t.Parallel()
				code, lines, all := mode.run(t, tt.inputs, "SSL_CERT_FILE="+tlsCfg.CAFile)
				if code != 2 {
					t.Errorf("exit %d, want 2", code)
				}
				if len(lines) != 1 {
					t.Fatalf("error lines = %q, want one", lines)
				}
				line := lines[0]
				t.Log(line)
				want := tt.want
				if tt.host != "" {
					want = append(append([]string(nil), want...), mode.fix(tt.host)...)
				}
				for _, w := range want {
					if !strings.Contains(line, w) {
						t.Errorf("error line = %q\nwant it to contain %q", line, w)
					}
				}
				for _, n := range append([]string{"map[", `Get "`, "HEAD http", "GET http", "unexpected status code", "use GET for details", "authenticating to " + tok.Host + "/o/app: authenticating to"}, mode.not...) {
					if strings.Contains(line, n) {
						t.Errorf("error line = %q\nwant no %q in it", line, n)
					}
				}
				for _, l := range strings.Split(all, "\n") {
					if strings.Contains(l, secret) && !strings.HasPrefix(l, "::add-mask::") {
						t.Errorf("the password was printed: %q", l)
					}
				}
			})
		}
	}
}

// TestGitLabJobTokenRefusedNamesItsLimits: in GitLab, a refusal from the
// project's own registry (CI_REGISTRY) names the job token it came from
// and what that token may reach.
func TestGitLabJobTokenRefusedNamesItsLimits(t *testing.T) {
	t.Parallel()
	const user, secret, jobToken = "ci", "s3cret-Pa55-gitlab", "glcbt-not-this-one-42"
	tlsCfg := registrytest.NewTLS(t)
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2), registrytest.WithTLS(tlsCfg),
		registrytest.WithConfig(registrytest.HtpasswdConfig(t, user, secret)))
	layoutDir := filepath.Join(t.TempDir(), "layout")
	writeLayout(t, layoutDir, "a", platformImage(t, amd64))
	r := runCLI(t, []string{"--images", "oci:" + layoutDir + ":a", "--tags", reg.Host + "/g/p:1"},
		"SSL_CERT_FILE="+tlsCfg.CAFile, "GITLAB_CI=true", "CI_REGISTRY="+reg.Host, "CI_JOB_TOKEN="+jobToken,
		"CI_API_V4_URL=https://gitlab.example/api/v4", "CI_PROJECT_ID=7")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stderr = %q, want one line", r.stderr)
	}
	t.Log(lines[0])
	for _, w := range []string{"registry " + reg.Host + " answered 401 Unauthorized",
		"registry " + reg.Host + " refused the credential from CI_JOB_TOKEN for repository g/p",
		"CI/CD job token allowlist", "CI_REGISTRY_USER and CI_REGISTRY_PASSWORD"} {
		if !strings.Contains(lines[0], w) {
			t.Errorf("error line = %q\nwant it to contain %q", lines[0], w)
		}
	}
	for _, n := range []string{"github-token", "docker login", jobToken} {
		if strings.Contains(r.stdout+r.stderr, n) {
			t.Errorf("output holds %q:\n%s%s", n, r.stdout, r.stderr)
		}
	}
}
