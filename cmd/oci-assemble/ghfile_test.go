package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

// parseOutputs reads a GITHUB_OUTPUT file as the runner does: NAME=VALUE,
// or NAME<<DELIMITER, the value's lines, and a line that is the delimiter
// (the runner also takes the delimiter followed by \r). Later values of a
// name replace earlier ones, as in the runner.
func parseOutputs(t *testing.T, content string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		eq, hd := strings.Index(l, "="), strings.Index(l, "<<")
		if eq >= 0 && (hd < 0 || eq < hd) {
			out[l[:eq]] = l[eq+1:]
			continue
		}
		if hd < 0 {
			t.Fatalf("line %d %q is neither NAME=VALUE nor NAME<<DELIMITER", i, l)
		}
		name, delim := l[:hd], l[hd+2:]
		var v []string
		for i++; ; i++ {
			if i == len(lines) {
				t.Fatalf("output %s: no closing delimiter %q", name, delim)
			}
			if lines[i] == delim || lines[i] == delim+"\r" {
				break
			}
			v = append(v, lines[i])
		}
		out[name] = strings.Join(v, "\n")
	}
	return out
}

func TestFormatOutputs(t *testing.T) {
	t.Parallel()
	evil := "\n_GitHubActionsFileCommandDelimeter_\ndigest=sha256:evil\nghadelimiter_\ndigest=sha256:evil"
	tests := []struct {
		name    string
		outs    []output
		wantErr bool
	}{
		{name: "plain", outs: []output{{name: "digest", value: "sha256:aa"}, {name: "image", value: ""}}},
		{name: "a kept tag's reason ends go-githubactions' delimiter", outs: []output{
			{name: "digest", value: "sha256:aa"}, {name: "kept-tags", value: "r/a:tmp kept: 403" + evil}}},
		{name: "a deleted tag with a line break", outs: []output{
			{name: "deleted-tags", value: "r/a:tmp-1" + evil + "\r\n"}, {name: "digest", value: "sha256:aa"}}},
		{name: "a value ends in a carriage return", outs: []output{{name: "kept-tags", value: "x\r"}, {name: "digest", value: "sha256:aa"}}},
		{name: "a name with =", outs: []output{{name: "digest=x", value: "v"}}, wantErr: true},
		{name: "a name with <<", outs: []output{{name: "a<<b", value: "v"}}, wantErr: true},
		{name: "a name with a line break", outs: []output{{name: "a\ndigest", value: "v"}}, wantErr: true},
		{name: "an empty name", outs: []output{{name: "", value: "v"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text, err := formatOutputs(tt.outs, rand.Read)
			if tt.wantErr {
				if !errors.Is(err, errOutput) {
					t.Fatalf("formatOutputs() error = %v, want %v", err, errOutput)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkParsedOutputs(t, tt.outs, parseOutputs(t, text))
		})
	}
}

// checkParsedOutputs checks that got holds each name's last value in outs
// and no other name.
func checkParsedOutputs(t *testing.T, outs []output, got map[string]string) {
	t.Helper()
	want := map[string]string{}
	for _, o := range outs {
		want[o.name] = o.value
	}
	if len(got) != len(want) {
		t.Errorf("parsed outputs %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("output %s = %q, want %q", k, got[k], v)
		}
	}
}

// TestDelimiterDrawnAgain: a value that holds the delimiter drawn gets
// another, and one that holds every delimiter drawn is refused.
func TestDelimiterDrawnAgain(t *testing.T) {
	t.Parallel()
	zero := func(b []byte) (int, error) { clear(b); return len(b), nil }
	first, err := delimiterFor("", zero)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := first, "ghadelimiter_00000000-0000-4000-8000-000000000000"; got != want {
		t.Fatalf("delimiter = %q, want %q", got, want)
	}
	calls := 0
	thenOnes := func(b []byte) (int, error) {
		calls++
		if calls == 1 {
			return zero(b)
		}
		copy(b, bytes.Repeat([]byte{1}, len(b)))
		return len(b), nil
	}
	d, err := delimiterFor("x\n"+first+"\ndigest=evil", thenOnes)
	if err != nil || d == first || calls != 2 {
		t.Errorf("delimiterFor() = %q, %v after %d draws, want a second delimiter", d, err, calls)
	}
	if _, err := formatOutputs([]output{{name: "kept-tags", value: first}}, zero); !errors.Is(err, errOutput) {
		t.Errorf("formatOutputs() with every delimiter in the value: error = %v, want %v", err, errOutput)
	}
	failing := func([]byte) (int, error) { return 0, errors.New("no entropy") }
	if _, err := formatOutputs([]output{{name: "digest", value: "v"}}, failing); !errors.Is(err, errOutput) {
		t.Errorf("formatOutputs() without randomness: error = %v, want %v", err, errOutput)
	}
}

// FuzzFormatOutputs: whatever the values (a registry's text, a tag name),
// reading the file back as the runner does gives each name exactly its
// value, and no other name; a name the runner would misread is refused.
func FuzzFormatOutputs(f *testing.F) {
	f.Add("kept-tags", "r/a:tmp kept: 403\n_GitHubActionsFileCommandDelimeter_\ndigest=sha256:evil", "r/a:tmp-1")
	f.Add("deleted-tags", "a\r\nb\r", "ghadelimiter_00000000-0000-4000-8000-000000000000\ndigest=x")
	f.Add("digest<<EOF", "v", "")
	f.Add("x=y", "", "\n")
	f.Fuzz(func(t *testing.T, name, v1, v2 string) {
		outs := []output{{name: "digest", value: "sha256:good"}, {name: name, value: v1}, {name: "deleted-tags", value: v2}}
		text, err := formatOutputs(outs, rand.Read)
		if !outputName.MatchString(name) {
			if !errors.Is(err, errOutput) {
				t.Fatalf("name %q: error = %v, want %v", name, err, errOutput)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkParsedOutputs(t, outs, parseOutputs(t, text))
	})
}
