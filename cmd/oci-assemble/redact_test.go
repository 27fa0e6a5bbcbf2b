package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	const (
		password = "s3cret-pass"
		jobToken = "glcbt-64_jobtoken9f"
		jwt      = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-bmF0dXJl"
	)
	basic := base64.StdEncoding.EncodeToString([]byte("robot:" + password))
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"Authorization header, Basic", "request had Authorization: Basic " + basic + " and failed", "request had Authorization: Basic *** and failed"},
		{"Authorization header, unknown Basic", "Authorization: Basic dTpw", "Authorization: Basic ***"},
		{"Authorization header, Bearer", "authorization=Bearer " + jwt, "authorization=Bearer ***"},
		{"Go's header dump", "map[Authorization:[Bearer " + jwt + "]]", "map[Authorization:[Bearer ***]]"},
		{"header in JSON", `{"Authorization":"Bearer ` + jwt + `"}`, `{"Authorization":"Bearer ***"}`},
		{"bearer token alone", "token Bearer " + jwt + " expired", "token Bearer *** expired"},
		{"basic credential alone", "sent basic " + basic, "sent basic ***"},
		{"known Basic credential without a scheme", "echo " + basic, "echo ***"},
		{"known password", "login robot/" + password + " refused", "login robot/*** refused"},
		{"GitLab JOB-TOKEN header", "JOB-TOKEN: " + jobToken, "JOB-TOKEN: ***"},
		{"GitLab PRIVATE-TOKEN header", "private-token=abc123def", "private-token=***"},
		{"job token in a query", "GET /api/v4/jobs?job_token=" + jobToken + "&x=1", "GET /api/v4/jobs?job_token=***&x=1"},
		{"token response", `{"token":"` + jwt + `","access_token":"` + jwt + `"}`, `{"token":"***","access_token":"***"}`},
		{"password in a URL", "https://robot:hunter22@reg.example/v2/", "https://robot:***@reg.example/v2/"},
		{"words stay", "no basic credentials; a bearer token was refused", "no basic credentials; a bearer token was refused"},
		{"digest stays", "sha256:0123456789abcdef", "sha256:0123456789abcdef"},
	}
	r := newRedactor()
	r.add(jobToken)
	r.addAuth(authn.AuthConfig{Username: "robot", Password: password})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.redact(tt.in); got != tt.want {
				t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRedactForms: a known secret is redacted in the forms the program
// writes it: as it is, JSON-encoded and escaped for a workflow command.
func TestRedactForms(t *testing.T) {
	t.Parallel()
	const secret = "p@ss\"w%rd\n<x>"
	r := newRedactor()
	r.add(secret)
	enc, err := json.Marshal(map[string]string{"reason": "refused " + secret})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"refused " + secret, string(enc), escapeCommandData("refused " + secret)} {
		if got := r.redact(in); strings.Contains(got, "ss") {
			t.Errorf("redact(%q) = %q, want the secret gone", in, got)
		}
	}
	if r.add("abc") {
		t.Error("a 3-byte secret was recorded; it would star out every word holding it")
	}
}

// TestRedactJSON: a redacted JSON document stays JSON, even when a secret
// is text that also occurs in an escape sequence.
func TestRedactJSON(t *testing.T) {
	t.Parallel()
	r := newRedactor()
	r.add("003c")   // json.Marshal writes < as \u003c
	r.add("secret") // an ordinary one
	doc, err := json.Marshal(map[string]any{"a": "<b> secret", "n": 12345678901234567, "l": []string{"x003cy"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.redactJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		A string
		L []string
	}
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("redactJSON(%s) = %s: %v", doc, got, err)
	}
	if text := back.A + strings.Join(back.L, ","); strings.Contains(text, "secret") || strings.Contains(text, "003c") || !strings.Contains(text, "<b>") {
		t.Errorf("redactJSON(%s) = %s, want the secrets gone and the rest kept", doc, got)
	}
	if !bytes.Contains(got, []byte("12345678901234567")) {
		t.Errorf("redactJSON(%s) = %s lost a number's precision", doc, got)
	}
}

// TestRecordKeychain: the Basic credential the keychain hands out is
// recorded as it is used; an anonymous one is passed through as it is,
// which go-containerregistry compares against authn.Anonymous.
func TestRecordKeychain(t *testing.T) {
	t.Parallel()
	res, err := name.NewRepository("reg.example/o/app")
	if err != nil {
		t.Fatal(err)
	}
	var got []authn.AuthConfig
	record := func(c authn.AuthConfig) { got = append(got, c) }
	cfg := authn.AuthConfig{Username: "u", Password: "pw-1234"}
	kc := recordKeychain{kc: staticKeychain{authn.FromConfig(cfg)}, record: record}
	a, err := kc.Resolve(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatal("recorded before the credential was used")
	}
	if _, err := a.Authorization(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Password != cfg.Password {
		t.Errorf("recorded %+v, want %+v", got, cfg)
	}
	anon := recordKeychain{kc: staticKeychain{authn.Anonymous}, record: record}
	if a, err := anon.Resolve(res); err != nil || a != authn.Anonymous {
		t.Errorf("Resolve() = %v, %v, want authn.Anonymous", a, err)
	}
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }
