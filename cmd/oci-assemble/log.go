package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// lineHandler writes "message key=value ..." lines: readable in GitHub's
// and GitLab's log viewers, without timestamps the runner already adds.
// Messages and values often carry a source's text (a registry's error, a
// tag, a platform), so each line is redacted (redactor) and made inert:
// control characters escaped, values quoted when they hold a space or a
// quote, and no line that the runner would read as a workflow command.
type lineHandler struct {
	mu     *sync.Mutex
	w      io.Writer
	redact func(string) string
	attrs  []slog.Attr
}

var _ slog.Handler = (*lineHandler)(nil)

// newLineHandler writes to w, passing the message and each value through
// redact first; nil redacts nothing.
func newLineHandler(w io.Writer, redact func(string) string) *lineHandler {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	return &lineHandler{mu: &sync.Mutex{}, w: w, redact: redact}
}

func (h *lineHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(escapeControls(h.redact(r.Message)))
	write := func(a slog.Attr) bool {
		b.WriteByte(' ')
		b.WriteString(escapeControls(a.Key))
		b.WriteByte('=')
		b.WriteString(quoteValue(h.redact(a.Value.Resolve().String())))
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	line := inertLine(b.String()) + "\n"
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, line)
	return err
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &lineHandler{mu: h.mu, w: h.w, redact: h.redact, attrs: append(append([]slog.Attr{}, h.attrs...), attrs...)}
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
