package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text from a source (a platform, an annotation, a tag, a registry's error)
// reaches three readers that each give some characters a meaning: the
// runner's log, where a line that starts with "::" or holds "##[" is a
// workflow command
// (https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands)
// and ESC and \r drive GitLab's log viewer; annotations; and the step
// summary's markdown. The functions here make such text inert for each.

// escapeControls writes every control character, line or paragraph
// separator, bidirectional formatting character and invalid UTF-8 byte of
// s as a Go escape (\n, \x1b, \u2028), so that s stays on one line and
// cannot drive a terminal. Tabs and spaces stay.
func escapeControls(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t' || !unsafeRune(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\n', '\x1b', '\u2028'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || (r != '\t' && unsafeRune(r)) {
			return true
		}
		i += size
	}
	return false
}

// unsafeRune is a rune a log line must not hold raw: C0 and C1 controls and
// DEL (ECMA-48), the Unicode line and paragraph separators, and the
// bidirectional and zero-width formatting characters that make a line read
// other than it is (Unicode TR #9, CVE-2021-42574).
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029', r == '\ufeff':
		return true
	case r >= '\u200b' && r <= '\u200f', r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// oneLine is a message for the log, stderr or an annotation: line breaks
// become "; " (one problem, one line), runs of spaces one space, and every
// other control character is escaped.
func oneLine(s string) string {
	s = strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", "; ").Replace(s)
	return escapeControls(strings.Join(strings.Fields(s), " "))
}

// inertLine makes a line the runner reads as text, never as a workflow
// command: it must not start with "::" once leading space is trimmed, nor
// hold "##[" anywhere (the runner's older command syntax). line must hold
// no line break (escapeControls).
func inertLine(line string) string {
	line = strings.ReplaceAll(line, "##[", `##\[`)
	if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") {
		line = `\` + line
	}
	return line
}

// quoteValue quotes a logged value when it is empty or holds a space, a
// quote, a backslash, an equals sign or a character escapeControls would
// escape, so that "key=value" stays one field; other values print as they
// are.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\"\\=") && !needsEscape(v) {
		return v
	}
	q := strconv.Quote(v)
	// strconv.Quote leaves printable format characters raw.
	return escapeControls(q)
}

// escapeCommandData escapes a workflow command's message as the runner's
// toolkit does (@actions/core command.ts escapeData): %, \r and \n.
func escapeCommandData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// mdText makes s plain text in GitHub Flavored Markdown: every character
// markdown or an autolink could give a meaning to is backslash-escaped
// (CommonMark 0.31 section 2.4: any ASCII punctuation may be), and <, >
// and & are entity references (section 2.5), so a source's text is shown, never rendered as a link, an image or
// HTML, and a pipe does not split a table cell
// (https://github.github.com/gfm/#tables-extension-).
func mdText(s string) string {
	s = escapeControls(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case strings.ContainsRune("\\`*_{}[]()#!|~:@.$", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode makes s a markdown code span, in which nothing is rendered: its
// fence is one backtick longer than the longest run inside, and a space
// pads a span that starts or ends with one (CommonMark 0.31 section 6.1).
// In a table cell a pipe is escaped even inside a code span
// (https://github.github.com/gfm/#example-200).
func mdCode(s string, cell bool) string {
	s = escapeControls(s)
	if cell {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	fence := strings.Repeat("`", longestBacktickRun(s)+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || s == "" {
		s = " " + s + " "
	}
	return fence + s + fence
}

// longestBacktickRun is the length of the longest run of backticks in s:
// a code span or fence one longer cannot be closed from inside s
// (CommonMark 0.31, sections 4.5 and 6.1).
func longestBacktickRun(s string) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}
