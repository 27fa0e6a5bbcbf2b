package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestJoinWithTLSAndRegistryAuth runs the join job against a registry
// with TLS (CA trusted through SSL_CERT_FILE) and htpasswd auth, with the
// credentials given in the registry-auth input; then with a wrong
// password. No run may print the secret except as masked.
func TestJoinWithTLSAndRegistryAuth(t *testing.T) {
	t.Parallel()
	const user, secret = "ci", "s3cret-Pa55-for-e2e"
	tlsCfg := registrytest.NewTLS(t)
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2), registrytest.WithTLS(tlsCfg),
		registrytest.WithConfig(registrytest.HtpasswdConfig(t, user, secret)))
	reg.SetBasicAuth(user, secret)
	for _, p := range [][2]string{{"tmp-amd64", "amd64"}, {"tmp-arm64", "arm64"}} {
		ref, err := name.ParseReference(reg.Host + "/o/app:" + p[0])
		if err != nil {
			t.Fatal(err)
		}
		plat := amd64
		if p[1] == "arm64" {
			plat = arm64
		}
		if err := remote.Write(ref, platformImage(t, plat), remote.WithTransport(tlsCfg.Transport(t)),
			remote.WithAuth(&authn.Basic{Username: user, Password: secret})); err != nil {
			t.Fatal(err)
		}
	}
	caEnv := "SSL_CERT_FILE=" + tlsCfg.CAFile
	authYAML := func(pw string) string {
		return "- registry: " + reg.Host + "\n  username: " + user + "\n  password: " + pw + "\n"
	}
	images := reg.Host + "/o/app:tmp-amd64," + reg.Host + "/o/app:tmp-arm64"

	ok := runAction(t, map[string]string{"images": images, "tags": reg.Host + "/o/app:1", "registry-auth": authYAML(secret)}, caEnv)
	if ok.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", ok.code, ok.stdout, ok.stderr)
	}
	if _, got := readIndex(t, reg, "o/app", "1"); got != ok.outputs["digest"] {
		t.Errorf("o/app:1 = %s, want %s", got, ok.outputs["digest"])
	}
	if !strings.Contains(ok.stdout, "::add-mask::"+secret) {
		t.Errorf("the password was not masked")
	}

	bad := runAction(t, map[string]string{"images": images, "tags": reg.Host + "/o/app:2", "registry-auth": authYAML("wrong-" + secret)}, caEnv)
	if bad.code != 2 {
		t.Errorf("wrong password: exit %d, want 2", bad.code)
	}
	lines := errorLines(bad.stdout)
	if len(lines) != 1 || !strings.Contains(lines[0], reg.Host) || !strings.Contains(lines[0], "o/app") || !strings.Contains(lines[0], "registry-auth") {
		t.Errorf("error lines = %q, want one naming the registry, repository and credential source", lines)
	}

	none := runAction(t, map[string]string{"images": images, "tags": reg.Host + "/o/app:3"}, caEnv)
	if lines := errorLines(none.stdout); none.code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "none was found") {
		t.Errorf("no credentials: exit %d, error lines %q", none.code, lines)
	}

	// A docker config under the workspace, as the README tells users.
	cfgDir := t.TempDir()
	cfg := `{"auths":{"` + reg.Host + `":{"auth":"` + basic(user, secret) + `"}}}`
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	viaConfig := runAction(t, map[string]string{"images": images, "tags": reg.Host + "/o/app:4"}, caEnv, "DOCKER_CONFIG="+cfgDir)
	if viaConfig.code != 0 {
		t.Errorf("DOCKER_CONFIG: exit %d\n%s", viaConfig.code, viaConfig.stdout)
	}

	// Outside GitHub nothing reads ::add-mask::, so nothing may print the
	// secret at all: not even a mask line. GitLab, as a job image runs.
	dotenv := filepath.Join(t.TempDir(), "out.env")
	gitlab := runCLI(t, []string{"--images", images, "--tags", reg.Host + "/o/app:5", "--registry-auth", authYAML(secret), "--dotenv", dotenv},
		caEnv, "GITLAB_CI=true")
	if gitlab.code != 0 {
		t.Fatalf("GitLab: exit %d\n%s\n%s", gitlab.code, gitlab.stdout, gitlab.stderr)
	}
	report, err := os.ReadFile(dotenv)
	if err != nil {
		t.Fatal(err)
	}
	if out := gitlab.stdout + gitlab.stderr + string(report); strings.Contains(out, secret) || strings.Contains(out, basic(user, secret)) {
		t.Errorf("GitLab: a secret appears in the output:\n%s", out)
	}
	gitlabBad := runCLI(t, []string{"--images", images, "--tags", reg.Host + "/o/app:6", "--registry-auth", authYAML("wrong-" + secret)},
		caEnv, "GITLAB_CI=true")
	if gitlabBad.code != 2 || strings.Contains(gitlabBad.stdout+gitlabBad.stderr, secret) {
		t.Errorf("GitLab, wrong password: exit %d, want 2, and no secret in:\n%s\n%s", gitlabBad.code, gitlabBad.stdout, gitlabBad.stderr)
	}

	for _, r := range []result{ok, bad, none, viaConfig} {
		var kept []string
		for _, l := range strings.Split(r.stdout+r.stderr+r.summary+strings.Join(values(r.outputs), "\n"), "\n") {
			if !strings.HasPrefix(l, "::add-mask::") {
				kept = append(kept, l)
			}
		}
		out := strings.Join(kept, "\n")
		if strings.Contains(out, secret) || strings.Contains(out, basic(user, secret)) {
			t.Errorf("a secret appears in the output:\n%s", out)
		}
	}
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
