package cleanup

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestRegistryTextIsOneLine: a registry's refusal text with a newline, a
// carriage return, an ANSI escape or a workflow command reaches a kept
// tag's reason as one bounded line.
func TestRegistryTextIsOneLine(t *testing.T) {
	t.Parallel()
	hostile := "denied\n::set-output name=digest::sha256:0000\r\x1b[31mred\x1b[0m\u2028" + strings.Repeat("x", 1000)
	reg := newMemRegistry(t, func(m *memRegistry) {
		m.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "DENIED\n::error::x", "message": hostile}}})
			return true
		}
	})
	p := publish(t, reg.host, "o/app")
	d, err := New(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}

	res := d.Delete(context.Background(), p.tmpTags[:1], p.protected())

	if len(res.Kept) != 1 {
		t.Fatalf("Kept = %+v, want the tag", res.Kept)
	}
	line := res.Kept[0].String()
	if strings.ContainsAny(line, "\n\r\x1b\u2028") {
		t.Errorf("kept line carries a control character: %q", line)
	}
	if !strings.Contains(line, `\x1b[31mred`) || !strings.Contains(line, "denied ::set-output") {
		t.Errorf("kept line %q: want the registry's text, escaped", line)
	}
	if n := utf8.RuneCountInString(line); n > 600 {
		t.Errorf("kept line is %d runes, want it bounded", n)
	}
}

func FuzzOneLine(f *testing.F) {
	f.Add("plain message")
	f.Add("a\nb\r\nc")
	f.Add("\x1b[31mred\x1b[0m")
	f.Add("\u2028\u2029\u0085\x00\x7f")
	f.Add(strings.Repeat("é", 300))
	f.Add("\xff\xfe invalid")
	f.Fuzz(func(t *testing.T, s string) {
		got := oneLine(s)
		if !utf8.ValidString(got) {
			t.Fatalf("oneLine(%q) = %q: not UTF-8", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("oneLine(%q) = %q: carries %U", s, got, r)
			}
		}
		if n := utf8.RuneCountInString(got); n > maxRegistryText*10+1 {
			t.Fatalf("oneLine(%q) is %d runes", s, n)
		}
	})
}
