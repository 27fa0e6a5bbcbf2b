package sign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	"github.com/google/go-containerregistry/pkg/v1"
	intotov1 "github.com/in-toto/attestation/go/v1"
	rekorclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Formats the bundles follow.
const (
	// BundleMediaType is the media type of the bundles Signer makes, and
	// the artifactType of their referrers
	// (https://github.com/sigstore/protobuf-specs, bundle v0.3).
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// CosignSignPredicateType is the predicate type of cosign 3's image
	// signatures: an in-toto statement naming the manifest digest, with an
	// empty predicate.
	CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// InTotoPayloadType is the DSSE payload type of in-toto statements
	// (https://github.com/in-toto/attestation/blob/main/spec/v1/envelope.md).
	InTotoPayloadType = "application/vnd.in-toto+json"
	// StatementTypeV1 is the in-toto statement type Attest accepts.
	StatementTypeV1 = "https://in-toto.io/Statement/v1"
)

// maxStatement bounds a statement Attest signs; an SPDX SBOM of a large
// image is a few MiB.
const maxStatement = 64 << 20

// Bundle is a Sigstore bundle (protobuf-specs JSON) holding one DSSE
// envelope.
type Bundle struct {
	// JSON is the bundle, as cosign stores it in a referrer layer.
	JSON []byte
	// PredicateType is the predicate type of the signed statement.
	PredicateType string
	// Signed is when it was signed; Referrer uses it as the creation time.
	Signed time.Time
}

// Identity says who signs, for a summary.
type Identity struct {
	// PublicKeyPEM is the public key in key mode.
	PublicKeyPEM string
	// KeyHint is the bundle's key hint in key mode: base64 of the SHA-256
	// of the DER public key.
	KeyHint string
	// SAN and Issuer are the certificate's identity and OIDC issuer in
	// keyless mode, known once the first signature is made.
	SAN, Issuer string
}

// Identity returns who signs.
func (s *Signer) Identity() Identity {
	if s.opts.Mode == ModeKey {
		pemKey, _ := s.keypair.GetPublicKeyPem()
		return Identity{PublicKeyPEM: pemKey, KeyHint: string(s.keypair.GetHint())}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cert == nil {
		return Identity{}
	}
	return Identity{SAN: s.cert.san, Issuer: s.cert.issuer}
}

// SignImage signs the manifest or index subject as `cosign sign` does with
// its bundle format: an in-toto statement whose one subject is the digest,
// with predicate type CosignSignPredicateType and an empty predicate.
func (s *Signer) SignImage(ctx context.Context, subject v1.Descriptor) (*Bundle, error) {
	if subject.Digest.Algorithm == "" || subject.Digest.Hex == "" {
		return nil, errors.New("signing: subject has no digest")
	}
	st := &intotov1.Statement{
		Type: intotov1.StatementTypeUri,
		Subject: []*intotov1.ResourceDescriptor{{
			Digest:      map[string]string{subject.Digest.Algorithm: subject.Digest.Hex},
			Annotations: &structpb.Struct{Fields: map[string]*structpb.Value{}},
		}},
		PredicateType: CosignSignPredicateType,
		Predicate:     &structpb.Struct{},
	}
	payload, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", subject.Digest, err)
	}
	b, err := s.sign(ctx, payload, CosignSignPredicateType)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", subject.Digest, err)
	}
	return b, nil
}

// Attest signs an in-toto v1 statement (SLSA provenance, an SPDX SBOM...)
// into a bundle, as `cosign attest` does.
func (s *Signer) Attest(ctx context.Context, statement []byte) (*Bundle, error) {
	pt, err := checkStatement(statement)
	if err != nil {
		return nil, fmt.Errorf("attesting: %w", err)
	}
	b, err := s.sign(ctx, statement, pt)
	if err != nil {
		return nil, fmt.Errorf("attesting %s: %w", pt, err)
	}
	return b, nil
}

// checkStatement parses a statement as in-toto's own Go types read it
// (protojson: exact field names, no trailing data, no unknown fields
// outside the predicate) and applies their validation: statement type v1,
// subjects with digests, a predicate type and a predicate. It returns the
// predicate type.
func checkStatement(statement []byte) (string, error) {
	if len(statement) > maxStatement {
		return "", fmt.Errorf("statement is %d bytes, over %d", len(statement), maxStatement)
	}
	var st intotov1.Statement
	if err := protojson.Unmarshal(statement, &st); err != nil {
		return "", fmt.Errorf("statement is not an in-toto statement: %s", oneLine(err.Error()))
	}
	if st.GetType() != StatementTypeV1 {
		return "", fmt.Errorf("statement _type is %q, want %q", st.GetType(), StatementTypeV1)
	}
	if err := st.Validate(); err != nil {
		return "", fmt.Errorf("statement is not a valid in-toto v1 statement: %w", err)
	}
	return st.GetPredicateType(), nil
}

// sign makes the bundle: a DSSE envelope of payload, signed by the
// Signer's key, with its certificate (keyless), timestamp and log entry
// when those services are configured.
func (s *Signer) sign(ctx context.Context, payload []byte, predicateType string) (*Bundle, error) {
	opts := sign.BundleOptions{Context: ctx}
	if s.opts.Mode == ModeKeyless {
		opts.CertificateProvider = certProvider{s}
	}
	tsa := &service{name: "timestamp authority", url: s.opts.TSAURL, rt: s.tr}
	if tsa.url != "" {
		opts.TimestampAuthorities = []*sign.TimestampAuthority{sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{
			URL: tsa.url, Timeout: 30 * time.Second, Retries: 1, Transport: tsa,
		})}
	}
	rekor := &service{name: "Rekor", url: s.opts.RekorURL, rt: s.tr}
	if rekor.url != "" {
		rc, err := rekorEntries(rekor.url, rekor)
		if err != nil {
			return nil, err
		}
		opts.TransparencyLogs = []sign.Transparency{sign.NewRekor(&sign.RekorOptions{
			BaseURL: rekor.url, Timeout: 90 * time.Second, Retries: 1, Version: 1, Client: rc,
		})}
	}
	signed := s.now().UTC()
	pb, err := sign.Bundle(&sign.DSSEData{Data: payload, PayloadType: InTotoPayloadType}, s.keypair, opts)
	if err != nil {
		return nil, serviceError(err, tsa, rekor)
	}
	js, err := protojson.Marshal(pb)
	if err != nil {
		return nil, err
	}
	return &Bundle{JSON: js, PredicateType: predicateType, Signed: signed}, nil
}

// rekorEntries is a Rekor v1 client whose requests go through rt, so the
// caller's transport (and its retries and bounds) carries them too.
func rekorEntries(base string, rt http.RoundTripper) (sign.RekorClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("signing: Rekor URL %q: %w", base, err)
	}
	path := u.Path
	if path == "" {
		path = rekorclient.DefaultBasePath
	}
	hc := &http.Client{Transport: rt, Timeout: 90 * time.Second}
	t := httptransport.NewWithClient(u.Host, path, []string{u.Scheme}, hc)
	return rekorclient.New(t, strfmt.Default).Entries, nil
}

// jsonDecodeOne decodes one JSON value and refuses trailing data.
func jsonDecodeOne(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
