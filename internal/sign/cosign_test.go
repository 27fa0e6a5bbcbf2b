package sign_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
	"github.com/oci-assemble/oci-assemble/internal/sign"
)

// pushed is an image index with its platform manifests in a registry.
type pushed struct {
	repo     name.Repository
	index    v1.Descriptor
	children []v1.Descriptor
}

func (p pushed) ref(d v1.Descriptor) string { return p.repo.Digest(d.Digest.String()).String() }

// pushIndex pushes a random two-platform index to reg.
func pushIndex(t *testing.T, reg *registrytest.Registry, repoName string) pushed {
	t.Helper()
	repo, err := name.NewRepository(reg.Host + "/" + repoName)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(repo.Tag("latest"), idx); err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	size, err := idx.Size()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	return pushed{repo: repo, index: v1.Descriptor{MediaType: mt, Digest: d, Size: size}, children: im.Manifests}
}

// provenance and sbom return in-toto statements about d, of the predicate
// types cosign verify-attestation checks for --type slsaprovenance1 and
// --type spdxjson.
func provenance(d v1.Hash) []byte {
	return []byte(fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"image","digest":{"sha256":%q}}],`+
		`"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://example.com/assemble/v1",`+
		`"externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}}`, d.Hex))
}

func sbom(d v1.Hash) []byte {
	return []byte(fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"image","digest":{"sha256":%q}}],`+
		`"predicateType":"https://spdx.dev/Document","predicate":{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0",`+
		`"SPDXID":"SPDXRef-DOCUMENT","name":"image","documentNamespace":"https://example.com/spdx/image",`+
		`"creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: oci-assemble"]},"packages":[]}}`, d.Hex))
}

// signAll signs the index and each platform manifest, attests provenance
// and an SBOM of the index, and attaches every bundle as a referrer.
func signAll(t *testing.T, s *sign.Signer, p pushed) {
	t.Helper()
	ctx := context.Background()
	attach := func(subject v1.Descriptor, b *sign.Bundle) {
		t.Helper()
		a, err := sign.Referrer(subject, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := sign.WriteReferrer(ctx, p.repo, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range append([]v1.Descriptor{p.index}, p.children...) {
		b, err := s.SignImage(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		attach(d, b)
	}
	for _, st := range [][]byte{provenance(p.index.Digest), sbom(p.index.Digest)} {
		b, err := s.Attest(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		attach(p.index, b)
	}
}

// cosigns are the verifiers: cosign 3 and cosign 2.
var cosigns = []string{"cosign", "cosign2"}

// keyArgs are the verification arguments for key-signed bundles: a
// trusted root is required even when empty, and no transparency log.
func keyArgs(t *testing.T, pubPath string) []string {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(empty, []byte(sign.EmptyTrustedRoot), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--key", pubPath, "--trusted-root", empty, "--insecure-ignore-tlog"}
}

func mustVerify(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := registrytest.Cosign(t, bin, nil, args...)
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

func mustRefuse(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := registrytest.Cosign(t, bin, nil, args...)
	if err == nil {
		t.Errorf("%s %s succeeded, want it refused\n%s", filepath.Base(bin), strings.Join(args, " "), out)
	}
	return out
}

// verifyAll checks with every cosign that the index and each platform
// manifest verify, and that both attestations verify by type.
func verifyAll(t *testing.T, p pushed, auth []string) {
	t.Helper()
	for _, c := range cosigns {
		bin := registrytest.SigstoreBinary(t, c)
		for _, d := range append([]v1.Descriptor{p.index}, p.children...) {
			mustVerify(t, bin, append(append([]string{"verify"}, auth...), p.ref(d))...)
		}
		for _, typ := range []string{"slsaprovenance1", "spdxjson"} {
			mustVerify(t, bin, append(append([]string{"verify-attestation", "--type", typ}, auth...), p.ref(p.index))...)
		}
	}
}

// cosignKeyPair makes a key pair with `cosign generate-key-pair`,
// encrypted with password, and returns the private key and the public
// key's path.
func cosignKeyPair(t *testing.T, password string) ([]byte, string) {
	t.Helper()
	bin := registrytest.SigstoreBinary(t, "cosign")
	dir := t.TempDir()
	out, err := registrytest.Cosign(t, bin, []string{"COSIGN_PASSWORD=" + password},
		"generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	if err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	priv, err := os.ReadFile(filepath.Join(dir, "cosign.key"))
	if err != nil {
		t.Fatal(err)
	}
	return priv, filepath.Join(dir, "cosign.pub")
}

func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pub")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCosignVerifiesKeySigned(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cosign against a registry")
	}
	t.Parallel()
	for _, v := range []registrytest.Version{registrytest.V3, registrytest.V2} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, registrytest.WithVersion(v))
			pkcs8, pkcs8Pub := pkcs8Key(t)
			cosignKey, cosignPub := cosignKeyPair(t, "correct horse")
			keys := []struct {
				name      string
				key, pass []byte
				pub       string
			}{
				{"cosign-key", cosignKey, []byte("correct horse"), cosignPub},
				{"pkcs8", pkcs8, nil, writeFile(t, pkcs8Pub)},
			}
			for _, k := range keys {
				t.Run(k.name, func(t *testing.T) {
					s, err := sign.New(context.Background(), sign.Options{Mode: sign.ModeKey, Key: k.key, Password: k.pass})
					if err != nil {
						t.Fatal(err)
					}
					p := pushIndex(t, reg, "key/"+k.name)
					signAll(t, s, p)
					verifyAll(t, p, keyArgs(t, k.pub))
				})
			}
		})
	}
}

func TestCosignRefusesOtherKeyAndTampering(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cosign against a registry")
	}
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	priv, _ := pkcs8Key(t)
	_, otherPub := pkcs8Key(t)
	s, err := sign.New(context.Background(), sign.Options{Mode: sign.ModeKey, Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	p := pushIndex(t, reg, "tamper/signed")
	signAll(t, s, p)
	// The signature of the signed index, attached to another index.
	other := pushIndex(t, reg, "tamper/signed")
	b, err := s.SignImage(context.Background(), p.index)
	if err != nil {
		t.Fatal(err)
	}
	a, err := sign.Referrer(other.index, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.WriteReferrer(context.Background(), other.repo, a); err != nil {
		t.Fatal(err)
	}
	ownPub := writeFile(t, []byte(s.Identity().PublicKeyPEM))
	for _, c := range cosigns {
		bin := registrytest.SigstoreBinary(t, c)
		mustRefuse(t, bin, append(append([]string{"verify"}, keyArgs(t, writeFile(t, otherPub))...), p.ref(p.index))...)
		mustRefuse(t, bin, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, keyArgs(t, writeFile(t, otherPub))...), p.ref(p.index))...)
		mustRefuse(t, bin, append(append([]string{"verify"}, keyArgs(t, ownPub)...), other.ref(other.index))...)
		// No attestation of that type was made.
		mustRefuse(t, bin, append(append([]string{"verify-attestation", "--type", "cyclonedx"}, keyArgs(t, ownPub)...), p.ref(p.index))...)
		// The tag now names the other index: the signature does not follow it.
		mustRefuse(t, bin, append(append([]string{"verify"}, keyArgs(t, ownPub)...), p.repo.Tag("latest").String())...)
	}
}

func TestCosignVerifiesKeyless(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Fulcio, a timestamp authority and cosign")
	}
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	issuer := registrytest.StartOIDCIssuer(t)
	fulcio := registrytest.StartFulcio(t, issuer)
	tsa := registrytest.StartTSA(t)
	const email = "builder@example.com"
	tok := issuer.Token(t, email)
	s, err := sign.New(context.Background(), sign.Options{
		Mode: sign.ModeKeyless, FulcioURL: fulcio.URL, TSAURL: tsa.URL,
		Token: sign.EnvToken("", func(k string) string { return map[string]string{"SIGSTORE_ID_TOKEN": tok}[k] }),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := pushIndex(t, reg, "keyless/app")
	start := time.Now()
	signAll(t, s, p)
	t.Logf("signed %d manifests and 2 statements in %s", 1+len(p.children), time.Since(start))
	if got := s.Identity(); got.SAN != email || got.Issuer != issuer.URL {
		t.Errorf("Identity() = %+v, want SAN %s and issuer %s", got, email, issuer.URL)
	}
	rootPath := registrytest.TrustedRoot(t, fulcio, tsa)
	ident := func(email, iss string) []string {
		return []string{"--certificate-identity", email, "--certificate-oidc-issuer", iss,
			"--trusted-root", rootPath, "--insecure-ignore-tlog", "--insecure-ignore-sct"}
	}
	verifyAll(t, p, ident(email, issuer.URL))
	timestamped(t, s, p.index, rootPath, email, issuer.URL)
	for _, c := range cosigns {
		bin := registrytest.SigstoreBinary(t, c)
		mustRefuse(t, bin, append(append([]string{"verify"}, ident("someone@example.com", issuer.URL)...), p.ref(p.index))...)
		mustRefuse(t, bin, append(append([]string{"verify"}, ident(email, "https://token.actions.githubusercontent.com")...), p.ref(p.index))...)
	}
}

func TestFulcioRefusalIsOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Fulcio")
	}
	t.Parallel()
	trusted := registrytest.StartOIDCIssuer(t)
	stranger := registrytest.StartOIDCIssuer(t)
	fulcio := registrytest.StartFulcio(t, trusted)
	tok := stranger.Token(t, "mallory@example.com")
	s, err := sign.New(context.Background(), sign.Options{
		Mode: sign.ModeKeyless, FulcioURL: fulcio.URL,
		Token: func(context.Context, http.RoundTripper) (string, error) { return tok, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.SignImage(context.Background(), v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 1,
		Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}})
	if err == nil {
		t.Fatal("SignImage() with a token of an issuer Fulcio does not trust succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "no certificate from Fulcio at "+fulcio.URL) || strings.Contains(msg, "\n") || strings.Contains(msg, tok) {
		t.Errorf("SignImage() = %q, want one line naming Fulcio's refusal, without the token", msg)
	}
	t.Logf("SignImage() = %v", err)
}

func TestCosignVerifiesLegacySig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cosign against a registry")
	}
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	priv, pub := pkcs8Key(t)
	s, err := sign.New(context.Background(), sign.Options{Mode: sign.ModeKey, Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	p := pushIndex(t, reg, "legacy/app")
	for _, d := range append([]v1.Descriptor{p.index}, p.children...) {
		ref := p.repo.Digest(d.Digest.String())
		sig, err := s.SignLegacy(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		tag, err := sign.LegacyTag(ref)
		if err != nil {
			t.Fatal(err)
		}
		img, err := sign.AppendLegacy(nil, sig)
		if err != nil {
			t.Fatal(err)
		}
		// Signing twice adds nothing.
		if img, err = sign.AppendLegacy(img, sig); err != nil {
			t.Fatal(err)
		}
		if m, err := img.Manifest(); err != nil || len(m.Layers) != 1 {
			t.Fatalf(".sig image has %v layers (%v), want 1", m, err)
		}
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
	}
	pubPath := writeFile(t, pub)
	for _, c := range cosigns {
		bin := registrytest.SigstoreBinary(t, c)
		for _, d := range append([]v1.Descriptor{p.index}, p.children...) {
			mustVerify(t, bin, append([]string{"verify"}, append(keyArgs(t, pubPath), p.ref(d))...)...)
		}
		_, other := pkcs8Key(t)
		mustRefuse(t, bin, append([]string{"verify"}, append(keyArgs(t, writeFile(t, other)), p.ref(p.index))...)...)
	}
}

// timestamped checks with sigstore-go's verifier, which unlike cosign
// without a transparency log insists on it, that a keyless bundle carries
// a timestamp from the authority the trusted root names, inside the
// certificate's validity.
func timestamped(t *testing.T, s *sign.Signer, d v1.Descriptor, rootPath, email, issuer string) {
	t.Helper()
	b, err := s.SignImage(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewVerifier(tr, verify.WithSignedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	var pb bundle.Bundle
	if err := pb.UnmarshalJSON(b.JSON); err != nil {
		t.Fatal(err)
	}
	id, err := verify.NewShortCertificateIdentity(issuer, "", email, "")
	if err != nil {
		t.Fatal(err)
	}
	digest, err := hex.DecodeString(d.Digest.Hex)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(&pb, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithCertificateIdentity(id))); err != nil {
		t.Errorf("sigstore-go Verify() = %v, want a timestamped bundle of %s by %s", err, d.Digest, email)
	}
}
