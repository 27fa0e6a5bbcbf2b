package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// redacted stands for a credential in everything the program emits; it is
// what GitHub's runner prints for a masked value.
const redacted = "***"

// minSecret is the shortest secret replaced by value: a shorter one would
// turn every word that contains it into stars, and is no secret anyway.
const minSecret = 4

// credentialPatterns find credentials the program did not know: the
// registry token a token service issued, or a header a registry or proxy
// echoes back in an error body. Each keeps its first group (the header or
// field name) and replaces the rest with ***. The value classes stop at
// quotes and backslashes so that redacting a JSON document leaves it JSON.
var credentialPatterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	// Authorization and Proxy-Authorization headers (RFC 9110 section
	// 11.6.2, 11.7.2) with any scheme: Basic, Bearer, token, ...
	{regexp.MustCompile(`(?i)((?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?[\["']?\s*(?:[a-z][a-z0-9-]*\s+)?)[^\s"'\\,;\]]+`), "${1}" + redacted},
	// GitLab's JOB-TOKEN, PRIVATE-TOKEN and Deploy-Token headers and
	// their job_token / private_token query and form fields.
	{regexp.MustCompile(`(?i)\b((?:job|private|deploy)[-_]token\\?["']?\s*[:=]\s*\\?["']?)[^\s"'\\,;&]+`), "${1}" + redacted},
	// Token and password fields of a token response or docker config
	// (RFC 6749 section 5.1; the distribution token spec), bare or inside
	// a JSON string.
	{regexp.MustCompile(`(?i)(\\?"(?:access_token|refresh_token|id_token|token|password|identitytoken|registrytoken|auth)\\?"\s*:\s*\\?")[^"\\]+`), "${1}" + redacted},
	// Credentials in a URL's userinfo (RFC 3986 section 3.2.1) or query.
	{regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@"'\\]+:)[^/\s@"'\\]+@`), "${1}" + redacted + "@"},
	{regexp.MustCompile(`(?i)([?&](?:access_token|token|password|private_token|job_token)=)[^&\s"'\\#]+`), "${1}" + redacted},
}

// schemeToken is a Basic or Bearer credential outside a header line, as a
// registry quotes the request it refused.
var schemeToken = regexp.MustCompile(`(?i)\b(basic|bearer)(\s+)([A-Za-z0-9._~+/-]+=*)`)

// redactor removes credentials from text the program emits: the literal
// secrets the run knows (inputs, CI variables, what the keychain read and
// what it sent) and anything shaped like a credential header. GitHub's
// runner masks what ::add-mask:: names, but GitLab and a plain terminal
// mask nothing, and no runner knows the base64 of user:password that
// Basic authentication sends (RFC 7617 section 2).
type redactor struct {
	mu       sync.Mutex
	secrets  map[string]bool
	replacer *strings.Replacer // nil when secrets changed since it was built
}

func newRedactor() *redactor { return &redactor{secrets: map[string]bool{}} }

// add records secret and the forms it is written in: as a JSON string's
// content and escaped for a workflow command. It reports whether secret
// was new.
func (r *redactor) add(secret string) bool {
	if len(secret) < minSecret {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets[secret] {
		return false
	}
	forms := []string{secret, escapeCommandData(secret)}
	if b, err := json.Marshal(secret); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	for _, f := range forms {
		r.secrets[f] = true
	}
	r.replacer = nil
	return true
}

// addAuth records what an authenticator sends: each secret, and the
// Basic credential base64(username:password) (RFC 7617 section 2).
func (r *redactor) addAuth(cfg authn.AuthConfig) []string {
	var added []string
	for _, s := range []string{cfg.Password, cfg.Auth, cfg.IdentityToken, cfg.RegistryToken} {
		if r.add(s) {
			added = append(added, s)
		}
	}
	if cfg.Password != "" {
		basic := base64.StdEncoding.EncodeToString([]byte(cfg.Username + ":" + cfg.Password))
		if r.add(basic) {
			added = append(added, basic)
		}
	}
	return added
}

// redact returns s without the known secrets and without anything shaped
// like a credential.
func (r *redactor) redact(s string) string {
	if rep := r.literals(); rep != nil {
		s = rep.Replace(s)
	}
	for _, p := range credentialPatterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return schemeToken.ReplaceAllStringFunc(s, func(m string) string {
		sub := schemeToken.FindStringSubmatch(m)
		if !looksLikeToken(sub[3]) {
			return m
		}
		return sub[1] + sub[2] + redacted
	})
}

// literals is the replacer of the known secrets, longest first so that a
// secret containing another is replaced whole.
func (r *redactor) literals() *strings.Replacer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.replacer == nil && len(r.secrets) > 0 {
		keys := make([]string, 0, len(r.secrets))
		for k := range r.secrets {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) })
		pairs := make([]string, 0, 2*len(keys))
		for _, k := range keys {
			pairs = append(pairs, k, redacted)
		}
		r.replacer = strings.NewReplacer(pairs...)
	}
	return r.replacer
}

// looksLikeToken tells a credential after "Basic" or "Bearer" from an
// English word ("basic credentials"): long enough, and with a digit or a
// character of base64 or a JWT.
func looksLikeToken(s string) bool {
	return len(s) >= 12 && strings.ContainsAny(s, "0123456789+/=._-")
}

// redactJSON redacts a JSON document and keeps it one: when replacing
// text broke an escape sequence, it redacts the decoded strings instead.
func (r *redactor) redactJSON(doc []byte) ([]byte, error) {
	out := []byte(r.redact(string(doc)))
	if json.Valid(out) {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(r.redactValue(v))
}

func (r *redactor) redactValue(v any) any {
	switch v := v.(type) {
	case string:
		return r.redact(v)
	case []any:
		for i := range v {
			v[i] = r.redactValue(v[i])
		}
	case map[string]any:
		for k, e := range v {
			v[k] = r.redactValue(e)
		}
	}
	return v
}

// redactWriter redacts each Write. Everything this program writes to it
// is one whole message per Write, so no secret is split between two.
type redactWriter struct {
	w io.Writer
	r *redactor
}

func (w redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, w.r.redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// recordKeychain records every credential its keychain hands out, when it
// is used, so that a registry that echoes it gets it redacted.
type recordKeychain struct {
	kc     authn.Keychain
	record func(authn.AuthConfig)
}

var _ authn.ContextKeychain = recordKeychain{}

func (k recordKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), res)
}

// ResolveContext passes ctx on to a keychain that takes one.
func (k recordKeychain) ResolveContext(ctx context.Context, res authn.Resource) (authn.Authenticator, error) {
	a, err := authn.Resolve(ctx, k.kc, res)
	if err != nil || a == authn.Anonymous {
		return a, err
	}
	return recordAuth{a: a, record: k.record}, nil
}

type recordAuth struct {
	a      authn.Authenticator
	record func(authn.AuthConfig)
}

var _ authn.ContextAuthenticator = recordAuth{}

func (a recordAuth) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

// AuthorizationContext passes ctx on to an authenticator that takes one
// (a credential helper's).
func (a recordAuth) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	cfg, err := authn.Authorization(ctx, a.a)
	if err == nil && cfg != nil {
		a.record(*cfg)
	}
	return cfg, err
}
