// Package sign signs what the step publishes, in the formats cosign writes
// and verifies by default: each image index and platform manifest gets a
// Sigstore bundle holding a DSSE-signed in-toto statement of predicate type
// https://sigstore.dev/cosign/sign/v1, and in-toto statements built elsewhere
// (SLSA provenance, SPDX SBOMs) get a bundle of their own. Referrer turns a
// bundle into the OCI 1.1 referrer manifest cosign attaches to its subject.
//
// Signing uses Sigstore's libraries (sigstore-go's sign package for bundles,
// DSSE and the Fulcio, timestamp authority and Rekor clients; sigstore's
// signature package for keys); this package only chooses their inputs and
// checks what comes back.
//
// Bundle format: https://github.com/sigstore/protobuf-specs (v0.3 bundles).
package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/sign"
)

// Public-good Sigstore instances, the defaults for keyless signing.
const (
	DefaultFulcioURL = "https://fulcio.sigstore.dev"
	DefaultRekorURL  = "https://rekor.sigstore.dev"
	DefaultTSAURL    = "https://timestamp.sigstore.dev/api/v1/timestamp"
)

// EmptyTrustedRoot is the trusted root cosign 3 and cosign 2 need, with
// --insecure-ignore-tlog, to verify key-signed bundles: `cosign verify
// --key cosign.pub --trusted-root empty.json --insecure-ignore-tlog IMAGE`
// (https://github.com/sigstore/protobuf-specs, TrustedRoot).
const EmptyTrustedRoot = `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`

// Signing modes.
const (
	ModeKey     = "key"
	ModeKeyless = "keyless"
)

// maxResponse bounds every body read from Fulcio, the timestamp authority,
// Rekor and the OIDC token endpoint. Their answers are a few KiB: a
// certificate chain, an RFC 3161 response, a log entry, a JWT.
const maxResponse = 4 << 20

// ErrNoToken is returned (wrapped) when keyless signing has no OIDC token.
var ErrNoToken = errors.New("no OIDC identity token")

// Options configures New.
type Options struct {
	// Mode is ModeKey or ModeKeyless.
	Mode string
	// Key is the private key in key mode: a cosign encrypted key (PEM
	// "ENCRYPTED SIGSTORE PRIVATE KEY" or "ENCRYPTED COSIGN PRIVATE KEY"),
	// or an unencrypted PKCS#8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY")
	// or PKCS#1 ("RSA PRIVATE KEY") PEM block.
	Key []byte
	// Password decrypts a cosign encrypted key, as cosign reads it from
	// COSIGN_PASSWORD.
	Password []byte
	// Token supplies the OIDC identity token Fulcio exchanges for a
	// certificate in keyless mode.
	Token TokenSource
	// FulcioURL is the certificate authority in keyless mode. Default
	// DefaultFulcioURL.
	FulcioURL string
	// RekorURL is the transparency log (Rekor API v1) each signature is
	// recorded in; empty records none.
	RekorURL string
	// TSAURL is the RFC 3161 timestamp authority (full endpoint URL) each
	// signature is timestamped by; empty asks none.
	TSAURL string
	// Transport carries every Fulcio, Rekor, timestamp authority and OIDC
	// request. Default http.DefaultTransport.
	Transport http.RoundTripper
}

// Signer signs image manifests and in-toto statements. It is safe for
// concurrent use.
type Signer struct {
	keypair sign.Keypair
	opts    Options
	tr      http.RoundTripper

	// keyless: the Fulcio certificate, obtained on first use and renewed
	// when it is about to expire.
	mu   sync.Mutex
	cert *certificate
	now  func() time.Time
}

// New validates o and prepares a Signer. In key mode it loads and decrypts
// the key; in keyless mode it makes an ephemeral key and asks for the token
// and certificate on the first signature.
func New(ctx context.Context, o Options) (*Signer, error) {
	tr := o.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	s := &Signer{opts: o, tr: limitTransport{tr}, now: time.Now}
	switch o.Mode {
	case ModeKey:
		if o.Token != nil {
			return nil, errors.New("signing: key mode takes no OIDC token; use keyless mode for certificate-based signing")
		}
		kp, err := loadKey(o.Key, o.Password)
		if err != nil {
			return nil, err
		}
		s.keypair = kp
	case ModeKeyless:
		if len(o.Key) > 0 {
			return nil, errors.New("signing: keyless mode takes no key; use key mode to sign with a key")
		}
		if o.Token == nil {
			return nil, fmt.Errorf("signing: keyless mode: %w source configured", ErrNoToken)
		}
		if s.opts.FulcioURL == "" {
			s.opts.FulcioURL = DefaultFulcioURL
		}
		kp, err := sign.NewEphemeralKeypair(nil)
		if err != nil {
			return nil, fmt.Errorf("signing: making an ephemeral key: %w", err)
		}
		s.keypair = kp
	default:
		return nil, fmt.Errorf("signing: unknown mode %q; use %q or %q", o.Mode, ModeKey, ModeKeyless)
	}
	for _, u := range []struct{ name, url string }{{"Fulcio", s.opts.FulcioURL}, {"Rekor", o.RekorURL}, {"timestamp authority", o.TSAURL}} {
		if err := checkURL(u.name, u.url); err != nil {
			return nil, err
		}
	}
	return s, nil
}
