package platform

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Seeds beyond these live in testdata/fuzz/FuzzParse/.

// FuzzParse checks that Parse never panics, that what it accepts has os
// and arch, and that String gives back exactly the text parsed, so a
// platform shown in a message can be pasted back into an input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm64/v8", "windows/amd64:10.0.17763", "linux", "/amd64", "linux//v7", "linux/arm/v7/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		if p.OS == "" || p.Architecture == "" {
			t.Fatalf("Parse(%q) = %+v without os or arch", s, p)
		}
		back := String(p)
		if back != s {
			t.Fatalf("String(Parse(%q)) = %q, not the text parsed", s, back)
		}
		again, err := Parse(back)
		if err != nil || Key(again) != Key(p) || !again.Equals(p) {
			t.Fatalf("Parse(String(Parse(%q))) = %+v, %v; want %+v", s, again, err, p)
		}
		if !Match(p, p) || !Match(p, Normalize(p)) || !Match(Normalize(p), p) {
			t.Fatalf("Parse(%q) = %+v does not match itself or its normal form", s, p)
		}
	})
}

// FuzzCheck checks the promise of Check for a platform read from a
// source: whatever it accepts is safe as one path element (it cannot
// climb, name a root or hold a separator), holds only printable ASCII
// (no control character reaches a log line or an output), is bounded,
// and parses back through Parse's rules of form as typed, so a source
// cannot bring a platform a user could not type (Parse alone also wants
// known values, which a source need not have). What it refuses gives a bounded
// one-line message. Seeds beyond these live in testdata/fuzz/FuzzCheck/.
func FuzzCheck(f *testing.F) {
	f.Add("linux", "amd64", "", "", "")
	f.Add("linux", "arm", "v7", "", "")
	f.Add("unknown", "unknown", "", "", "")
	f.Add("windows", "amd64", "", "10.0.17763.1234", "win32k")
	f.Add("linux", "amd64", "x/../../../outside", "", "")
	f.Add("linux", "..", "", "", "")
	f.Add("linux\n::stop-commands::x", "amd64", "", "", "")
	f.Fuzz(func(t *testing.T, os, arch, variant, osVersion, feature string) {
		p := v1.Platform{OS: os, Architecture: arch, Variant: variant, OSVersion: osVersion}
		if feature != "" {
			p.OSFeatures = []string{feature}
		}
		err := Check(p)
		if err != nil {
			msg := err.Error()
			if !errors.Is(err, ErrInvalid) || len(msg) > 4*MaxField+100 || strings.ContainsFunc(msg, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Fatalf("Check(%+v) = %q: want a bounded one-line error matching ErrInvalid", p, msg)
			}
			return
		}
		for _, v := range []string{os, arch, variant, osVersion, feature} {
			if v == "" {
				continue
			}
			root := filepath.Join("ws", "dist")
			if len(v) > MaxField || filepath.Base(v) != v || filepath.Clean(v) != v || filepath.IsAbs(v) ||
				filepath.Dir(filepath.Join(root, v)) != root || filepath.Dir(filepath.Join(root, "x-"+v)) != root ||
				strings.ContainsAny(v, `/\`) || v == "." || v == ".." {
				t.Fatalf("Check accepted %q, which is not one path element", v)
			}
			if strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r > '~' }) {
				t.Fatalf("Check accepted %q, which is not printable ASCII", v)
			}
		}
		if os != "" && arch != "" && osVersion == "" {
			typed := String(p)
			got, err := parseForm(typed)
			if err != nil || !got.Equals(v1.Platform{OS: os, Architecture: arch, Variant: variant}) {
				t.Fatalf("Check accepted %+v but parseForm(%q) = %+v, %v", p, typed, got, err)
			}
		}
	})
}
