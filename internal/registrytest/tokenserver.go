package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TokenServer is a token server for distribution's "auth: token" mode
// (https://distribution.github.io/distribution/spec/auth/token/ and
// .../spec/auth/oauth/). It checks one user's Basic credentials (GET) or an
// OAuth2 password or refresh-token grant (POST), grants every action asked
// for to that user and none to anyone else (pull to anonymous clients with
// WithAnonymousPull), and records each request's scopes. Tokens are ES256 JWTs whose x5c header carries a self-signed
// certificate that is also the registry's rootcertbundle, which distribution
// 2.8 and v3 both verify.
type TokenServer struct {
	// URL is the realm the registry sends clients to, on localhost.
	URL string
	// Service and Issuer are the registry's token service and issuer names.
	Service, Issuer string
	// CertFile is the rootcertbundle (PEM) the registry trusts.
	CertFile string

	user, password, refreshToken string
	anonymousPull                bool
	key                          *ecdsa.PrivateKey
	x5c                          string

	mu       sync.Mutex
	requests []TokenRequest
}

// TokenRequest is one request the token server answered.
type TokenRequest struct {
	// Method is GET (Basic credentials) or POST (OAuth2 form).
	Method string
	// Grant is the OAuth2 grant_type of a POST, "" for GET.
	Grant string
	// Account is the user whose credential was accepted; "" for anonymous.
	Account string
	// Scopes are the scope values asked for, e.g. "repository:a/b:push,pull".
	Scopes []string
	// Status is the HTTP status of the answer.
	Status int
}

// TokenOption configures NewTokenServer.
type TokenOption func(*TokenServer)

// WithRefreshToken makes the server accept an OAuth2 refresh_token grant with
// tok for the user, as an identity token from docker login would be used.
// Default: refresh tokens are refused.
func WithRefreshToken(tok string) TokenOption {
	return func(s *TokenServer) { s.refreshToken = tok }
}

// WithAnonymousPull grants anonymous clients the pull action of every
// repository they ask for, as public registries (Docker Hub, ghcr.io,
// quay.io) do for public images. Default: anonymous tokens grant nothing.
func WithAnonymousPull() TokenOption {
	return func(s *TokenServer) { s.anonymousPull = true }
}

// NewTokenServer starts a token server on loopback that accepts user and
// password; it stops when the test ends.
func NewTokenServer(t testing.TB, user, password string, opts ...TokenOption) *TokenServer {
	t.Helper()
	s := &TokenServer{Service: "registrytest", Issuer: "registrytest-issuer", user: user, password: password}
	for _, o := range opts {
		o(s)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "registrytest token signer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s.key, s.x5c = key, base64.StdEncoding.EncodeToString(der)
	s.CertFile = filepath.Join(t.TempDir(), "token-root.pem")
	writePEM(t, s.CertFile, "CERTIFICATE", der)

	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	// The realm names the server as localhost, not 127.0.0.1: ggcr refuses a
	// realm that is a private or loopback IP literal on another port than
	// the registry (an SSRF guard), but not a host name.
	s.URL = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/token"
	return s
}

// Config returns the registry configuration that sends clients to s, for
// WithConfig.
func (s *TokenServer) Config() string {
	return fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
		s.URL, s.Service, s.Issuer, s.CertFile)
}

// Requests returns the requests answered so far.
func (s *TokenServer) Requests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TokenRequest(nil), s.requests...)
}

// Scopes returns every scope asked for so far, in order, with repeats.
func (s *TokenServer) Scopes() []string {
	var all []string
	for _, r := range s.Requests() {
		all = append(all, r.Scopes...)
	}
	return all
}

func (s *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	req := TokenRequest{Method: r.Method}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
	}()
	if err := r.ParseForm(); err != nil {
		req.Status = http.StatusBadRequest
		http.Error(w, "bad form", req.Status)
		return
	}
	for _, v := range r.Form["scope"] {
		req.Scopes = append(req.Scopes, strings.Fields(v)...)
	}
	switch r.Method {
	case http.MethodGet:
		if u, p, ok := r.BasicAuth(); ok {
			if u != s.user || p != s.password {
				req.Status = http.StatusUnauthorized
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, req.Status)
				return
			}
			req.Account = u
		}
	case http.MethodPost:
		req.Grant = r.PostForm.Get("grant_type")
		switch {
		case req.Grant == "refresh_token" && s.refreshToken != "" && r.PostForm.Get("refresh_token") == s.refreshToken:
			req.Account = s.user
		case req.Grant == "password" && r.PostForm.Get("username") == s.user && r.PostForm.Get("password") == s.password:
			req.Account = s.user
		default:
			req.Status = http.StatusUnauthorized
			http.Error(w, `{"error":"invalid_grant"}`, req.Status)
			return
		}
	default:
		req.Status = http.StatusMethodNotAllowed
		http.Error(w, "method not allowed", req.Status)
		return
	}
	tok, err := s.sign(r.Form.Get("service"), req.Account, req.Scopes)
	if err != nil {
		req.Status = http.StatusInternalServerError
		http.Error(w, err.Error(), req.Status)
		return
	}
	req.Status = http.StatusOK
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token": tok, "access_token": tok, "expires_in": 300,
		"issued_at": time.Now().UTC().Format(time.RFC3339),
	})
}

type resourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// sign issues a JWT granting account every action of scopes; anonymous
// gets a token with no access, as public token servers give for private
// repositories, or with pull only under WithAnonymousPull.
func (s *TokenServer) sign(service, account string, scopes []string) (string, error) {
	access := []resourceActions{}
	for _, sc := range scopes {
		typ, rest, ok := strings.Cut(sc, ":")
		i := strings.LastIndex(rest, ":")
		if !ok || i < 0 {
			continue
		}
		actions := strings.Split(rest[i+1:], ",")
		if account == "" {
			if !s.anonymousPull || typ != "repository" || !slices.Contains(actions, "pull") {
				continue
			}
			actions = []string{"pull"}
		}
		access = append(access, resourceActions{Type: typ, Name: rest[:i], Actions: actions})
	}
	jti := make([]byte, 8)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	now := time.Now()
	header, err := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{s.x5c}})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{
		"iss": s.Issuer, "sub": account, "aud": service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": hex.EncodeToString(jti), "access": access,
	})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signed))
	r, sig, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", err
	}
	// JWS ES256 signatures are R and S as 32-byte big-endian integers.
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	sig.FillBytes(raw[32:])
	return signed + "." + enc.EncodeToString(raw), nil
}
