package test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// The signing tests sign with the program and verify with the real cosign
// binaries, cosign 3 (what users run today) and cosign 2.

var cosigns = []string{"cosign", "cosign2"}

// githubRun are the variables GitHub Actions sets that provenance names
// the builder and the run by.
var githubRun = []string{
	"GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=octo-org/app", "GITHUB_RUN_ID=42",
	"GITHUB_RUN_ATTEMPT=1", "GITHUB_WORKFLOW_REF=octo-org/app/.github/workflows/release.yml@refs/heads/main",
	"GITHUB_REF=refs/heads/main", "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567", "RUNNER_ENVIRONMENT=github-hosted",
}

// keyPair makes a key pair with cosign generate-key-pair, encrypted with
// an empty password (COSIGN_PASSWORD unset reads as empty), and returns
// the private key's and the public key's paths.
func keyPair(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	out, err := registrytest.Cosign(t, registrytest.SigstoreBinary(t, "cosign"), []string{"COSIGN_PASSWORD="},
		"generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	if err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	return filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
}

func cosignOK(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := registrytest.Cosign(t, bin, nil, args...)
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return out
}

func cosignRefuses(t *testing.T, bin string, args ...string) {
	t.Helper()
	if out, err := registrytest.Cosign(t, bin, nil, args...); err == nil {
		t.Errorf("%s %s succeeded, want it refused\n%s", filepath.Base(bin), strings.Join(args, " "), out)
	}
}

// signedMetadata is the part of the metadata output the tests read.
type signedMetadata struct {
	Digest    string `json:"digest"`
	Manifests []struct {
		Platform, Digest string
		Referrers        []struct{ Digest, Kind, Subject string }
	} `json:"manifests"`
	Referrers []struct{ Digest, Kind, Subject string } `json:"referrers"`
	Signing   *struct {
		Mode   string
		Signed []struct{ Subject, Platform, Kind, Digest string }
		Verify []string
	} `json:"signing"`
}

func readSignedMetadata(t *testing.T, res result) signedMetadata {
	t.Helper()
	var md signedMetadata
	if err := json.Unmarshal([]byte(res.outputs["metadata"]), &md); err != nil {
		t.Fatalf("metadata: %v\n%s", err, res.outputs["metadata"])
	}
	return md
}

// TestSignKeyToTwoRegistries joins two platform images into distribution
// v3 (referrers API) and docker-registry 2.8 (the fallback tag) at once,
// signed with a cosign key, with provenance and cosign's legacy .sig tags.
// cosign 3 and cosign 2 verify the index and every platform on both, and
// the provenance by its type; another key, and a tag moved to another
// manifest, are refused.
func TestSignKeyToTwoRegistries(t *testing.T) {
	t.Parallel()
	a := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	b := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	push(t, a.Host+"/o/src:amd64", platformImage(t, amd64))
	push(t, a.Host+"/o/src:arm64", platformImage(t, arm64))
	key, pub := keyPair(t)
	_, otherPub := keyPair(t)
	res := runAction(t, map[string]string{
		"images":              a.Host + "/o/src:amd64\n" + a.Host + "/o/src:arm64",
		"tags":                a.Host + "/o/app:1\n" + b.Host + "/o/app:1",
		"insecure-registries": a.Host + "," + b.Host,
		"sign":                "key",
		"signing-key":         key,
		"provenance":          "true",
		"sign-legacy-tags":    "true",
		"rekor-url":           "none",
	}, githubRun...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	md := readSignedMetadata(t, res)
	if md.Signing == nil || md.Signing.Mode != "key" {
		t.Fatalf("metadata signing = %+v, want key mode", md.Signing)
	}
	// The index and 2 platforms: a signature, a .sig tag and the
	// provenance each.
	if got := len(md.Signing.Signed); got != 9 {
		t.Errorf("%d signatures and attestations in metadata, want 9: %+v", got, md.Signing.Signed)
	}
	if len(md.Referrers) != 3 || len(md.Manifests) != 2 || len(md.Manifests[0].Referrers) != 3 {
		t.Errorf("referrers in metadata: index %+v, manifests %+v; want 3 each", md.Referrers, md.Manifests)
	}
	if !strings.Contains(res.summary, "cosign verify --key cosign.pub") {
		t.Errorf("summary does not say how to verify:\n%s", res.summary)
	}
	digests := []string{md.Digest}
	for _, m := range md.Manifests {
		digests = append(digests, m.Digest)
	}
	root := registrytest.TrustedRoot(t, nil, nil)
	keyArgs := func(pub string) []string {
		return []string{"--key", pub, "--trusted-root", root, "--insecure-ignore-tlog"}
	}
	for _, c := range cosigns {
		bin := registrytest.SigstoreBinary(t, c)
		for _, host := range []string{a.Host, b.Host} {
			for _, d := range digests {
				cosignOK(t, bin, append(append([]string{"verify"}, keyArgs(pub)...), host+"/o/app@"+d)...)
			}
			cosignOK(t, bin, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, keyArgs(pub)...), host+"/o/app@"+md.Manifests[1].Digest)...)
			cosignRefuses(t, bin, append(append([]string{"verify"}, keyArgs(otherPub)...), host+"/o/app@"+md.Digest)...)
		}
	}
	// The legacy .sig tag, copied to the second registry, verifies when
	// cosign is told to read it instead of bundles.
	out := cosignOK(t, registrytest.SigstoreBinary(t, "cosign"), "verify", "--key", pub, "--trusted-root", root,
		"--insecure-ignore-tlog", "--new-bundle-format=false", b.Host+"/o/app@"+md.Digest)
	if !strings.Contains(out, `"type":"cosign container image signature"`) {
		t.Errorf("cosign verified no legacy .sig signature on %s:\n%s", b.Host, out)
	}
	// Tampering: the tag now names a manifest nobody signed.
	push(t, a.Host+"/o/app:1", platformImage(t, v1.Platform{OS: "linux", Architecture: "s390x"}))
	cosignRefuses(t, registrytest.SigstoreBinary(t, "cosign"), append(append([]string{"verify"}, keyArgs(pub)...), a.Host+"/o/app:1")...)
}

// TestSignKeylessLayerModeSBOM builds two platforms from files and signs
// them keyless against local stand-ins (an OIDC issuer the test owns,
// Fulcio with an ephemeral CA, a timestamp authority), with provenance
// and an SBOM of each image. cosign verifies the identity and issuer, the
// provenance and the SBOM, whose files carry their sha256; another
// identity is refused.
func TestSignKeylessLayerModeSBOM(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts Fulcio and a timestamp authority (-short)")
	}
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	issuer := registrytest.StartOIDCIssuer(t)
	fulcio := registrytest.StartFulcio(t, issuer)
	tsa := registrytest.StartTSA(t)
	const email = "release@example.com"
	ws := workspace(t, map[string]string{
		"dist/linux-amd64/app": "amd64 binary",
		"dist/linux-arm64/app": "arm64 binary",
		"static/index.html":    "<h1>hi</h1>",
	}, nil)
	res := runAction(t, map[string]string{
		"base":                "scratch",
		"platforms":           "linux/amd64,linux/arm64",
		"layers":              "- files: [static/:/srv/]\n- files: ['dist/{os}-{arch}/app:/usr/local/bin/app']",
		"tags":                reg.Host + "/o/app:1",
		"sign":                "keyless",
		"insecure-registries": reg.Host + "," + hostOf(fulcio.URL) + "," + hostOf(tsa.URL),
		"fulcio-url":          fulcio.URL,
		"tsa-url":             tsa.URL,
		"rekor-url":           "none",
		"provenance":          "true",
		"sbom":                "true",
	}, append([]string{"GITHUB_WORKSPACE=" + ws, "SIGSTORE_ID_TOKEN=" + issuer.Token(t, email)}, githubRun...)...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	md := readSignedMetadata(t, res)
	if md.Signing == nil || md.Signing.Mode != "keyless" {
		t.Fatalf("metadata signing = %+v, want keyless", md.Signing)
	}
	root := registrytest.TrustedRoot(t, fulcio, tsa)
	ident := func(who string) []string {
		return []string{"--certificate-identity", who, "--certificate-oidc-issuer", issuer.URL,
			"--trusted-root", root, "--insecure-ignore-tlog", "--insecure-ignore-sct"}
	}
	amd := reg.Host + "/o/app@" + md.Manifests[0].Digest
	for _, c := range cosigns {
		bin := registrytest.SigstoreBinary(t, c)
		cosignOK(t, bin, append(append([]string{"verify"}, ident(email)...), reg.Host+"/o/app@"+md.Digest)...)
		cosignOK(t, bin, append(append([]string{"verify"}, ident(email)...), amd)...)
		cosignOK(t, bin, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, ident(email)...), reg.Host+"/o/app@"+md.Digest)...)
		cosignRefuses(t, bin, append(append([]string{"verify"}, ident("someone@example.com")...), amd)...)
	}
	out := cosignOK(t, registrytest.SigstoreBinary(t, "cosign"), append(append([]string{"verify-attestation", "--type", "spdxjson"}, ident(email)...), amd)...)
	files := sbomFiles(t, out)
	if got, want := files["/usr/local/bin/app"], "sha256:"+sha256Hex([]byte("amd64 binary")); got != want {
		t.Errorf("SBOM of linux/amd64: /usr/local/bin/app %q, want %s (all: %v)", got, want, files)
	}
	if _, ok := files["/srv/index.html"]; !ok {
		t.Errorf("SBOM of linux/amd64 lacks /srv/index.html: %v", files)
	}
}

// sbomFiles reads the files and their sha256 from the SPDX statements
// cosign verify-attestation printed (one DSSE envelope per line).
func sbomFiles(t *testing.T, out string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		var env struct{ Payload string }
		if json.Unmarshal([]byte(line), &env) != nil || env.Payload == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Predicate struct {
				Files []struct {
					FileName  string
					Checksums []struct{ Algorithm, ChecksumValue string }
				}
			}
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		for _, f := range st.Predicate.Files {
			for _, c := range f.Checksums {
				if c.Algorithm == "SHA256" {
					files[f.FileName] = "sha256:" + c.ChecksumValue
				}
			}
		}
	}
	if len(files) == 0 {
		t.Fatalf("no SPDX files in cosign's output:\n%s", out)
	}
	return files
}

// TestSignFailureMovesNoTag: Fulcio cannot be reached, so nothing is
// published and the target holds no tag; with sign-failures: warn the
// image is published unsigned, with a warning saying so.
func TestSignFailureMovesNoTag(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	push(t, reg.Host+"/o/src:amd64", platformImage(t, amd64))
	in := map[string]string{
		"images":              reg.Host + "/o/src:amd64",
		"tags":                reg.Host + "/o/app:1",
		"insecure-registries": reg.Host + ",127.0.0.1:1",
		"sign":                "keyless",
		"fulcio-url":          "http://127.0.0.1:1",
		"tsa-url":             "http://127.0.0.1:1/api/v1/timestamp",
		"rekor-url":           "none",
	}
	res := runAction(t, in, "SIGSTORE_ID_TOKEN=eyJhbGciOiJub25lIn0.e30.")
	if res.code == 0 {
		t.Fatalf("exit 0 with Fulcio unreachable\n%s", res.stdout)
	}
	if !strings.Contains(res.stdout, "::error::") || !strings.Contains(res.stdout, "nothing was published") {
		t.Errorf("want one ::error:: saying nothing was published:\n%s", res.stdout)
	}
	if tags := reg.Tags(t, "o/app"); len(tags) != 0 {
		t.Errorf("target tags %v after a failed signature, want none", tags)
	}
	in["sign-failures"] = "warn"
	res = runAction(t, in, "SIGSTORE_ID_TOKEN=eyJhbGciOiJub25lIn0.e30.")
	if res.code != 0 {
		t.Fatalf("sign-failures: warn: exit %d\n%s", res.code, res.stdout)
	}
	if !strings.Contains(res.stdout, "::warning::published unsigned") {
		t.Errorf("want a warning that the image was published unsigned:\n%s", res.stdout)
	}
	if tags := reg.Tags(t, "o/app"); len(tags) != 1 {
		t.Errorf("target tags %v, want 1:", tags)
	}
}

// TestSignKeyRefusedBeforePush: a key cosign's password does not open
// stops the run with one line, before any registry is written.
func TestSignKeyRefusedBeforePush(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	push(t, reg.Host+"/o/src:amd64", platformImage(t, amd64))
	key, _ := keyPair(t)
	res := runAction(t, map[string]string{
		"images": reg.Host + "/o/src:amd64", "tags": reg.Host + "/o/app:1", "insecure-registries": reg.Host,
		"sign": "key", "signing-key": key, "rekor-url": "none",
	}, "COSIGN_PASSWORD=wrong")
	if res.code == 0 {
		t.Fatalf("exit 0 with the wrong password\n%s", res.stdout)
	}
	if tags := reg.Tags(t, "o/app"); len(tags) != 0 {
		t.Errorf("target tags %v, want none", tags)
	}
	raw, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	printed := shown(res)
	if !strings.Contains(printed, "::error::") {
		t.Errorf("want one ::error:: line:\n%s", printed)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") && strings.Contains(printed, line) {
			t.Errorf("the output holds a line of the private key: %q\n%s", line, printed)
		}
	}
}

// hostOf is the host:port of a URL.
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	return p.Host
}

// shown is what the runner shows of a run's output: all but the
// ::add-mask:: lines, which ask it to hide a value and are never shown.
func shown(res result) string {
	var b strings.Builder
	for _, l := range strings.Split(res.stdout+res.stderr, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
