package cleanup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/oci-assemble/oci-assemble/internal/oci/stack"
)

// APIError is a refusal from a vendor REST API (GitHub, Docker Hub, GitLab).
// Registry refusals stay *transport.Error.
type APIError struct {
	// Service names the API: "GitHub", "Docker Hub" or "GitLab".
	Service string
	// Method and URL are the request's (URLs never carry credentials here).
	Method, URL string
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is the API's diagnostic, when it sent one.
	Message string
}

// Error implements error.
func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s API %s %s: %d %s", e.Service, e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// maxAPIBody bounds what is read from an API answer; package version
// listings are 100 entries of well under 2 KiB.
const maxAPIBody = 8 << 20

// apiCall is one request to a vendor API.
type apiCall struct {
	service string
	method  string
	url     string
	header  http.Header
	body    io.Reader
	want    []int
}

// do sends the call and returns the answer's body, or an *APIError when the
// status is not one of want.
func (d *Deleter) do(ctx context.Context, c apiCall) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, c.body)
	if err != nil {
		return nil, nil, fmt.Errorf("building %s API request: %w", c.service, err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := d.client.Do(req)
	if err != nil {
		// The *url.Error repeats the method and URL this message names.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("%s API %s %s: %w", c.service, c.method, redact(c.url), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s API answer to %s %s: %w", c.service, c.method, redact(c.url), err)
	}
	if !slices.Contains(c.want, resp.StatusCode) {
		return resp, body, &APIError{
			Service:    c.service,
			Method:     c.method,
			URL:        redact(c.url),
			StatusCode: resp.StatusCode,
			Message:    apiMessage(body),
		}
	}
	return resp, body, nil
}

// apiMessage pulls the diagnostic out of a GitHub ({"message"}), Docker Hub
// ({"detail"} or {"message"}) or GitLab ({"message"} or {"error"}) error
// body, and keeps it to one short line.
func apiMessage(body []byte) string {
	var e struct {
		Message json.RawMessage `json:"message"`
		Detail  string          `json:"detail"`
		Error   string          `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		var s string
		switch {
		case json.Unmarshal(e.Message, &s) == nil && s != "":
			msg = s
		case len(e.Message) > 0 && string(e.Message) != "null":
			msg = string(e.Message)
		case e.Detail != "":
			msg = e.Detail
		default:
			msg = e.Error
		}
	}
	return oneLine(msg)
}

// maxRegistryText bounds registry or API text quoted in a reason, and
// maxErrorText an error's whole text (which may quote such text).
const (
	maxRegistryText = 200
	maxErrorText    = 500
)

// oneLine makes registry or API text fit one line of a reason: whitespace
// runs become one space, other control characters (ANSI escapes, NUL,
// DEL, C1) are written escaped, and it is cut at maxRegistryText runes.
// A reason reaches kept-tags, logs and annotations, where a newline or an
// escape sequence in the registry's text must not start a line of its
// own.
func oneLine(s string) string { return oneLineMax(s, maxRegistryText) }

// oneLineMax is oneLine cut at limit runes.
func oneLineMax(s string, limit int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\ufffd")), " ")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == limit {
			b.WriteString("…")
			break
		}
		n++
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// redact drops the query string, which some APIs accept tokens in.
func redact(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i]
	}
	return raw
}

// findPaged walks a vendor API listing with stack.Pages: it GETs first and
// then each page the Link headers name (at most d.o.list.apiPages, past
// which it fails with ErrListTooLong, and only under first's origin so a
// token never leaves the API), decodes each page as a JSON array of T, and
// returns the first item that match accepts. what names the listing in
// errors.
func findPaged[T any](ctx context.Context, d *Deleter, service, what, first string, header http.Header, match func(T) bool) (T, bool, error) {
	var found T
	var ok bool
	errFound := errors.New("found")
	err := stack.Pages(ctx, first, d.o.list.apiPages, func(ctx context.Context, u string) (http.Header, error) {
		resp, body, err := d.do(ctx, apiCall{service: service, method: http.MethodGet, url: u, header: header, want: []int{http.StatusOK}})
		if err != nil {
			return nil, err
		}
		var list []T
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, fmt.Errorf("decoding %s %s from %s: %w", service, what, redact(u), err)
		}
		for _, item := range list {
			if match(item) {
				found, ok = item, true
				return nil, errFound
			}
		}
		return resp.Header, nil
	})
	switch {
	case errors.Is(err, errFound):
		return found, ok, nil
	case errors.Is(err, stack.ErrTooManyPages):
		return found, false, fmt.Errorf("listing %s %s: %w: the API sent more than %d pages", service, what, ErrListTooLong, d.o.list.apiPages)
	}
	return found, false, err
}
