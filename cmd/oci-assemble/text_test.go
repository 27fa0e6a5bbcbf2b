package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/cleanup"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
)

// hostileValues are texts a base image, a layout or a registry controls: a
// platform, an annotation, a tag, a referrer's description, an error.
var hostileValues = []string{
	"linux/arm64\n::error::INJECTED",
	"v8\r::stop-commands::tok",
	"x\u2028::add-mask::abc",
	"y\u0085::warning::INJECTED",
	"  ::notice::INJECTED",
	"ok ##[error]INJECTED",
	"red \x1b[31mRED\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
	"\u202egnp.exe",
	"bad utf-8 \xff\xfe",
	"a \"quoted\" value=with=equals\\",
}

// checkInertLine fails unless line is one line the runner reads as text.
func checkInertLine(t *testing.T, line string) {
	t.Helper()
	if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") {
		t.Errorf("line %q is a workflow command", line)
	}
	checkInertText(t, line)
}

// checkInertText fails if s holds the runner's older command syntax, a
// control character or invalid UTF-8.
func checkInertText(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, "##[") {
		t.Errorf("%q holds ##[", s)
	}
	for _, r := range s {
		if r != '\t' && unsafeRune(r) || r == unicode.ReplacementChar {
			t.Errorf("%q holds %U", s, r)
		}
	}
}

// TestLogLinesInert: a message or value from a source is logged on one
// line that starts no workflow command and holds no terminal control.
func TestLogLinesInert(t *testing.T) {
	t.Parallel()
	for _, v := range hostileValues {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l := slog.New(newLineHandler(&buf, nil))
			l.Info(v, "platform", v, "err", errors.New(v))
			l.With("ref", v).Warn("tag kept")
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("logged %d lines %q, want 2", len(lines), lines)
			}
			for _, line := range lines {
				checkInertLine(t, line)
			}
			if !strings.HasPrefix(lines[1], "tag kept ref=\"") {
				t.Errorf("line %q: want the value quoted", lines[1])
			}
		})
	}
}

// TestLogLineValues: plain values print as they are, others quoted.
func TestLogLineValues(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, value, want string }{
		{"plain", "sha256:aa", "m k=sha256:aa\n"},
		{"space", "a b", "m k=\"a b\"\n"},
		{"empty", "", "m k=\"\"\n"},
		{"equals", "a=b", "m k=\"a=b\"\n"},
		{"line break", "a\nb", "m k=\"a\\nb\"\n"},
		{"escape", "\x1b[31m", "m k=\"\\x1b[31m\"\n"},
		{"line separator", "a\u2028b", "m k=\"a\\u2028b\"\n"},
		{"bidi", "a\u202eb", "m k=\"a\\u202eb\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			slog.New(newLineHandler(&buf, nil)).Info("m", "k", tt.value)
			if got := buf.String(); got != tt.want {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAnnotationsInert: an error or warning whose text comes from a source
// is one annotation under GitHub and one stderr line elsewhere, and
// neither starts a workflow command.
func TestAnnotationsInert(t *testing.T) {
	t.Parallel()
	for _, github := range []bool{true, false} {
		for _, v := range hostileValues {
			t.Run(v, func(t *testing.T) {
				t.Parallel()
				vars := map[string]string{}
				if github {
					vars["GITHUB_ACTIONS"] = "true"
				}
				var stdout, stderr bytes.Buffer
				u := newUI(env{getenv: func(k string) string { return vars[k] }, stdout: &stdout, stderr: &stderr})
				u.fail(errors.New("reading the source: " + v))
				u.warn("tag kept: " + v)
				out := stderr.String()
				if github {
					out = stdout.String()
				}
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != 2 {
					t.Fatalf("wrote %q, want 2 lines", lines)
				}
				for i, line := range lines {
					if github {
						want := []string{"::error::reading the source: ", "::warning::tag kept: "}[i]
						if !strings.HasPrefix(line, want) {
							t.Errorf("line %q does not start with %q", line, want)
						}
						checkInertText(t, line)
						continue
					}
					checkInertLine(t, line)
				}
			})
		}
	}
}

// TestMarkdown: a source's text in the step summary is shown, never
// rendered: no HTML, link, image or code span of its own, no extra table
// cell.
func TestMarkdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in  string
		cell      bool
		code      string // mdCode's result
		text      string // mdText's result
		textLacks []string
	}{{
		name: "plain", in: "linux/amd64", code: "`linux/amd64`", text: "linux/amd64",
	}, {
		name: "backticks", in: "a`b``c", code: "```a`b``c```", text: "a\\`b\\`\\`c",
	}, {
		name: "leading backtick", in: "`x", code: "`` `x ``", text: "\\`x",
	}, {
		name: "pipe in a cell", in: "a|b", cell: true, code: "`a\\|b`", text: "a\\|b",
	}, {
		name: "html", in: "<img src=x onerror=alert(1)><script>", code: "`<img src=x onerror=alert(1)><script>`",
		text: "&lt;img src=x onerror=alert\\(1\\)&gt;&lt;script&gt;", textLacks: []string{"<"},
	}, {
		name: "link and image", in: "![x](https://evil.example/a.png) [y](https://evil.example)",
		textLacks: []string{"](", "https://"},
	}, {
		name: "autolink", in: "see www.evil.example and https://evil.example or a@evil.example",
		textLacks: []string{"www.", "https://", "a@"},
	}, {
		name: "line break", in: "a\n| x | y |\n\x1b[31m", cell: true, code: "`a\\n\\| x \\| y \\|\\n\\x1b[31m`",
		textLacks: []string{"\n", "\x1b"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, text := mdCode(tt.in, tt.cell), mdText(tt.in)
			if tt.code != "" && code != tt.code {
				t.Errorf("mdCode(%q) = %q, want %q", tt.in, code, tt.code)
			}
			if tt.text != "" && text != tt.text {
				t.Errorf("mdText(%q) = %q, want %q", tt.in, text, tt.text)
			}
			for _, bad := range tt.textLacks {
				if strings.Contains(text, bad) {
					t.Errorf("mdText(%q) = %q holds %q", tt.in, text, bad)
				}
			}
		})
	}
}

// TestSummaryHostile: a summary built from hostile platforms, tags and
// reasons keeps its tables' shape and renders none of their markup.
func TestSummaryHostile(t *testing.T) {
	t.Parallel()
	evil := "a | b `c` <img src=x> [l](https://evil.example)\n| x | y |"
	md := metadata{Digest: "sha256:aa", Pushed: true, Image: "r/a@" + evil,
		Manifests: []assembly.Manifest{{Platform: evil, Digest: "sha256:bb" + evil, Source: evil,
			Referrers: []source.Referrer{{Digest: "sha256:cc", Subject: "sha256:bb" + evil, ArtifactType: evil},
				{Digest: "sha256:dd", Subject: "sha256:bb" + evil, Tag: evil, Kind: evil}}}},
		Targets:     []publish.Target{{Ref: "r/a", Tags: []string{evil}, SkippedReferrers: []string{evil}}, {Ref: "r/b" + evil}},
		DeletedTags: []string{"r/a:" + evil},
	}
	kept := []cleanup.Kept{{Ref: "r/a:tmp" + evil, Reason: evil, Fix: evil}}
	got := summary(report{md: md, kept: kept, notes: []string{evil}}, func(s string) string { return s })
	cells := func(row string) int { return strings.Count(strings.ReplaceAll(row, `\|`, ""), "|") - 1 }
	header := 0
	for _, row := range strings.Split(got, "\n") {
		switch {
		case !strings.HasPrefix(row, "|"):
			header = 0
		case header == 0:
			header = cells(row)
		case cells(row) != header:
			t.Errorf("row %q has %d cells, its table %d", row, cells(row), header)
		}
	}
	for _, bad := range []string{"<img", "](", "\n| x |"} {
		if strings.Contains(withoutCodeSpans(got), bad) {
			t.Errorf("summary holds %q:\n%s", bad, got)
		}
	}
}

// withoutCodeSpans is s without its markdown code spans, whose content is
// shown as it is (CommonMark 0.31 section 6.1).
func withoutCodeSpans(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '`' || (i > 0 && s[i-1] == '\\') {
			b.WriteByte(s[i])
			i++
			continue
		}
		n := len(s[i:]) - len(strings.TrimLeft(s[i:], "`"))
		fence, rest := s[i:i+n], s[i+n:]
		end := -1
		for j := 0; j < len(rest); {
			k := strings.Index(rest[j:], fence)
			if k < 0 {
				break
			}
			k += j
			if (k+n == len(rest) || rest[k+n] != '`') && (k == 0 || rest[k-1] != '`') {
				end = k
				break
			}
			j = k + (len(rest[k:]) - len(strings.TrimLeft(rest[k:], "`")))
		}
		if end < 0 {
			b.WriteString(fence)
			i += n
			continue
		}
		b.WriteString("CODE")
		i += n + end + n
	}
	return b.String()
}

// TestPrintAssemblyInert: the platforms and the index printed before
// publishing, annotations from a source included, are inert lines.
func TestPrintAssemblyInert(t *testing.T) {
	t.Parallel()
	ann := map[string]string{}
	for i, v := range hostileValues {
		ann[fmt.Sprintf("org.example.%d", i)] = v
	}
	idx := mutate.Annotations(empty.Index, ann).(v1.ImageIndex)
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	as := &assembly.Assembly{Index: idx, Digest: d}
	for _, v := range hostileValues {
		as.Manifests = append(as.Manifests, assembly.Manifest{Platform: v, Digest: "sha256:aa", Source: v})
	}
	for _, github := range []bool{true, false} {
		var stdout bytes.Buffer
		vars := map[string]string{"GITHUB_ACTIONS": fmt.Sprint(github)}
		u := newUI(env{getenv: func(k string) string { return vars[k] }, stdout: &stdout, stderr: &stdout})
		u.printAssembly(as)
		lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
		if want := 2*len(hostileValues) + 8; len(lines) != want { // platforms, "index", the JSON
			t.Errorf("printed %d lines, want %d:\n%s", len(lines), want, stdout.String())
		}
		for _, line := range lines {
			checkInertLine(t, line)
		}
	}
}
