package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxLocateLines bounds the lines yamlError parses again to find where a
// syntax error is; past it, yaml.v3's own line is reported.
const maxLocateLines = 400

// yamlError describes a syntax error of the registry-auth input by its
// position, line and column, and yaml.v3's reason, and never by the
// input's text: the input holds passwords.
//
// yaml.v3 reports the line where the construct that failed began (the
// list item of a key indented one space too few), not the line of the
// problem, and no column. The problem's line is the first line at which
// the text up to it fails with the same reason; its column is where the
// reason points (the tab, the character that cannot start a token, the
// alias) or else where the line's content starts.
func yamlError(text string, err error) string {
	reason, line := splitYAMLError(err)
	lines := strings.Split(text, "\n")
	if len(lines) <= maxLocateLines {
		for k := 1; k <= len(lines); k++ {
			var n yaml.Node
			perr := yaml.Unmarshal([]byte(strings.Join(lines[:k], "\n")), &n)
			if r, _ := splitYAMLError(perr); perr != nil && r == reason {
				line = k
				break
			}
		}
	}
	msg := redactYAMLReason(reason)
	if line < 1 || line > len(lines) {
		return msg
	}
	return fmt.Sprintf("line %d, column %d: %s", line, problemColumn(lines[line-1], reason), msg)
}

// splitYAMLError takes yaml.v3's "yaml: line N: reason" apart; line is 0
// when the message has none.
func splitYAMLError(err error) (reason string, line int) {
	if err == nil {
		return "", 0
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return "the value has the wrong type", 0
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if _, serr := fmt.Sscanf(n, "%d", &line); serr == nil {
				return after, line
			}
		}
	}
	return msg, 0
}

// problemColumn is the 1-based column, in bytes, of what reason points
// at on line, or of the line's first non-blank character.
func problemColumn(line, reason string) int {
	var at int
	switch {
	case strings.Contains(reason, "tab character"):
		at = strings.IndexByte(line, '\t')
	case strings.Contains(reason, "cannot start any token"):
		at = strings.IndexAny(line, "@`")
	case strings.HasPrefix(reason, "unknown anchor"):
		at = strings.IndexByte(line, '*')
	case strings.Contains(reason, "unknown escape character"):
		at = strings.IndexByte(line, '\\')
	default:
		at = -1
	}
	if at < 0 {
		at = strings.IndexFunc(line, func(r rune) bool { return r != ' ' && r != '\t' })
	}
	return max(at, 0) + 1
}

// grammarTokens are the texts yaml.v3 quotes from its own grammar
// ("did not find expected '-' indicator", "',' or '}'"), kept in a
// message; anything else it quotes (an anchor's name) comes from the
// input and may be part of a secret.
var grammarTokens = []string{"-", ",", "}", "]", ":", "!", ".", ">"}

// redactYAMLReason keeps yaml.v3's reason but replaces every quoted text
// that is not one of its grammar's tokens with '…', and puts it on one
// line.
func redactYAMLReason(msg string) string {
	var b strings.Builder
	for {
		i := strings.IndexAny(msg, "'`\"")
		if i < 0 {
			b.WriteString(msg)
			break
		}
		b.WriteString(msg[:i])
		q := msg[i]
		end := strings.IndexByte(msg[i+1:], q)
		if end < 0 {
			b.WriteString("'…'")
			break
		}
		quoted := msg[i+1 : i+1+end]
		if q == '\'' && slices.Contains(grammarTokens, quoted) {
			b.WriteString("'" + quoted + "'")
		} else {
			b.WriteString("'…'")
		}
		msg = msg[i+2+end:]
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
