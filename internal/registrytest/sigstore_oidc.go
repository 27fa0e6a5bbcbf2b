package registrytest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// OIDCIssuer is an OpenID Connect issuer the test owns, for a local
// Fulcio to trust: it serves discovery
// (https://openid.net/specs/openid-connect-discovery-1_0.html) and its
// signing key, and mints ID tokens with audience "sigstore".
type OIDCIssuer struct {
	// URL is the issuer URL, as tokens name it in iss.
	URL    string
	signer jose.Signer
}

// StartOIDCIssuer serves an issuer on loopback until the test ends.
func StartOIDCIssuer(t testing.TB) *OIDCIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const kid = "registrytest"
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	o := &OIDCIssuer{signer: signer}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                o.URL,
			"jwks_uri":                              o.URL + "/jwks",
			"authorization_endpoint":                o.URL + "/auth",
			"token_endpoint":                        o.URL + "/token",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, jwks) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

// Token mints an ID token for email (subject and verified email), with
// audience "sigstore", valid for ten minutes.
func (o *OIDCIssuer) Token(t testing.TB, email string) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss":            o.URL,
		"sub":            email,
		"aud":            "sigstore",
		"iat":            now.Unix(),
		"nbf":            now.Add(-time.Minute).Unix(),
		"exp":            now.Add(10 * time.Minute).Unix(),
		"email":          email,
		"email_verified": true,
	}
	tok, err := jwt.Signed(o.signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
