// Package registrytest starts real distribution registries on loopback for
// tests: the 2.8 registry Debian ships as docker-registry, which refuses tag
// DELETE, and distribution v3, which accepts it. Each registry gets its own
// storage directory and a free port and is stopped when the test ends.
//
// Binaries are found through OCI_ASSEMBLE_REGISTRY_V2 / OCI_ASSEMBLE_REGISTRY_V3,
// then PATH (docker-registry, registry), then GOPATH/bin. When a binary is
// missing the test is skipped locally and fails under CI (CI set), so a
// missing install step cannot pass for a green run.
package registrytest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Version selects which distribution registry to run.
type Version int

const (
	// V2 is distribution 2.8 (Debian's docker-registry); it refuses tag DELETE.
	V2 Version = iota
	// V3 is distribution v3; it accepts tag DELETE.
	V3
)

func (v Version) String() string {
	if v == V3 {
		return "distribution-v3"
	}
	return "distribution-2.8"
}

// Registry is a running registry.
type Registry struct {
	// Host is host:port on loopback, as used in references.
	Host string
	// Dir is the registry's storage root.
	Dir string
	// Version is the registry flavour.
	Version Version
	// TLS is set when the registry serves HTTPS; CAFile then holds the CA
	// certificate (PEM) that signed its certificate.
	TLS    *TLSConfig
	CAFile string

	client         *http.Client
	user, password string
	// instance is the value of the instanceHeader this registry answers with.
	instance string
}

// instanceHeader is the header each registry the harness starts sets on
// every answer (distribution's http.headers), naming its instance.
const instanceHeader = "X-Registrytest-Instance"

// TLSConfig holds a server certificate and key (PEM files) and the CA that
// signed them.
type TLSConfig struct {
	CertFile, KeyFile, CAFile string
}

type options struct {
	version  Version
	tls      *TLSConfig
	extraCfg string
}

// Option configures Start.
type Option func(*options)

// WithVersion selects the registry flavour. Default V2.
func WithVersion(v Version) Option { return func(o *options) { o.version = v } }

// WithTLS serves HTTPS with the given certificate. Default plain HTTP.
func WithTLS(c *TLSConfig) Option { return func(o *options) { o.tls = c } }

// WithConfig appends top-level YAML (for example an auth: section) to the
// registry's configuration. Default none.
func WithConfig(yaml string) Option { return func(o *options) { o.extraCfg = yaml } }

// Binary returns the registry binary for v, skipping or failing the test
// when it is not installed.
func Binary(t testing.TB, v Version) string {
	t.Helper()
	env, name := "OCI_ASSEMBLE_REGISTRY_V2", "docker-registry"
	if v == V3 {
		env, name = "OCI_ASSEMBLE_REGISTRY_V3", "registry"
	}
	if p := findBinary(env, name); p != "" {
		return p
	}
	MissingTool(t, fmt.Sprintf("%s not installed (set %s or put %s on PATH; .ci/run installs it)", v, env, name))
	return ""
}

// Start runs a registry until the test ends.
func Start(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin := Binary(t, o.version)
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		t.Fatal(err)
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		host := fmt.Sprintf("127.0.0.1:%d", port)
		// The port was free a moment ago; another process may take it
		// before the registry binds it. The registry names itself in every
		// answer, so readiness is this registry's, not whatever listens.
		instance := fmt.Sprintf("%d-%d-%d", os.Getpid(), port, time.Now().UnixNano())
		cfg := config(storage, host, instance, o)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		r := &Registry{Host: host, Dir: storage, Version: o.version, TLS: o.tls, instance: instance}
		if o.tls != nil {
			r.CAFile = o.tls.CAFile
		}
		r.client, err = r.newClient()
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "serve", cfgPath)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("starting %s: %v", o.version, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if err := r.waitReady(exited); err != nil {
			cancel()
			<-exited
			lastErr = fmt.Errorf("%w\n%s", err, logs.String())
			continue
		}
		t.Cleanup(func() {
			cancel()
			<-exited
			if t.Failed() {
				t.Logf("%s log:\n%s", o.version, tail(logs.String(), 4000))
			}
		})
		return r
	}
	t.Fatalf("starting %s: %v", o.version, lastErr)
	return nil
}

// URL returns the base URL of the registry (http or https).
func (r *Registry) URL() string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// Client returns an HTTP client that trusts the registry's CA, for reading
// it back independently of the code under test.
func (r *Registry) Client() *http.Client { return r.client }

func (r *Registry) newClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if r.TLS != nil {
		pem, err := os.ReadFile(r.TLS.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", r.TLS.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

func (r *Registry) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("registry exited before it was ready")
		default:
		}
		resp, err := r.client.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			// 200, or 401 when auth is configured: either way it serves;
			// from another instance, the port was taken from under it.
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				if got := resp.Header.Get(instanceHeader); got != r.instance {
					return fmt.Errorf("%s answers as %q, not this registry: its port was taken", r.Host, got)
				}
				return nil
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	return fmt.Errorf("registry on %s not ready after 15s", r.Host)
}

func config(storage, host, instance string, o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n")
	fmt.Fprintf(&b, "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n", storage)
	fmt.Fprintf(&b, "http:\n  addr: %s\n  secret: registrytest\n  headers:\n    %s: [%q]\n", host, instanceHeader, instance)
	if o.tls != nil {
		fmt.Fprintf(&b, "  tls:\n    certificate: %s\n    key: %s\n", o.tls.CertFile, o.tls.KeyFile)
	}
	if o.extraCfg != "" {
		b.WriteString(o.extraCfg)
		if !strings.HasSuffix(o.extraCfg, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// findBinary is the tool name: the path in the variable env, else on
// PATH, else in GOPATH/bin, where go install puts it; "" when none.
func findBinary(env, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}
