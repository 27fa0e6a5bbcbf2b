package inputs

import (
	"strings"
	"testing"
)

func FuzzParseAnnotation(f *testing.F) {
	for _, s := range []string{"k=v", "index:k=v", "manifest-descriptor[linux/arm64]:k=v", "index,manifest[linux/arm/v7]:a:b=c=d", "[x]:=", "manifest[[:k=v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		anns, err := ParseAnnotation(line)
		if err != nil {
			return
		}
		if len(anns) == 0 {
			t.Fatalf("ParseAnnotation(%q) gave no annotation and no error", line)
		}
		for _, a := range anns {
			if a.Key == "" || strings.ContainsAny(a.Key, " \t") {
				t.Fatalf("ParseAnnotation(%q) key %q", line, a.Key)
			}
			if !strings.HasSuffix(line, "="+a.Value) {
				t.Fatalf("ParseAnnotation(%q) value %q is not the text after '='", line, a.Value)
			}
		}
	})
}

func FuzzSplitList(f *testing.F) {
	f.Add("a,b\n c ,,\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, item := range splitList(s) {
			if item == "" || strings.ContainsAny(item, ",\n\r") || strings.TrimSpace(item) != item {
				t.Fatalf("splitList(%q) item %q", s, item)
			}
		}
	})
}

func FuzzParseCreated(f *testing.F) {
	for _, s := range []string{"", "now", "0", "1700000000", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5+02:00", "-1", "99999999999999", "1969-12-31T23:59:59Z"} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, v, sde string) {
		got, err := parseCreated(v, sde)
		if err != nil {
			return
		}
		if got.Unix() < 0 || got.Nanosecond() != 0 || got.Location().String() != "UTC" {
			t.Fatalf("parseCreated(%q, %q) = %v: want whole UTC seconds after 1970", v, sde, got)
		}
	})
}

// FuzzParse feeds arbitrary text to every input at once: Parse must not
// panic, and every error it returns names an input.
func FuzzParse(f *testing.F) {
	f.Add("reg.example/o/app:1", "reg.example/o/app:2", "", "- files: [a:/b]", "A=1", "[\"x\"]", "gzip", "now", "reg.example/o/app:tmp-*", "")
	f.Add("", "", "scratch", "- files: [\"{arch}/x:/x\"]\n  platforms: [linux/amd64]", "", "", "zstd", "1700000000", "", "")
	f.Add("", "reg.example/o/app:1", "", "", "", "", "", "", "", "reg.example/o/app=.,reg.example/o/app=x\x00y,=,:=/")
	f.Fuzz(func(t *testing.T, images, tags, base, layers, env, cmd, compression, created, deleteTags, digests string) {
		raw := Raw{"images": images, "tags": tags, "base": base, "layers": layers, "env": env, "cmd": cmd,
			"compression": compression, "created": created, "delete-tags": deleteTags, "digests": digests, "platforms": "linux/amd64", "push": "false"}
		if strings.TrimSpace(base) == "" {
			delete(raw, "platforms")
		}
		_, err := Parse(raw, func(string) string { return "" })
		if err == nil {
			return
		}
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			if _, ok := e.(*Error); !ok {
				t.Fatalf("error %v does not name an input", e)
			}
		}
	})
}

// FuzzParseSigning feeds arbitrary text to the signing inputs: Parse must
// not panic, every error names an input, and no error shows PEM text
// given as signing-key.
func FuzzParseSigning(f *testing.F) {
	f.Add("key", "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----", "", "", "", "", "true", "false")
	f.Add("keyless", "", "http://127.0.0.1:1/", "https://u:p@h", "https://h/?q", "1X", "false", "true")
	f.Add("false", "/dev/stdin", "ftp://x", "", "http://[::1", "SIGSTORE_ID_TOKEN", "maybe", "")
	f.Fuzz(func(t *testing.T, sign, key, fulcio, rekor, tsa, tokenVar, provenance, sbom string) {
		raw := Raw{"images": "reg.example/o/app:1", "push": "false", "sign": sign, "signing-key": key, "fulcio-url": fulcio,
			"rekor-url": rekor, "tsa-url": tsa, "oidc-token-variable": tokenVar, "provenance": provenance, "sbom": sbom}
		_, err := Parse(raw, func(k string) string {
			if k == "SIGSTORE_ID_TOKEN" {
				return "x"
			}
			return ""
		})
		if err == nil {
			return
		}
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			if _, ok := e.(*Error); !ok {
				t.Fatalf("error %v does not name an input", e)
			}
		}
		if k := strings.TrimSpace(key); strings.Contains(k, "-----BEGIN") && len(k) > 40 && strings.Contains(err.Error(), k) {
			t.Fatalf("error shows the signing key: %v", err)
		}
	})
}
