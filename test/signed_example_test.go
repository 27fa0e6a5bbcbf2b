package test

// The shipped signing example's publish step, run as the runner runs it:
// the step's inputs read from examples/signed/workflow.yml with its
// expressions filled in, GitHub's OIDC token endpoint emulated (the job
// has id-token: write), GHCR, Docker Hub and the distroless base replaced
// by local registries, and Sigstore's public instances by local
// stand-ins (the only inputs the test adds).

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

const signedExample = "../examples/signed/workflow.yml"

type workflow struct {
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// exampleStep is the with: of the publish job's oci-assemble step, and
// the job's permissions.
func exampleStep(t *testing.T) (map[string]string, map[string]string, map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(signedExample)
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	job, ok := wf.Jobs["publish"]
	if !ok {
		t.Fatal("the example has no publish job")
	}
	for _, s := range job.Steps {
		if strings.HasPrefix(s.Uses, "oci-assemble/oci-assemble@") {
			return s.With, job.Permissions, wf.Env
		}
	}
	t.Fatal("the publish job has no oci-assemble step")
	return nil, nil, nil
}

var expression = regexp.MustCompile(`\$\{\{\s*([A-Za-z_.]+)\s*\}\}`)

// fill replaces the workflow's expressions by vals; one it does not know
// fails the test.
func fill(t *testing.T, s string, vals map[string]string) string {
	t.Helper()
	return expression.ReplaceAllStringFunc(s, func(m string) string {
		k := expression.FindStringSubmatch(m)[1]
		v, ok := vals[k]
		if !ok {
			t.Fatalf("the example uses %s, which the test does not fill in", m)
		}
		return v
	})
}

func TestSignedExample(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts Fulcio and a timestamp authority (-short)")
	}
	with, perms, env := exampleStep(t)
	if perms["id-token"] != "write" {
		t.Errorf("the publish job's permissions %v lack id-token: write, which keyless signing needs", perms)
	}
	ghcr := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	hub := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	pushIndex(t, ghcr.Host+"/distroless/static:nonroot", mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: platformImage(t, amd64), Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: platformImage(t, arm64), Descriptor: v1.Descriptor{Platform: &arm64}}))
	issuer := registrytest.StartOIDCIssuer(t)
	fulcio := registrytest.StartFulcio(t, issuer)
	tsa := registrytest.StartTSA(t)
	const identity = "octo-org@example.com"
	// GitHub's OIDC provider as the runner reaches it: a bearer request
	// token and audience=sigstore.
	oidc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer request-token" || r.URL.Query().Get("audience") != "sigstore" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"value": issuer.Token(t, identity)})
	}))
	t.Cleanup(oidc.Close)

	vals := map[string]string{
		"github.sha": "0123456789abcdef0123456789abcdef01234567", "github.server_url": "https://github.com",
		"github.repository": "octo-org/hello",
	}
	for k, v := range env {
		vals["env."+k] = v
	}
	vals["env.IMAGE"], vals["env.MIRROR"] = ghcr.Host+"/octo-org/hello", hub.Host+"/octoorg/hello"
	vals["env.BASE"] = ghcr.Host + "/distroless/static:nonroot"
	in := map[string]string{}
	for k, v := range with {
		in[k] = fill(t, v, vals)
	}
	in["fulcio-url"], in["tsa-url"], in["rekor-url"] = fulcio.URL, tsa.URL, "none"
	in["insecure-registries"] = strings.Join([]string{ghcr.Host, hub.Host, hostOf(fulcio.URL), hostOf(tsa.URL), hostOf(oidc.URL)}, ",")

	ws := workspace(t, map[string]string{
		"dist/linux-amd64/hello": "amd64 hello", "dist/linux-arm64/hello": "arm64 hello",
	}, map[string]os.FileMode{"dist/linux-amd64/hello": 0o755, "dist/linux-arm64/hello": 0o755})
	res := runAction(t, in, append([]string{"GITHUB_WORKSPACE=" + ws,
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + oidc.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=request-token"}, githubRun...)...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if !strings.Contains(res.stdout, "::add-mask::request-token") || strings.Contains(shown(res), "request-token") {
		t.Error("the runner's OIDC request token was not masked, or was printed")
	}
	md := readSignedMetadata(t, res)
	if md.Signing == nil || md.Signing.Mode != "keyless" || len(md.Manifests) != 2 {
		t.Fatalf("metadata: %s", res.outputs["metadata"])
	}
	root := registrytest.TrustedRoot(t, fulcio, tsa)
	ident := []string{"--certificate-identity", identity, "--certificate-oidc-issuer", issuer.URL,
		"--trusted-root", root, "--insecure-ignore-tlog", "--insecure-ignore-sct"}
	bin := registrytest.SigstoreBinary(t, "cosign")
	for _, image := range []string{ghcr.Host + "/octo-org/hello", hub.Host + "/octoorg/hello"} {
		cosignOK(t, bin, append(append([]string{"verify"}, ident...), image+":latest")...)
		cosignOK(t, bin, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, ident...), image+":latest")...)
		out := cosignOK(t, bin, append(append([]string{"verify-attestation", "--type", "spdxjson"}, ident...), image+"@"+md.Manifests[1].Digest)...)
		if got, want := sbomFiles(t, out)["/usr/local/bin/hello"], "sha256:"+sha256Hex([]byte("arm64 hello")); got != want {
			t.Errorf("%s: SBOM of linux/arm64 gives /usr/local/bin/hello %s, want %s", image, got, want)
		}
	}
	if !strings.Contains(res.summary, "cosign verify --certificate-identity") {
		t.Errorf("the summary does not say how to verify:\n%s", res.summary)
	}
}
