package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
)

// PEM block types of private keys, as cosign names them
// (https://github.com/sigstore/cosign/blob/main/pkg/cosign/keys.go).
const (
	pemSigstoreEncrypted = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemCosignEncrypted   = "ENCRYPTED COSIGN PRIVATE KEY"
	pemPKCS8             = "PRIVATE KEY"
	pemEC                = "EC PRIVATE KEY"
	pemRSA               = "RSA PRIVATE KEY"
)

// maxKey bounds the key input: a PEM key of any supported kind is a few KiB.
const maxKey = 64 << 10

// ErrWrongPassword is returned (wrapped) when a cosign encrypted key does
// not decrypt with the password given.
var ErrWrongPassword = errors.New("wrong password")

// loadKey parses and, for cosign's encrypted format, decrypts a private
// key. Cosign encrypts the PKCS#8 DER with go-securesystemslib's
// encrypted package (scrypt + NaCl secretbox) and wraps the JSON it makes
// in a PEM block; the same package decrypts it here.
func loadKey(key, password []byte) (*keypair, error) {
	if len(key) == 0 {
		return nil, errors.New("signing key: empty; pass a cosign key (cosign generate-key-pair) or a PKCS#8 PEM private key")
	}
	if len(key) > maxKey {
		return nil, fmt.Errorf("signing key: %d bytes, more than a PEM private key can be (%d); pass the private key file", len(key), maxKey)
	}
	block, _ := pem.Decode(key)
	if block == nil {
		return nil, errors.New("signing key: no PEM block; pass a cosign key (cosign generate-key-pair) or a PKCS#8 PEM private key")
	}
	var priv crypto.PrivateKey
	var err error
	switch block.Type {
	case pemSigstoreEncrypted, pemCosignEncrypted:
		der, derr := encrypted.Decrypt(block.Bytes, password)
		if derr != nil {
			if len(password) == 0 {
				return nil, fmt.Errorf("signing key: %s needs its password; set COSIGN_PASSWORD: %w", block.Type, ErrWrongPassword)
			}
			return nil, fmt.Errorf("signing key: cannot decrypt %s; check COSIGN_PASSWORD: %w", block.Type, ErrWrongPassword)
		}
		priv, err = x509.ParsePKCS8PrivateKey(der)
	case pemPKCS8:
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemEC:
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	case pemRSA:
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("signing key: PEM block %q is no private key this step reads; pass a cosign key or a PKCS#8 PEM private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: parsing %s: %w", block.Type, err)
	}
	return newKeypair(priv)
}

// keypair adapts a loaded private key to sigstore-go's sign.Keypair: the
// default algorithm for the key (ECDSA P-256 with SHA-256 for cosign's
// keys; RSA PKCS#1 v1.5 with SHA-256; pure Ed25519, which cosign 3 and 2
// verify in bundles and .sig images alike, where Ed25519ph fails their
// bundle verification), and a hint that is the base64 SHA-256 of the DER
// public key, as cosign's.
type keypair struct {
	sv     signature.SignerVerifier
	pub    crypto.PublicKey
	hint   []byte
	keyAlg string
	alg    signature.AlgorithmDetails
}

var _ sign.Keypair = (*keypair)(nil)

func newKeypair(priv crypto.PrivateKey) (*keypair, error) {
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key: %T cannot sign; pass an ECDSA, RSA or Ed25519 key", priv)
	}
	pub := signer.Public()
	var keyAlg string
	switch pub.(type) {
	case *ecdsa.PublicKey:
		keyAlg = "ECDSA"
	case *rsa.PublicKey:
		keyAlg = "RSA"
	case ed25519.PublicKey:
		keyAlg = "ED25519"
	default:
		return nil, fmt.Errorf("signing key: %T is not supported; pass an ECDSA, RSA or Ed25519 key", pub)
	}
	alg, err := signature.GetDefaultAlgorithmDetails(pub)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	sv, err := signature.LoadDefaultSignerVerifier(priv)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &keypair{
		sv: sv, pub: pub, keyAlg: keyAlg, alg: alg,
		hint: []byte(base64.StdEncoding.EncodeToString(sum[:])),
	}, nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm { return k.alg.GetProtoHashType() }
func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.alg.GetSignatureAlgorithm()
}
func (k *keypair) GetHint() []byte                { return k.hint }
func (k *keypair) GetKeyAlgorithm() string        { return k.keyAlg }
func (k *keypair) GetPublicKey() crypto.PublicKey { return k.pub }

func (k *keypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.pub)
	return string(b), err
}

// SignData signs data and returns the signature and what was signed: the
// digest, or data itself for pure Ed25519 (sign.Keypair's contract).
func (k *keypair) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	so := []signature.SignOption{sigopts.WithContext(ctx)}
	signed := data
	if h := k.alg.GetHashType(); h != crypto.Hash(0) {
		hh := h.New()
		hh.Write(data)
		signed = hh.Sum(nil)
		so = append(so, sigopts.WithDigest(signed))
	}
	sig, err := k.sv.SignMessage(bytes.NewReader(data), so...)
	if err != nil {
		return nil, nil, err
	}
	return sig, signed, nil
}
