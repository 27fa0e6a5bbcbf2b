package sign

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	fulciocert "github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// renewBefore is how long before its expiry a Fulcio certificate is
// replaced. Fulcio issues certificates valid for 10 minutes; a signature's
// timestamp must fall inside that window, and it is taken right after the
// signature, so two minutes of margin leave room for a slow authority.
const renewBefore = 2 * time.Minute

// certificate is a Fulcio certificate for the Signer's ephemeral key.
type certificate struct {
	der      []byte
	notAfter time.Time
	san      string
	issuer   string
}

// certProvider gives sign.Bundle the Signer's certificate, asking Fulcio
// for one on first use and again when it is about to expire, so a run
// that signs many manifests asks for one token and one certificate.
type certProvider struct{ s *Signer }

var _ sign.CertificateProvider = certProvider{}

func (p certProvider) GetCertificate(ctx context.Context, _ sign.Keypair, _ *sign.CertificateProviderOptions) ([]byte, error) {
	c, err := p.s.certificate(ctx)
	if err != nil {
		return nil, err
	}
	return c.der, nil
}

// certificate returns a certificate valid for at least renewBefore.
func (s *Signer) certificate(ctx context.Context) (*certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cert != nil && s.now().Add(renewBefore).Before(s.cert.notAfter) {
		return s.cert, nil
	}
	token, err := s.opts.Token(ctx, s.tr)
	if err != nil {
		return nil, err
	}
	fulcio := &service{name: "Fulcio", url: s.opts.FulcioURL, rt: s.tr}
	f := sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcio.url, Transport: fulcio, Retries: 1})
	der, err := f.GetCertificate(ctx, s.keypair, &sign.CertificateProviderOptions{IDToken: token})
	if err != nil {
		if st := fulcio.refused(); st != "" {
			return nil, fmt.Errorf("keyless signing: no certificate from Fulcio at %s: it answered %s: %s", fulcio.url, st, oneLine(err.Error()))
		}
		return nil, fmt.Errorf("keyless signing: no certificate from Fulcio at %s: %s", fulcio.url, oneLine(err.Error()))
	}
	c, err := s.checkCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("keyless signing: certificate from Fulcio at %s: %w", s.opts.FulcioURL, err)
	}
	s.cert = c
	return c, nil
}

// checkCertificate reads what Fulcio answered: it must be a certificate
// for the Signer's own key, valid now, naming an identity and its issuer.
// Whether the CA is trusted is the verifier's business (its trusted root).
func (s *Signer) checkCertificate(der []byte) (*certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := cryptoutils.EqualKeys(cert.PublicKey, s.keypair.GetPublicKey()); err != nil {
		return nil, errors.New("it certifies another key than the one that asked")
	}
	now := s.now()
	if now.Before(cert.NotBefore.Add(-time.Minute)) || !now.Before(cert.NotAfter) {
		return nil, fmt.Errorf("valid %s to %s, not now", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	sum, err := fulciocert.SummarizeCertificate(cert)
	if err != nil {
		return nil, err
	}
	return &certificate{der: der, notAfter: cert.NotAfter, san: sum.SubjectAlternativeName, issuer: sum.Issuer}, nil
}

// TokenSource returns an OIDC identity token with audience "sigstore", the
// audience Fulcio accepts. rt carries any request it makes.
type TokenSource func(ctx context.Context, rt http.RoundTripper) (string, error)

// maxToken bounds a token and the token endpoint's answer.
const maxToken = 64 << 10

// GitHubToken asks GitHub Actions' OIDC provider for a token: a GET of
// ACTIONS_ID_TOKEN_REQUEST_URL with audience=sigstore, authorized by
// ACTIONS_ID_TOKEN_REQUEST_TOKEN, answered by {"value": "<JWT>"}
// (https://docs.github.com/en/actions/reference/security/oidc). The runner
// sets both variables only for jobs with `permissions: id-token: write`.
func GitHubToken(getenv func(string) string) TokenSource {
	return func(ctx context.Context, rt http.RoundTripper) (string, error) {
		reqURL, bearer := getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
		if reqURL == "" || bearer == "" {
			return "", fmt.Errorf("keyless signing: %w from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL unset); add `permissions: id-token: write` to the job", ErrNoToken)
		}
		u, err := url.Parse(reqURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return "", errors.New("keyless signing: ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL")
		}
		q := u.Query()
		q.Set("audience", "sigstore")
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "", fmt.Errorf("keyless signing: GitHub OIDC request: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Accept", "application/json")
		return githubTokenAnswer(rt, req)
	}
}

func githubTokenAnswer(rt http.RoundTripper, req *http.Request) (string, error) {
	resp, err := (&http.Client{Transport: rt, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("keyless signing: GitHub OIDC token request to %s failed: %s", req.URL.Host, oneLine(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxToken+1))
	if err != nil {
		return "", fmt.Errorf("keyless signing: reading GitHub OIDC token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("keyless signing: GitHub OIDC provider answered %s; check the job has `permissions: id-token: write`", resp.Status)
	}
	if len(body) > maxToken {
		return "", fmt.Errorf("keyless signing: GitHub OIDC answer is over %d bytes", maxToken)
	}
	var answer struct {
		Value string `json:"value"`
	}
	if err := decodeJSON(body, &answer); err != nil {
		return "", fmt.Errorf("keyless signing: GitHub OIDC answer is not {\"value\": token}: %w", err)
	}
	return checkToken(answer.Value, "GitHub OIDC answer")
}

// EnvToken reads a token from the variable name (default SIGSTORE_ID_TOKEN),
// as GitLab CI sets it for a job with
// `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`
// (https://docs.gitlab.com/ci/secrets/id_token_authentication/).
func EnvToken(name string, getenv func(string) string) TokenSource {
	if name == "" {
		name = "SIGSTORE_ID_TOKEN"
	}
	return func(context.Context, http.RoundTripper) (string, error) {
		tok := getenv(name)
		if tok == "" {
			return "", fmt.Errorf("keyless signing: %w in %s; add `id_tokens: %s: aud: sigstore` to the job", ErrNoToken, name, name)
		}
		return checkToken(tok, name)
	}
}

// checkToken refuses what cannot be a JWT before it is sent anywhere. The
// token itself is never part of an error.
func checkToken(tok, from string) (string, error) {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("keyless signing: %w in %s", ErrNoToken, from)
	}
	if len(tok) > maxToken || strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("keyless signing: %s is not a JWT", from)
	}
	return tok, nil
}

// limitTransport bounds every response body read through it: the Fulcio,
// timestamp authority and Rekor clients read whole bodies.
type limitTransport struct{ rt http.RoundTripper }

func (l limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxResponse}
	return resp, nil
}

// limitedBody fails a read past its limit, so an over-long answer is an
// error rather than silently cut short.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("response over %d bytes", maxResponse)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, fmt.Errorf("response over %d bytes", maxResponse)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// service carries one Sigstore service's requests and remembers the last
// error status it answered: the clients of sigstore-go and Rekor report a
// refusal in their own terms (a closed body, an undecodable model), and
// the status is what a user can act on.
type service struct {
	name, url string
	rt        http.RoundTripper
	mu        sync.Mutex
	status    string
}

func (v *service) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.rt.RoundTrip(req)
	if err == nil && resp.StatusCode >= 300 {
		v.mu.Lock()
		v.status = resp.Status
		v.mu.Unlock()
	}
	return resp, err
}

// refused returns the last error status answered, or "".
func (v *service) refused() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.status
}

// serviceError names the service that refused, when one did.
func serviceError(err error, services ...*service) error {
	for _, v := range services {
		if st := v.refused(); st != "" {
			return fmt.Errorf("%s at %s answered %s; check the URL, or try again if it is down", v.name, v.url, st)
		}
	}
	return err
}

// checkURL accepts an empty URL (service not used) or an http(s) one.
func checkURL(what, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("signing: %s URL %q is not an http(s) URL", what, raw)
	}
	return nil
}

// oneLine keeps a service's error message to one bounded line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// decodeJSON decodes exactly one JSON value.
func decodeJSON(b []byte, v any) error {
	return jsonDecodeOne(bytes.NewReader(b), v)
}
