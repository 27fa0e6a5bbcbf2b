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
