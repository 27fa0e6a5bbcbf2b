package inputs

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// SignMode is how the published manifests are signed.
type SignMode string

const (
	// SignKeyless signs with a short-lived Fulcio certificate for the
	// job's OIDC identity.
	SignKeyless SignMode = "keyless"
	// SignKey signs with the private key of the signing-key input.
	SignKey SignMode = "key"
)

// Public-good Sigstore instances, the defaults of fulcio-url and rekor-url.
// https://docs.sigstore.dev/
const (
	DefaultFulcioURL = "https://fulcio.sigstore.dev"
	DefaultRekorURL  = "https://rekor.sigstore.dev"
	// DefaultTokenVar is the variable GitLab's id_tokens keyword and
	// other CIs leave the OIDC token for Sigstore in.
	DefaultTokenVar = "SIGSTORE_ID_TOKEN"
)

// maxKeyFile bounds the signing-key file read: a PEM private key is a few
// kilobytes.
const maxKeyFile = 64 << 10

// Signing is what the signing inputs ask for; Spec.Signing is nil when
// sign is false.
type Signing struct {
	Mode SignMode
	// Key is the PEM private key (sign: key), from the signing-key input
	// or the file it names. A secret.
	Key []byte
	// Password decrypts Key: COSIGN_PASSWORD from the environment, never
	// an input. A secret; empty is a valid password.
	Password []byte
	// FulcioURL, RekorURL and TSAURL are the Sigstore services, without a
	// trailing slash; TSAURL is empty unless tsa-url was given.
	FulcioURL, RekorURL, TSAURL string
	// TokenVar names the variable holding the OIDC token for keyless
	// signing. On GitHub Actions the token is requested from the runner
	// (ACTIONS_ID_TOKEN_REQUEST_URL) unless this variable is set.
	TokenVar string
	// LegacyTags also writes cosign's sha256-<digest>.sig tag.
	LegacyTags bool
	// WarnOnFailure turns a failed signature into a warning.
	WarnOnFailure bool
	// Provenance attaches SLSA provenance of the index; SBOM attaches an
	// SPDX SBOM to every image built in layer mode.
	Provenance, SBOM bool
}

// Secrets returns the values that must never be printed: the key, each
// line of its PEM body (a log may show one line), and the password.
func (g *Signing) Secrets() []string {
	if g == nil {
		return nil
	}
	var out []string
	if k := strings.TrimSpace(string(g.Key)); k != "" {
		out = append(out, k)
		out = append(out, pemLines(k)...)
	}
	if len(g.Password) > 0 {
		out = append(out, string(g.Password))
	}
	return out
}

// pemLines returns the base64 lines of PEM text, not its BEGIN/END lines
// or headers.
func pemLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && !strings.Contains(line, ":") {
			out = append(out, line)
		}
	}
	return out
}

// parseSigning reads the signing inputs into s.Signing; layerMode says
// whether base was given, which sbom needs.
func parseSigning(s *Spec, raw Raw, getenv func(string) string, insecure hosts.Insecure, layerMode bool, fail func(input, format string, a ...any)) {
	g := &Signing{}
	switch v := strings.ToLower(strings.TrimSpace(raw["sign"])); v {
	case "", "false":
	case "keyless":
		g.Mode = SignKeyless
	case "key":
		g.Mode = SignKey
	default:
		fail("sign", "%q is not false, keyless or key", raw["sign"])
		return
	}
	flags := []struct {
		input string
		dst   *bool
	}{{"sign-legacy-tags", &g.LegacyTags}, {"provenance", &g.Provenance}, {"sbom", &g.SBOM}}
	for _, f := range flags {
		if v := raw[f.input]; strings.TrimSpace(v) != "" {
			var err error
			if *f.dst, err = parseBool(v); err != nil {
				fail(f.input, "%v", err)
			}
		}
	}
	switch v := strings.ToLower(strings.TrimSpace(raw["sign-failures"])); v {
	case "", "fail":
	case "warn":
		g.WarnOnFailure = true
	default:
		fail("sign-failures", "%q is not fail or warn", raw["sign-failures"])
	}
	hasKey := strings.TrimSpace(raw["signing-key"]) != ""
	if g.Mode == "" {
		refuseUnsigned(g, hasKey, fail)
		return
	}
	if g.SBOM && !layerMode {
		fail("sbom", "applies only in layer mode, to the images it builds; set base (an image or scratch) or remove sbom")
	}
	g.FulcioURL = serviceURL("fulcio-url", raw["fulcio-url"], DefaultFulcioURL, insecure, fail)
	// none records no log entry: for a private repository whose names
	// the public log would show, or where no log can be reached.
	noRekor := strings.TrimSpace(raw["rekor-url"]) == "none"
	if !noRekor {
		g.RekorURL = serviceURL("rekor-url", raw["rekor-url"], DefaultRekorURL, insecure, fail)
	}
	g.TSAURL = serviceURL("tsa-url", raw["tsa-url"], "", insecure, fail)
	if g.Mode == SignKeyless && noRekor && strings.TrimSpace(raw["tsa-url"]) == "" {
		fail("rekor-url", "none leaves keyless signatures without a time a verifier can trust (the certificate lives 10 minutes); set tsa-url to a timestamp authority, or keep a rekor-url")
	}
	if g.TokenVar = strings.TrimSpace(raw["oidc-token-variable"]); g.TokenVar == "" {
		g.TokenVar = DefaultTokenVar
	}
	if !validVarName(g.TokenVar) {
		fail("oidc-token-variable", "%q is not a variable name (letters, digits and _, not starting with a digit)", g.TokenVar)
	}
	switch g.Mode {
	case SignKey:
		if !hasKey {
			fail("signing-key", "sign: key needs the private key: the PEM text (from a secret) or the path of the file cosign generate-key-pair wrote")
			break
		}
		key, msg := readKey(raw["signing-key"])
		if msg != "" {
			fail("signing-key", "%s", msg)
		}
		g.Key = key
		g.Password = []byte(getenv("COSIGN_PASSWORD"))
	case SignKeyless:
		if hasKey {
			fail("signing-key", "applies only with sign: key; remove it for keyless signing, or set sign: key")
		}
		if msg := checkIDToken(g.TokenVar, getenv); msg != "" {
			fail("sign", "%s", msg)
		}
	}
	s.Signing = g
}

// refuseUnsigned reports the signing inputs that ask for something while
// sign is false, instead of ignoring them.
func refuseUnsigned(g *Signing, hasKey bool, fail func(input, format string, a ...any)) {
	const fix = "needs signing; set sign: keyless or sign: key, or remove it"
	if hasKey {
		fail("signing-key", "applies only with sign: key; set sign: key or remove it")
	}
	if g.LegacyTags {
		fail("sign-legacy-tags", "%s", fix)
	}
	if g.Provenance {
		fail("provenance", "%s", fix)
	}
	if g.SBOM {
		fail("sbom", "%s", fix)
	}
	if g.WarnOnFailure {
		fail("sign-failures", "%s", fix)
	}
}

// checkIDToken says what is missing for keyless signing to get an OIDC
// token, in the words of the CI's own configuration, or "" when nothing is.
func checkIDToken(tokenVar string, getenv func(string) string) string {
	if getenv(tokenVar) != "" {
		return ""
	}
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		// https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
		if getenv("ACTIONS_ID_TOKEN_REQUEST_URL") == "" || getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN") == "" {
			return "keyless signing needs the job's OIDC token; give the job (or workflow) `permissions: id-token: write`"
		}
		return ""
	case getenv("GITLAB_CI") == "true":
		// https://docs.gitlab.com/ci/yaml/#id_tokens
		return fmt.Sprintf("keyless signing needs an OIDC token in %s; add to the job `id_tokens: %s: aud: sigstore`", tokenVar, tokenVar)
	}
	return fmt.Sprintf("keyless signing needs an OIDC token for Sigstore in the variable %s; set it (or name another with oidc-token-variable), or use sign: key", tokenVar)
}

// serviceURL checks a Sigstore service URL: https, or http for a host
// listed in insecure-registries, as for registries (loopback is HTTPS too:
// the request goes through the same transport); no credentials, query or
// fragment. Empty gives def.
func serviceURL(input, v, def string, insecure hosts.Insecure, fail func(input, format string, a ...any)) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return def
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		fail(input, "%q is not a URL such as https://host[:port]", v)
		return ""
	case u.User != nil:
		fail(input, "the URL carries credentials; remove them (Sigstore services take none in the URL)")
		return ""
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		fail(input, "%q has a query or fragment; give the service's base URL", v)
		return ""
	case u.Scheme == "https":
	case u.Scheme == "http" && insecure.Has(u.Host):
	case u.Scheme == "http":
		fail(input, "%q is plain HTTP; use https, or list %s in insecure-registries", v, u.Host)
		return ""
	default:
		fail(input, "%q is not an https URL", v)
		return ""
	}
	return strings.TrimRight(u.String(), "/")
}

func validVarName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
}

// readKey returns the private key the signing-key input gives: PEM text
// itself, or the path of a file holding it. The messages never quote the
// value: it may be the key.
func readKey(v string) ([]byte, string) {
	text := strings.TrimSpace(v)
	if !strings.Contains(text, "-----BEGIN") {
		if strings.ContainsAny(text, "\n\r") {
			return nil, "is neither PEM text (-----BEGIN ...) nor a file path; give the key cosign generate-key-pair wrote, or its path"
		}
		b, err := readBounded(text)
		if err != nil {
			return nil, err.Error()
		}
		text = strings.TrimSpace(string(b))
	}
	block, _ := pem.Decode([]byte(text))
	switch {
	case block == nil:
		return nil, "holds no PEM block; give the private key cosign generate-key-pair wrote (cosign.key), or its path"
	case !strings.HasSuffix(block.Type, "PRIVATE KEY"):
		return nil, fmt.Sprintf("holds a %s, not a private key; give the private key (cosign.key), not the public key or certificate", block.Type)
	}
	return []byte(text), ""
}

// readBounded reads the key file at path, refusing one over maxKeyFile.
// Its messages do not quote path either: a key pasted without its PEM
// armour would reach here as a path.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("is not PEM text and names no file; give the PEM text from a secret, or a path relative to the working directory")
	}
	if err != nil {
		return nil, fmt.Errorf("names a file that cannot be read (%v); check its permissions", errors.Unwrap(err))
	}
	defer f.Close()
	// A FIFO or a device such as /dev/stdin would block or never end.
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, errors.New("names something that is not a regular file; give the key file's path, or the PEM text")
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(f, maxKeyFile+1)); err != nil {
		return nil, fmt.Errorf("names a file that cannot be read (%v); check the path", errors.Unwrap(err))
	}
	if buf.Len() > maxKeyFile {
		return nil, fmt.Errorf("names a file over %d KiB, too large for a private key; check the path", maxKeyFile>>10)
	}
	return buf.Bytes(), nil
}
