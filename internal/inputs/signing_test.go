package inputs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// testKeyPEM returns a fresh PKCS #8 private key and its public key, both
// PEM.
func testKeyPEM(t *testing.T) (private, public string) {
	priv, pub := registrytest.ECKeyPEM(t)
	return string(priv), string(pub)
}

// joinRaw is a valid join-mode dry run plus the given inputs.
func joinRaw(extra Raw) Raw {
	raw := Raw{"images": "reg.example/o/app:a", "push": "false"}
	for k, v := range extra {
		raw[k] = v
	}
	return raw
}

var (
	githubOIDC = map[string]string{"GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example/x", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}
	githubNoID = map[string]string{"GITHUB_ACTIONS": "true"}
	gitlabCI   = map[string]string{"GITLAB_CI": "true"}
)

func TestParseSigningErrors(t *testing.T) {
	t.Parallel()
	private, public := testKeyPEM(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", maxKeyFile+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		raw       Raw
		vars      map[string]string
		wantInput string
		wantMsg   string
	}{
		{name: "unknown mode", raw: Raw{"sign": "yes"}, wantInput: "sign", wantMsg: "not false, keyless or key"},
		{name: "keyless without a log or timestamp", raw: Raw{"sign": "keyless", "rekor-url": "none"}, vars: map[string]string{"SIGSTORE_ID_TOKEN": "t"}, wantInput: "rekor-url", wantMsg: "set tsa-url"},
		{name: "provenance without sign", raw: Raw{"provenance": "true"}, wantInput: "provenance", wantMsg: "set sign: keyless or sign: key"},
		{name: "sbom without sign", raw: Raw{"sbom": "true"}, wantInput: "sbom", wantMsg: "needs signing"},
		{name: "legacy tags without sign", raw: Raw{"sign-legacy-tags": "true"}, wantInput: "sign-legacy-tags", wantMsg: "needs signing"},
		{name: "warn without sign", raw: Raw{"sign-failures": "warn"}, wantInput: "sign-failures", wantMsg: "needs signing"},
		{name: "key without sign", raw: Raw{"signing-key": private}, wantInput: "signing-key", wantMsg: "only with sign: key"},
		{name: "bad provenance", raw: Raw{"sign": "key", "signing-key": private, "provenance": "maybe"}, wantInput: "provenance", wantMsg: "not true or false"},
		{name: "bad sign-failures", raw: Raw{"sign": "key", "signing-key": private, "sign-failures": "ignore"}, wantInput: "sign-failures", wantMsg: "not fail or warn"},
		{name: "key mode without key", raw: Raw{"sign": "key"}, wantInput: "signing-key", wantMsg: "sign: key needs the private key"},
		{name: "public key", raw: Raw{"sign": "key", "signing-key": public}, wantInput: "signing-key", wantMsg: "holds a PUBLIC KEY, not a private key"},
		{name: "missing key file", raw: Raw{"sign": "key", "signing-key": filepath.Join(dir, "nope.key")}, wantInput: "signing-key", wantMsg: "names no file"},
		{name: "key file too large", raw: Raw{"sign": "key", "signing-key": big}, wantInput: "signing-key", wantMsg: "too large for a private key"},
		{name: "device as key file", raw: Raw{"sign": "key", "signing-key": os.DevNull}, wantInput: "signing-key", wantMsg: "not a regular file"},
		{name: "broken PEM", raw: Raw{"sign": "key", "signing-key": "-----BEGIN PRIVATE KEY-----\nAAAA"}, wantInput: "signing-key", wantMsg: "holds no PEM block"},
		{name: "key with keyless", raw: Raw{"sign": "keyless", "signing-key": private}, vars: githubOIDC, wantInput: "signing-key", wantMsg: "only with sign: key"},
		{name: "github without id-token permission", raw: Raw{"sign": "keyless"}, vars: githubNoID, wantInput: "sign", wantMsg: "`permissions: id-token: write`"},
		{name: "gitlab without id token", raw: Raw{"sign": "keyless"}, vars: gitlabCI, wantInput: "sign", wantMsg: "`id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`"},
		{name: "gitlab with other variable", raw: Raw{"sign": "keyless", "oidc-token-variable": "MY_TOKEN"}, vars: gitlabCI, wantInput: "sign", wantMsg: "`id_tokens: MY_TOKEN: aud: sigstore`"},
		{name: "elsewhere without token", raw: Raw{"sign": "keyless"}, wantInput: "sign", wantMsg: "in the variable SIGSTORE_ID_TOKEN"},
		{name: "bad variable name", raw: Raw{"sign": "keyless", "oidc-token-variable": "1-X"}, vars: githubOIDC, wantInput: "oidc-token-variable", wantMsg: "not a variable name"},
		{name: "plain http fulcio", raw: Raw{"sign": "keyless", "fulcio-url": "http://fulcio.example"}, vars: githubOIDC, wantInput: "fulcio-url", wantMsg: "list fulcio.example in insecure-registries"},
		{name: "ftp rekor", raw: Raw{"sign": "keyless", "rekor-url": "ftp://rekor.example"}, vars: githubOIDC, wantInput: "rekor-url", wantMsg: "not an https URL"},
		{name: "no host", raw: Raw{"sign": "keyless", "tsa-url": "https:///x"}, vars: githubOIDC, wantInput: "tsa-url", wantMsg: "not a URL"},
		{name: "credentials in URL", raw: Raw{"sign": "keyless", "rekor-url": "https://u:hunter2@rekor.example"}, vars: githubOIDC, wantInput: "rekor-url", wantMsg: "carries credentials"},
		{name: "query", raw: Raw{"sign": "keyless", "tsa-url": "https://tsa.example/api?x=1"}, vars: githubOIDC, wantInput: "tsa-url", wantMsg: "query or fragment"},
		{name: "sbom in join mode", raw: Raw{"sign": "keyless", "sbom": "true"}, vars: githubOIDC, wantInput: "sbom", wantMsg: "set base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(joinRaw(tt.raw), env(tt.vars))
			var ie *Error
			if !errors.As(err, &ie) || ie.Input != tt.wantInput || !strings.Contains(ie.Msg, tt.wantMsg) {
				t.Fatalf("Parse() error = %v, want input %s: ...%s...", err, tt.wantInput, tt.wantMsg)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, secret := range []string{"MIG", "hunter2", "AAAA", big} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q shows %q", msg, secret)
				}
			}
		})
	}
}

func TestParseSigningKey(t *testing.T) {
	t.Parallel()
	private, _ := testKeyPEM(t)
	path := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(path, []byte(private), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{private, "  " + path + "\n"} {
		s, err := Parse(joinRaw(Raw{"sign": "key", "signing-key": key, "sign-legacy-tags": "true", "provenance": "true", "sign-failures": "warn"}),
			env(map[string]string{"COSIGN_PASSWORD": "pw"}))
		if err != nil {
			t.Fatal(err)
		}
		g := s.Signing
		if g == nil {
			t.Fatal("Signing = nil, want key mode")
		}
		if g.Mode != SignKey || string(g.Key) != strings.TrimSpace(private) || string(g.Password) != "pw" {
			t.Errorf("Signing = mode %q, key %d bytes, password %q; want key, the PEM, pw", g.Mode, len(g.Key), g.Password)
		}
		if !g.LegacyTags || !g.Provenance || !g.WarnOnFailure || g.SBOM {
			t.Errorf("Signing flags = %+v, want legacy tags, provenance, warn", *g)
		}
		if g.FulcioURL != DefaultFulcioURL || g.RekorURL != DefaultRekorURL || g.TSAURL != "" || g.TokenVar != DefaultTokenVar {
			t.Errorf("Signing services = %q %q %q %q, want the defaults", g.FulcioURL, g.RekorURL, g.TSAURL, g.TokenVar)
		}
		secrets := g.Secrets()
		if !slices.Contains(secrets, strings.TrimSpace(private)) || !slices.Contains(secrets, "pw") || len(secrets) < 4 {
			t.Errorf("Secrets() = %d values, want the key, its lines and the password", len(secrets))
		}
	}
}

func TestParseSigningKeyless(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  Raw
		vars map[string]string
		want Signing
	}{
		{name: "github", raw: Raw{"sign": "keyless"}, vars: githubOIDC,
			want: Signing{Mode: SignKeyless, FulcioURL: DefaultFulcioURL, RekorURL: DefaultRekorURL, TokenVar: DefaultTokenVar}},
		{name: "github with a token of its own", raw: Raw{"sign": "keyless"}, vars: map[string]string{"GITHUB_ACTIONS": "true", "SIGSTORE_ID_TOKEN": "x"},
			want: Signing{Mode: SignKeyless, FulcioURL: DefaultFulcioURL, RekorURL: DefaultRekorURL, TokenVar: DefaultTokenVar}},
		{name: "gitlab", raw: Raw{"sign": "KeyLess", "oidc-token-variable": "MY_TOKEN", "provenance": "yes"}, vars: map[string]string{"GITLAB_CI": "true", "MY_TOKEN": "x"},
			want: Signing{Mode: SignKeyless, FulcioURL: DefaultFulcioURL, RekorURL: DefaultRekorURL, TokenVar: "MY_TOKEN", Provenance: true}},
		{name: "local services", vars: map[string]string{"SIGSTORE_ID_TOKEN": "x"},
			raw:  Raw{"sign": "keyless", "insecure-registries": "sigstore.test:8080,127.0.0.1:3000,[::1]:3004", "fulcio-url": "http://sigstore.test:8080/", "rekor-url": "http://127.0.0.1:3000", "tsa-url": "http://[::1]:3004/api/v1/timestamp"},
			want: Signing{Mode: SignKeyless, FulcioURL: "http://sigstore.test:8080", RekorURL: "http://127.0.0.1:3000", TSAURL: "http://[::1]:3004/api/v1/timestamp", TokenVar: DefaultTokenVar}},
		{name: "localhost listed", vars: map[string]string{"SIGSTORE_ID_TOKEN": "x"}, raw: Raw{"sign": "keyless", "insecure-registries": "localhost:5555", "fulcio-url": "http://localhost:5555"},
			want: Signing{Mode: SignKeyless, FulcioURL: "http://localhost:5555", RekorURL: DefaultRekorURL, TokenVar: DefaultTokenVar}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(joinRaw(tt.raw), env(tt.vars))
			if err != nil {
				t.Fatal(err)
			}
			if s.Signing == nil {
				t.Fatal("Signing = nil")
			}
			got := *s.Signing
			if got.Mode != tt.want.Mode || got.FulcioURL != tt.want.FulcioURL || got.RekorURL != tt.want.RekorURL || got.TSAURL != tt.want.TSAURL ||
				got.TokenVar != tt.want.TokenVar || got.Provenance != tt.want.Provenance || got.Key != nil || got.Password != nil {
				t.Errorf("Signing = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSigningOff(t *testing.T) {
	t.Parallel()
	for _, raw := range []Raw{{}, {"sign": "false", "fulcio-url": "http://ignored", "sign-failures": "fail", "provenance": "false", "sbom": "false"}} {
		s, err := Parse(joinRaw(raw), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if s.Signing != nil {
			t.Errorf("Signing = %+v, want nil without sign", *s.Signing)
		}
	}
}

func TestParseSBOMInLayerMode(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "a")
	if err := os.WriteFile(src, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := Raw{"base": "scratch", "platforms": "linux/amd64", "layers": "- files: ['" + src + ":/a']", "push": "false", "sign": "keyless", "sbom": "true"}
	s, err := Parse(raw, env(map[string]string{"SIGSTORE_ID_TOKEN": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Signing == nil || !s.Signing.SBOM {
		t.Errorf("Signing = %+v, want SBOM on", s.Signing)
	}
}

func TestSigningSecretsMasked(t *testing.T) {
	t.Parallel()
	private, _ := testKeyPEM(t)
	got := RawSecrets(Raw{"signing-key": "\n" + private})
	if !slices.Contains(got, strings.TrimSpace(private)) {
		t.Errorf("RawSecrets() lacks the PEM key")
	}
	body := strings.Split(strings.TrimSpace(private), "\n")[1]
	if !slices.Contains(got, body) {
		t.Errorf("RawSecrets() lacks the key's line %q", body)
	}
	if got := RawSecrets(Raw{"signing-key": "cosign.key"}); len(got) != 0 {
		t.Errorf("RawSecrets(path) = %q, want nothing: a path is not the key", got)
	}
	if (*Signing)(nil).Secrets() != nil {
		t.Errorf("nil Signing has secrets")
	}
}

func TestPublicInputs(t *testing.T) {
	t.Parallel()
	got := PublicInputs(Raw{"images": "a:1", "tags": " ", "github-token": "t", "registry-auth": "x", "signing-key": "k", "sign": "key", "dotenv": "f"})
	want := map[string]string{"images": "a:1", "sign": "key"}
	if len(got) != len(want) || got["images"] != "a:1" || got["sign"] != "key" {
		t.Errorf("PublicInputs() = %v, want %v", got, want)
	}
	for _, d := range Defs {
		if _, ok := got[d.Name]; ok && d.Secret {
			t.Errorf("PublicInputs() holds secret input %s", d.Name)
		}
	}
}

// TestRekorNone: rekor-url none records no log entry, in key mode.
func TestRekorNone(t *testing.T) {
	t.Parallel()
	private, _ := testKeyPEM(t)
	s, err := Parse(joinRaw(Raw{"sign": "key", "signing-key": private, "rekor-url": "none"}), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if s.Signing == nil || s.Signing.RekorURL != "" {
		t.Errorf("Signing = %+v, want no Rekor URL", s.Signing)
	}
}
