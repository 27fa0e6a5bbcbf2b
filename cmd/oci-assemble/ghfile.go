package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// errOutput is returned for a step output that cannot be written safely.
var errOutput = errors.New("invalid step output")

// outputName is what the runner accepts as an output name (letters,
// digits, - and _, as in steps.<id>.outputs.<name>); it can hold neither
// "=" nor "<<", which start a value in GITHUB_OUTPUT.
var outputName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// delimiterTries bounds how often a delimiter is drawn again for a value
// that contains it; with 128 random bits the second draw is already
// never needed.
const delimiterTries = 4

// output is one step output; a JSON value stays JSON when redacted.
type output struct {
	name, value string
	json        bool
}

// formatOutputs encodes outputs for GITHUB_OUTPUT in the runner's
// multi-line form, NAME<<DELIMITER, the value, DELIMITER, each with its own
// random delimiter that the value does not contain, as the runner's
// toolkit does (@actions/core file-command.ts prepareKeyValueMessage).
// A fixed delimiter would let a value that holds it (a registry's error
// text, a tag name) end its output early and set the next ones.
// https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands#multiline-strings
func formatOutputs(outs []output, random func([]byte) (int, error)) (string, error) {
	var b strings.Builder
	for _, o := range outs {
		if !outputName.MatchString(o.name) {
			return "", fmt.Errorf("%w: name %q", errOutput, o.name)
		}
		delim, err := delimiterFor(o.value, random)
		if err != nil {
			return "", fmt.Errorf("%w %s: %w", errOutput, o.name, err)
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", o.name, delim, o.value, delim)
	}
	return b.String(), nil
}

// delimiterFor draws "ghadelimiter_" and a random UUID (RFC 9562 version 4)
// until the result occurs nowhere in value.
func delimiterFor(value string, random func([]byte) (int, error)) (string, error) {
	for range delimiterTries {
		var u [16]byte
		if _, err := random(u[:]); err != nil {
			return "", fmt.Errorf("drawing a delimiter: %w", err)
		}
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		d := fmt.Sprintf("ghadelimiter_%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
		if !strings.Contains(value, d) {
			return d, nil
		}
	}
	return "", errors.New("every delimiter drawn occurs in the value")
}

// appendFile appends text to the file the runner named in env (GITHUB_OUTPUT,
// GITHUB_STEP_SUMMARY) in one write.
func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(text)
	if err := f.Close(); werr == nil {
		werr = err
	}
	return werr
}

// writeOutputs appends outs to GITHUB_OUTPUT, each value redacted first.
func (u *ui) writeOutputs(outs []output) error {
	for i, o := range outs {
		if !o.json {
			outs[i].value = u.red.redact(o.value)
			continue
		}
		v, err := u.red.redactJSON([]byte(o.value))
		if err != nil {
			return fmt.Errorf("%w %s: %w", errOutput, o.name, err)
		}
		outs[i].value = string(v)
	}
	text, err := formatOutputs(outs, rand.Read)
	if err != nil {
		return err
	}
	if err := appendFile(u.e.getenv("GITHUB_OUTPUT"), text); err != nil {
		return fmt.Errorf("writing the step outputs: %w", err)
	}
	return nil
}
