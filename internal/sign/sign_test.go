package sign_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
	"github.com/oci-assemble/oci-assemble/internal/sign"
)

func TestMain(m *testing.M) { os.Exit(registrytest.Main(m)) }

// pkcs8Key returns a new ECDSA P-256 key as PKCS#8 PEM and its public key
// as PKIX PEM.
func pkcs8Key(t *testing.T) (priv, pub []byte) { return registrytest.ECKeyPEM(t) }

func TestNewKeyFormats(t *testing.T) {
	t.Parallel()
	priv, _ := pkcs8Key(t)
	block, _ := pem.Decode(priv)
	enc, err := encrypted.Encrypt(block.Bytes, []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	cosignKey := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc})
	tests := []struct {
		name      string
		key, pass []byte
		wantErr   error
		wantText  string
	}{
		{name: "pkcs8", key: priv},
		{name: "cosign encrypted", key: cosignKey, pass: []byte("hunter2")},
		{name: "wrong password", key: cosignKey, pass: []byte("nope"), wantErr: sign.ErrWrongPassword, wantText: "COSIGN_PASSWORD"},
		{name: "no password", key: cosignKey, wantErr: sign.ErrWrongPassword, wantText: "set COSIGN_PASSWORD"},
		{name: "not pem", key: []byte("hello"), wantText: "no PEM block"},
		{name: "public key", key: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), wantText: `"PUBLIC KEY" is no private key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := sign.New(context.Background(), sign.Options{Mode: sign.ModeKey, Key: tt.key, Password: tt.pass})
			if tt.wantErr == nil && tt.wantText == "" {
				if err != nil {
					t.Fatalf("New() = %v", err)
				}
				if got := s.Identity(); !strings.Contains(got.PublicKeyPEM, "PUBLIC KEY") || got.KeyHint == "" {
					t.Errorf("Identity() = %+v, want a public key and hint", got)
				}
				return
			}
			if err == nil {
				t.Fatal("New() succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("New() = %v, want errors.Is %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantText) || strings.Contains(err.Error(), "\n") {
				t.Errorf("New() = %q, want one line containing %q", err, tt.wantText)
			}
			if strings.Contains(err.Error(), string(tt.pass)) && len(tt.pass) > 0 {
				t.Errorf("New() error %q shows the password", err)
			}
		})
	}
}

func TestModeErrors(t *testing.T) {
	t.Parallel()
	priv, _ := pkcs8Key(t)
	tests := []struct {
		name string
		o    sign.Options
		want string
	}{
		{"no mode", sign.Options{}, "unknown mode"},
		{"keyless with key", sign.Options{Mode: sign.ModeKeyless, Key: priv}, "takes no key"},
		{"keyless without token", sign.Options{Mode: sign.ModeKeyless}, "no OIDC identity token"},
		{"bad fulcio url", sign.Options{Mode: sign.ModeKeyless, Token: sign.EnvToken("", func(string) string { return "" }), FulcioURL: "ftp://x"}, "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sign.New(context.Background(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestTokenSources(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/huge" {
			_, _ = w.Write([]byte(`{"value":"` + strings.Repeat("a", 100<<10) + `"}`))
			return
		}
		if r.URL.Query().Get("audience") != "sigstore" || r.URL.Query().Get("api-version") != "2.0" ||
			r.Header.Get("Authorization") != "Bearer runner-secret" {
			http.Error(w, "bad request", http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"value": jwt})
	}))
	t.Cleanup(srv.Close)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		src     sign.TokenSource
		want    string
		wantErr string
	}{
		{name: "github", want: jwt, src: sign.GitHubToken(env(map[string]string{
			"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-secret"}))},
		{name: "github refused", wantErr: "answered 403", src: sign.GitHubToken(env(map[string]string{
			"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "other"}))},
		{name: "github huge answer", wantErr: "over 65536 bytes", src: sign.GitHubToken(env(map[string]string{
			"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/huge", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-secret"}))},
		{name: "github no permission", wantErr: "`permissions: id-token: write`", src: sign.GitHubToken(env(nil))},
		{name: "gitlab", want: jwt, src: sign.EnvToken("", env(map[string]string{"SIGSTORE_ID_TOKEN": jwt}))},
		{name: "gitlab missing", wantErr: "`id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`", src: sign.EnvToken("", env(nil))},
		{name: "gitlab other name", wantErr: "`id_tokens: MY_TOKEN: aud: sigstore`", src: sign.EnvToken("MY_TOKEN", env(nil))},
		{name: "not a jwt", wantErr: "is not a JWT", src: sign.EnvToken("", env(map[string]string{"SIGSTORE_ID_TOKEN": "secret value"}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.src(context.Background(), http.DefaultTransport)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("token = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q shows a secret", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("token = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestReferrerFormat(t *testing.T) {
	t.Parallel()
	priv, _ := pkcs8Key(t)
	s, err := sign.New(context.Background(), sign.Options{Mode: sign.ModeKey, Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Size: 123,
		Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}, Annotations: map[string]string{"x": "y"}}
	b, err := s.SignImage(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	a, err := sign.Referrer(subject, b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(a.Manifest)))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"artifactType", m.ArtifactType, sign.BundleMediaType},
		{"mediaType", string(m.MediaType), string(types.OCIManifestSchema1)},
		{"config.mediaType", string(m.Config.MediaType), "application/vnd.oci.empty.v1+json"},
		{"config.digest", m.Config.Digest.String(), "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
		{"layer.mediaType", string(m.Layers[0].MediaType), sign.BundleMediaType},
		{"subject", m.Subject.Digest.String(), subject.Digest.String()},
		{"subject.mediaType", string(m.Subject.MediaType), string(types.OCIImageIndex)},
		{"content", m.Annotations["dev.sigstore.bundle.content"], "dsse-envelope"},
		{"predicateType", m.Annotations["dev.sigstore.bundle.predicateType"], "https://sigstore.dev/cosign/sign/v1"},
		{"descriptor artifactType", a.Descriptor.ArtifactType, sign.BundleMediaType},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if m.Subject.Annotations != nil || len(m.Layers) != 1 || m.Annotations["org.opencontainers.image.created"] == "" {
		t.Errorf("manifest = %s, want one layer, a bare subject and a creation time", a.Manifest)
	}
	var bundle struct {
		MediaType    string `json:"mediaType"`
		DSSEEnvelope struct {
			PayloadType string `json:"payloadType"`
			Payload     []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(b.JSON, &bundle); err != nil {
		t.Fatal(err)
	}
	if bundle.MediaType != sign.BundleMediaType || bundle.DSSEEnvelope.PayloadType != "application/vnd.in-toto+json" {
		t.Errorf("bundle = %s, want a v0.3 bundle with an in-toto DSSE envelope", b.JSON)
	}
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(bundle.DSSEEnvelope.Payload, &st); err != nil || len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != subject.Digest.Hex {
		t.Errorf("statement = %s (%v), want the subject's digest", bundle.DSSEEnvelope.Payload, err)
	}
}

func TestAttestRefusesBadStatements(t *testing.T) {
	t.Parallel()
	priv, _ := pkcs8Key(t)
	s, err := sign.New(context.Background(), sign.Options{Mode: sign.ModeKey, Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	d := `{"sha256":"` + strings.Repeat("ab", 32) + `"}`
	tests := []struct{ name, statement, want string }{
		{"not json", "{", "not an in-toto statement"},
		{"old type", `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"p","subject":[{"digest":` + d + `}],"predicate":{}}`, "_type"},
		{"no predicate type", `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":` + d + `}],"predicate":{}}`, "predicate type"},
		{"no predicate", `{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"digest":` + d + `}]}`, "predicate"},
		{"no subject", `{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","predicate":{}}`, "subject required"},
		{"no digest", `{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"name":"x"}],"predicate":{}}`, "digest required"},
		{"short digest", `{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"digest":{"sha256":"aa"}}],"predicate":{}}`, "incorrect length"},
		{"trailing", `{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"digest":` + d + `}],"predicate":{}} {}`, "not an in-toto statement"},
		{"trailing brace", `{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"digest":` + d + `}],"predicate":{}}}`, "not an in-toto statement"},
		{"case-folded keys", `{"_tYpe":"https://in-toto.io/Statement/v1","prediCAteTYpe":"p","subject":[{"digest":` + d + `}],"predicate":{}}`, "not an in-toto statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Attest(context.Background(), []byte(tt.statement))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Attest() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
