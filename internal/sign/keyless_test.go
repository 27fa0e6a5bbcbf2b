package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// fakeFulcio answers Fulcio's v2 signingCert API with certificates from
// a test CA, for the key in the request or, when otherKey, for another.
type fakeFulcio struct {
	*httptest.Server
	calls    atomic.Int32
	otherKey bool
}

func newFakeFulcio(t *testing.T, otherKey bool) *fakeFulcio {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFulcio{otherKey: otherKey}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		var req struct {
			PublicKeyRequest struct {
				PublicKey struct {
					Content string `json:"content"`
				} `json:"publicKey"`
			} `json:"publicKeyRequest"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(req.PublicKeyRequest.PublicKey.Content))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if f.otherKey {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			pub = &k.PublicKey
		}
		leaf := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
			NotBefore: time.Now().Add(-time.Second), NotAfter: time.Now().Add(10 * time.Minute),
			EmailAddresses: []string{"builder@example.com"}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
		der, err := x509.CreateCertificate(rand.Reader, leaf, ca, pub, caKey)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		chain := []string{
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{"certificates": chain}}})
	}))
	t.Cleanup(f.Close)
	return f
}

// token is JWT-shaped with a subject, which is all the Fulcio client
// reads before sending it.
const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJidWlsZGVyQGV4YW1wbGUuY29tIiwiZW1haWwiOiJidWlsZGVyQGV4YW1wbGUuY29tIiwiZW1haWxfdmVyaWZpZWQiOnRydWV9.c2ln"

func keylessSigner(t *testing.T, fulcioURL string, tokens *atomic.Int32) *Signer {
	t.Helper()
	s, err := New(context.Background(), Options{Mode: ModeKeyless, FulcioURL: fulcioURL,
		Token: func(context.Context, http.RoundTripper) (string, error) { tokens.Add(1); return token, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var subject = v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 1,
	Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}}

func TestCertificateReusedThenRenewed(t *testing.T) {
	t.Parallel()
	f := newFakeFulcio(t, false)
	var tokens atomic.Int32
	s := keylessSigner(t, f.URL, &tokens)
	for range 3 {
		if _, err := s.SignImage(context.Background(), subject); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := f.calls.Load(), int32(1); got != want {
		t.Errorf("Fulcio asked %d times for 3 signatures, want %d", got, want)
	}
	if got := s.Identity().SAN; got != "builder@example.com" {
		t.Errorf("Identity().SAN = %q, want builder@example.com", got)
	}
	// Nine minutes on, the certificate has less than renewBefore left.
	s.now = func() time.Time { return time.Now().Add(9 * time.Minute) }
	if _, err := s.SignImage(context.Background(), subject); err != nil {
		t.Fatal(err)
	}
	if got, want := f.calls.Load(), int32(2); got != want {
		t.Errorf("Fulcio asked %d times after expiry neared, want %d", got, want)
	}
	if got, want := tokens.Load(), int32(2); got != want {
		t.Errorf("token asked %d times, want %d", got, want)
	}
}

func TestCertificateForAnotherKeyRefused(t *testing.T) {
	t.Parallel()
	f := newFakeFulcio(t, true)
	var tokens atomic.Int32
	s := keylessSigner(t, f.URL, &tokens)
	_, err := s.SignImage(context.Background(), subject)
	if err == nil || !strings.Contains(err.Error(), "certifies another key") {
		t.Errorf("SignImage() = %v, want the certificate for another key refused", err)
	}
}

// countingTransport records the hosts of the requests it carries.
type countingTransport struct {
	hosts sync.Map // host -> *atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n, _ := c.hosts.LoadOrStore(r.URL.Host, new(atomic.Int32))
	n.(*atomic.Int32).Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count(rawURL string) int32 {
	u, _ := url.Parse(rawURL)
	n, ok := c.hosts.Load(u.Host)
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

func TestTransportCarriesEveryCall(t *testing.T) {
	t.Parallel()
	f := newFakeFulcio(t, false)
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	t.Cleanup(refuse.Close)
	tsaURL := refuse.URL + "/api/v1/timestamp"
	rekorURL := strings.Replace(refuse.URL, "127.0.0.1", "localhost", 1)
	tr := &countingTransport{}
	s, err := New(context.Background(), Options{Mode: ModeKeyless, FulcioURL: f.URL, TSAURL: tsaURL, RekorURL: rekorURL, Transport: tr,
		Token: func(context.Context, http.RoundTripper) (string, error) { return token, nil }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.SignImage(context.Background(), subject)
	if err == nil {
		t.Fatal("SignImage() with a refusing timestamp authority succeeded")
	}
	if want := "timestamp authority at " + tsaURL + " answered 503"; !strings.Contains(err.Error(), want) {
		t.Errorf("SignImage() = %v, want it to say %q", err, want)
	}
	if tr.count(f.URL) == 0 || tr.count(tsaURL) == 0 {
		t.Errorf("transport carried %d Fulcio and %d timestamp requests, want both", tr.count(f.URL), tr.count(tsaURL))
	}
	s.opts.TSAURL = ""
	_, err = s.SignImage(context.Background(), subject)
	if err == nil {
		t.Fatal("SignImage() with a refusing Rekor succeeded")
	}
	if want := "Rekor at " + rekorURL + " answered 503"; !strings.Contains(err.Error(), want) {
		t.Errorf("SignImage() = %v, want it to say %q", err, want)
	}
	if tr.count(rekorURL) == 0 {
		t.Error("transport carried no Rekor request")
	}
}

func TestNoTokenIsErrNoToken(t *testing.T) {
	t.Parallel()
	f := newFakeFulcio(t, false)
	s, err := New(context.Background(), Options{Mode: ModeKeyless, FulcioURL: f.URL, Token: GitHubToken(func(string) string { return "" })})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.SignImage(context.Background(), subject)
	if !errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), "`permissions: id-token: write`") {
		t.Errorf("SignImage() = %v, want ErrNoToken naming the permission", err)
	}
	if f.calls.Load() != 0 {
		t.Error("Fulcio was asked without a token")
	}
}

func TestConcurrentSignaturesShareOneCertificate(t *testing.T) {
	t.Parallel()
	f := newFakeFulcio(t, false)
	var tokens atomic.Int32
	s := keylessSigner(t, f.URL, &tokens)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.SignImage(context.Background(), subject) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("SignImage() #%d = %v", i, err)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("Fulcio asked %d times for 8 concurrent signatures, want 1", got)
	}
}
