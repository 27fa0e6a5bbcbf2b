package platform

import (
	"testing"
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
