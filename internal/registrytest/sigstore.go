package registrytest

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// Sigstore stand-ins: a Fulcio with an ephemeral CA and a timestamp
// authority with an in-memory signer, run from the binaries .ci/run
// installs (fulcio v1.8.8, timestamp-server v1.2.9), and the cosign
// binaries that verify what the code under test signs.
//
// Binaries are found through OCI_ASSEMBLE_<NAME> (COSIGN, COSIGN2, FULCIO,
// TIMESTAMP_SERVER), then PATH, then GOPATH/bin; cosign2 is cosign v2.

// Fulcio is a running Fulcio.
type Fulcio struct {
	// URL is its base URL, for Fulcio clients.
	URL string
	// Chain is its CA chain, root last.
	Chain []*x509.Certificate
}

// StartFulcio runs Fulcio until the test ends, trusting tokens of issuer
// for email identities (Type email, ClientID sigstore), with no CT log.
func StartFulcio(t testing.TB, issuer *OIDCIssuer) *Fulcio {
	t.Helper()
	bin := SigstoreBinary(t, "fulcio")
	dir := t.TempDir()
	cfg, err := json.Marshal(map[string]any{"OIDCIssuers": map[string]any{
		issuer.URL: map[string]string{"IssuerURL": issuer.URL, "ClientID": "sigstore", "Type": "email"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	var base string
	startService(t, "fulcio", func() ([]string, string, error) {
		ports, err := freePorts(3)
		if err != nil {
			return nil, "", err
		}
		base = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		return []string{"serve", "--ca", "ephemeralca", "--ct-log-url", "", "--config-path", cfgPath,
			"--host", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
			"--grpc-host", "127.0.0.1", "--grpc-port", fmt.Sprint(ports[1]),
			"--metrics-port", fmt.Sprint(ports[2]),
			"--legacy-unix-domain-socket", filepath.Join(dir, "legacy.sock"),
			"--log_type", "prod",
		}, base + "/api/v2/trustBundle", nil
	}, bin)
	body := getOK(t, base+"/api/v2/trustBundle")
	var tb struct {
		Chains []struct {
			Certificates []string `json:"certificates"`
		} `json:"chains"`
	}
	if err := json.Unmarshal(body, &tb); err != nil || len(tb.Chains) == 0 {
		t.Fatalf("fulcio trust bundle %q: %v", body, err)
	}
	chain := parsePEMCerts(t, []byte(strings.Join(tb.Chains[0].Certificates, "\n")))
	return &Fulcio{URL: base, Chain: chain}
}

// TSA is a running timestamp authority.
type TSA struct {
	// URL is its timestamp endpoint (…/api/v1/timestamp).
	URL string
	// Chain is its certificate chain, leaf first.
	Chain []*x509.Certificate
}

// tsaMu lets one timestamp-server run at a time in this test binary: it
// always serves metrics on :2112 and exits when that port is taken.
var tsaMu sync.Mutex

// StartTSA runs a timestamp authority until the test ends. Only one runs
// at a time per test binary (timestamp-server binds metrics to :2112); a
// second caller waits for the first test to end.
func StartTSA(t testing.TB) *TSA {
	t.Helper()
	bin := SigstoreBinary(t, "timestamp-server")
	tsaMu.Lock()
	t.Cleanup(tsaMu.Unlock)
	var base string
	startService(t, "timestamp-server", func() ([]string, string, error) {
		ports, err := freePorts(1)
		if err != nil {
			return nil, "", err
		}
		base = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		return []string{"serve", "--host", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
			"--timestamp-signer", "memory", "--disable-ntp-monitoring", "--log-type", "prod",
		}, base + "/api/v1/timestamp/certchain", nil
	}, bin)
	chain := parsePEMCerts(t, getOK(t, base+"/api/v1/timestamp/certchain"))
	return &TSA{URL: base + "/api/v1/timestamp", Chain: chain}
}

// TrustedRoot writes a Sigstore trusted root (the JSON cosign's
// --trusted-root reads) naming f's CA and tsa's chain, either of which may
// be nil, and returns its path. With both nil it is the empty root cosign
// needs to verify key-signed bundles.
func TrustedRoot(t testing.TB, f *Fulcio, tsa *TSA) string {
	t.Helper()
	start := time.Now().Add(-time.Hour)
	var cas []root.CertificateAuthority
	if f != nil {
		last := len(f.Chain) - 1
		cas = append(cas, &root.FulcioCertificateAuthority{
			Root: f.Chain[last], Intermediates: f.Chain[:last], ValidityPeriodStart: start, URI: f.URL,
		})
	}
	var tsas []root.TimestampingAuthority
	if tsa != nil {
		last := len(tsa.Chain) - 1
		ta := &root.SigstoreTimestampingAuthority{Root: tsa.Chain[last], ValidityPeriodStart: start, URI: tsa.URL}
		if last > 0 {
			ta.Leaf = tsa.Chain[0]
			ta.Intermediates = tsa.Chain[1:last]
		}
		tsas = append(tsas, ta)
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, nil, tsas, nil)
	if err != nil {
		t.Fatal(err)
	}
	js, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, js, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startService runs bin with the arguments args gives (fresh ports each
// try) until readyURL answers 200 and the process is still up a moment
// later, trying again on other ports when it exits early.
func startService(t testing.TB, what string, args func() ([]string, string, error), bin string) {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		argv, readyURL, err := args()
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, argv...)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("starting %s: %v", what, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if err := waitHTTP(readyURL, exited); err != nil {
			cancel()
			<-exited
			lastErr = fmt.Errorf("%w\n%s", err, tail(logs.String(), 4000))
			time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
			continue
		}
		t.Cleanup(func() {
			cancel()
			<-exited
			if t.Failed() {
				t.Logf("%s log:\n%s", what, tail(logs.String(), 4000))
			}
		})
		return
	}
	t.Fatalf("starting %s: %v", what, lastErr)
}

func waitHTTP(u string, exited <-chan struct{}) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("exited before it was ready")
		default:
		}
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				select {
				case <-exited:
					return fmt.Errorf("exited right after it was ready")
				case <-time.After(300 * time.Millisecond):
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after 30s", u)
}

func getOK(t testing.TB, u string) []byte {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", u, resp.Status, err)
	}
	return body
}

func parsePEMCerts(t testing.TB, b []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		t.Fatal("no certificate in PEM")
	}
	return certs
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for len(ports) < n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		dup := false
		for _, q := range ports {
			dup = dup || q == p
		}
		if !dup {
			ports = append(ports, p)
		}
	}
	return ports, nil
}
