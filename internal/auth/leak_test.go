package auth

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestSecretsNeverLeak runs every credential path, the failing ones too,
// and scans every error, Source description, Explain message and log line
// for every secret; it also checks that each secret that was read reached
// the mask callback. It is not parallel because it runs a credential
// helper (see installHelper).
func TestSecretsNeverLeak(t *testing.T) {
	installHelper(t)
	var texts []string // everything a user could see
	record := func(s string) { texts = append(texts, s) }
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// A real registry behind a token server, for a real 401.
	const tsPassword = "leak-ts-pw-M13"
	ts := registrytest.NewTokenServer(t, "tsuser", tsPassword)
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2), registrytest.WithConfig(ts.Config()))

	read := map[string]string{ // secrets that a working keychain reads: name -> value
		"registry-auth password":  "leak-regauth-pw-A1",
		"wrong registry password": "leak-wrong-pw-N14",
		"CI_REGISTRY_PASSWORD":    "leak-ci-reg-pw-B2",
		"CI_DEPLOY_PASSWORD":      "leak-deploy-pw-C3",
		"CI_JOB_TOKEN":            "leak-job-token-D4",
		"DOCKER_AUTH_CONFIG pw":   "leak-dac-pw-E5",
		"DOCKER_AUTH_CONFIG auth": b64("dacuser:leak-dac-pw-E5"),
		"github-token input":      "leak-gh-input-F6",
		"GITHUB_TOKEN":            "leak-gh-env-G7",
		"docker config pw":        "leak-dc-auth-pw-H8",
		"docker config auth":      b64("dcuser:leak-dc-auth-pw-H8"),
		"docker config password":  "leak-dc-plain-pw-I9",
		"identitytoken":           "leak-dc-idtok-J10",
		"registrytoken":           "leak-dc-regtok-K11",
		"containers pw":           "leak-ctr-pw-L12",
		"containers auth":         b64("ctruser:leak-ctr-pw-L12"),
		"helper secret":           "helper-secret-Kd8",
		"helper store secret":     "store-secret-Pw3",
		"helper identity token":   "helper-idtoken-Lx5",
	}
	dir := t.TempDir()
	writeFile(t, dir, "docker/config.json", fmt.Sprintf(`{
		"credsStore": "test",
		"credHelpers": {"helper.example": "test", "token.example": "test", "fail.example": "test"},
		"auths": {
			"dc.example": {"auth": %q},
			"plain.example": {"username": "pu", "password": %q},
			"id.example": {"identitytoken": %q},
			"tok.example": {"registrytoken": %q}
		}}`, read["docker config auth"], read["docker config password"], read["identitytoken"], read["registrytoken"]))
	writeFile(t, dir, "run/containers/auth.json", fmt.Sprintf(`{"auths":{"ctr.example/org":{"auth":%q}}}`, read["containers auth"]))
	vars := map[string]string{
		"DOCKER_CONFIG":        dir + "/docker",
		"XDG_RUNTIME_DIR":      dir + "/run",
		"CI_REGISTRY":          "gitlab.example",
		"CI_REGISTRY_USER":     "gitlab-ci-token",
		"CI_REGISTRY_PASSWORD": read["CI_REGISTRY_PASSWORD"],
		"CI_DEPLOY_USER":       "deployer",
		"CI_DEPLOY_PASSWORD":   read["CI_DEPLOY_PASSWORD"],
		"CI_JOB_TOKEN":         read["CI_JOB_TOKEN"],
		"DOCKER_AUTH_CONFIG":   fmt.Sprintf(`{"auths":{"dac.example":{"auth":%q}}}`, read["DOCKER_AUTH_CONFIG auth"]),
		"GITHUB_TOKEN":         read["GITHUB_TOKEN"],
		"GITHUB_ACTOR":         "octocat",
	}
	m := &recorder{}
	kc, err := New(
		WithGetenv(env(vars)), WithMask(m.mask), WithLogger(logger),
		WithGitHubToken(read["github-token input"]),
		WithRegistryAuth([]Entry{
			{Registry: "ra.example", Username: "ra", Password: read["registry-auth password"]},
			{Registry: reg.Host, Username: "tsuser", Password: read["wrong registry password"]},
		}))
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{
		"ra.example/a:v1", "gitlab.example/g/p:v1", "dac.example/a:v1", "ghcr.io/o/a:v1",
		"dc.example/a:v1", "plain.example/a:v1", "id.example/a:v1", "tok.example/a:v1",
		"ctr.example/org/a:v1", "helper.example/a:v1", "store.example/a:v1", "token.example/a:v1",
		"fail.example/a:v1", "quay.io/nobody/a:v1",
	}
	for _, s := range refs {
		ref, err := name.ParseReference(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kc.Resolve(ref.Context()); err != nil {
			record(err.Error())
		}
		record(kc.Source(ref.Context()))
		for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
			record(kc.Explain(&transport.Error{StatusCode: code}, ref).Error())
		}
	}

	// A real refusal: the registry-auth password for reg.Host is wrong.
	ref, err := name.ParseReference(reg.Host + "/leak/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	pushErr := remote.Write(ref, img, remote.WithAuthFromKeychain(kc), remote.WithContext(context.Background()))
	if pushErr == nil {
		t.Fatal("push with a wrong password succeeded")
	}
	record(kc.Explain(pushErr, ref).Error())

	for what, s := range read {
		if !m.masked(s) {
			t.Errorf("%s was not masked", what)
		}
	}

	// Failures while reading: each must fail New without quoting a secret.
	failing := map[string]string{
		"truncated config pw":    "leak-trunc-pw-O15",
		"numeric password":       "98765432109876",
		"bad base64":             "leak-badb64-P16!!",
		"no colon":               "leak-nocolon-Q17",
		"raw DOCKER_AUTH_CONFIG": "leak-dac-raw-R18",
		"yaml anchor":            "leak-yaml-anchor-S19",
		"yaml key":               "leak-yaml-key-T20",
		"yaml unterminated":      "leak-yaml-quote-U21",
		"yaml list password":     "leak-yaml-list-V22",
		"entry without user":     "leak-nouser-W23",
	}
	fdir := t.TempDir()
	badConfigs := map[string]string{
		"trunc":   fmt.Sprintf(`{"auths":{"x.example":{"auth":%q}`, b64("u:"+failing["truncated config pw"])),
		"numeric": fmt.Sprintf(`{"auths":{"x.example":{"username":"u","password":%s}}}`, failing["numeric password"]),
		"base64":  fmt.Sprintf(`{"auths":{"x.example":{"auth":%q}}}`, failing["bad base64"]),
		"nocolon": fmt.Sprintf(`{"auths":{"x.example":{"auth":%q}}}`, b64(failing["no colon"])),
	}
	var failErrs []error
	for name, content := range badConfigs {
		writeFile(t, fdir, name+"/config.json", content)
		_, err := New(WithGetenv(env(map[string]string{"DOCKER_CONFIG": fdir + "/" + name})), WithLogger(logger))
		failErrs = append(failErrs, err)
		writeFile(t, fdir, name+".json", content)
		_, err = New(WithGetenv(env(map[string]string{"REGISTRY_AUTH_FILE": fdir + "/" + name + ".json"})), WithLogger(logger))
		failErrs = append(failErrs, err)
		_, err = New(WithGetenv(env(map[string]string{"DOCKER_AUTH_CONFIG": content})), WithLogger(logger))
		failErrs = append(failErrs, err)
	}
	_, err = New(WithGetenv(env(map[string]string{"DOCKER_AUTH_CONFIG": failing["raw DOCKER_AUTH_CONFIG"]})))
	failErrs = append(failErrs, err)
	_, err = New(WithRegistryAuth([]Entry{{Registry: "x.example", Password: failing["entry without user"]}}))
	failErrs = append(failErrs, err)
	for _, y := range []string{
		"- registry: x.example\n  username: u\n  password: *" + failing["yaml anchor"] + "\n",
		"- registry: x.example\n  username: u\n  " + failing["yaml key"] + ": x\n",
		"- registry: x.example\n  username: u\n  password: \"" + failing["yaml unterminated"] + "\n",
		"- registry: x.example\n  username: u\n  password: [" + failing["yaml list password"] + "]\n",
		"password: " + failing["yaml list password"] + "\n",
	} {
		_, err := ParseRegistryAuth(y)
		failErrs = append(failErrs, err)
	}
	for i, err := range failErrs {
		if err == nil {
			t.Errorf("failure case %d: no error", i)
			continue
		}
		record(err.Error())
	}

	texts = append(texts, logs.String())
	all := map[string]string{}
	for k, v := range read {
		all[k] = v
	}
	for k, v := range failing {
		all[k] = v
	}
	all["token server password"] = tsPassword
	// The decoded password of a bad auth string must not show either.
	for _, text := range texts {
		for what, s := range all {
			if strings.Contains(text, s) {
				t.Errorf("%s leaked in %q", what, text)
			}
		}
	}
	if len(texts) < 40 {
		t.Errorf("scanned %d texts, want every path covered", len(texts))
	}
}
