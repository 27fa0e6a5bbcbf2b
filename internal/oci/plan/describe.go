package plan

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// describeCause renders the cause of a RefError for a person: a
// registry's answer (a *transport.Error) as the server that gave it, its
// status and the registry's own words, quoted and bounded, without the
// request line or the Go value of a diagnostic's detail; a request that
// got no answer (a *url.Error) as the server it could not reach and why,
// without the request's URL. Every other part of err's text is kept.
func describeCause(err error) string {
	text := err.Error()
	walkErrors(err, 0, func(e error) {
		var repl string
		switch e := e.(type) {
		case *transport.Error:
			repl = describeAnswer(e)
		case *url.Error:
			repl = describeNoAnswer(e)
		default:
			return
		}
		text = strings.Replace(text, e.Error(), repl, 1)
	})
	return text
}

// maxErrorDepth bounds how deep walkErrors follows an error chain.
const maxErrorDepth = 32

// walkErrors calls visit for err and every error it wraps: through
// Unwrap() error, Unwrap() []error, and a slice of errors
// (go-containerregistry's ping joins its HTTPS and HTTP attempts so).
func walkErrors(err error, depth int, visit func(error)) {
	if err == nil || depth > maxErrorDepth {
		return
	}
	visit(err)
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, depth+1, visit)
		}
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), depth+1, visit)
	default:
		if v := reflect.ValueOf(err); v.Kind() == reflect.Slice {
			for i := range min(v.Len(), maxErrorDepth) {
				if e, ok := v.Index(i).Interface().(error); ok {
					walkErrors(e, depth+1, visit)
				}
			}
		}
	}
}

// describeAnswer says who answered what: "registry HOST answered 401
// Unauthorized: "UNAUTHORIZED: authentication required"". A request
// outside the registry API (/v2/) went to the registry's token service.
func describeAnswer(te *transport.Error) string {
	who := "the registry"
	if te.Request != nil && te.Request.URL != nil {
		who = "registry " + te.Request.URL.Host
		if p := te.Request.URL.Path; p != "/v2" && !strings.HasPrefix(p, "/v2/") {
			who = "the token service at " + te.Request.URL.Host
		}
	}
	msg := fmt.Sprintf("%s answered %d %s", who, te.StatusCode, http.StatusText(te.StatusCode))
	if words := registryWords(te); words != "" {
		msg += ": " + QuoteText(words)
	}
	return msg
}

// registryWords is what the registry said: the code and message of each
// diagnostic (the detail is a Go value, a map of scopes for a 401, no
// words of the registry's), else the body it sent that was not the
// spec's JSON.
func registryWords(te *transport.Error) string {
	var words []string
	for i, d := range te.Errors {
		if i == 4 {
			words = append(words, fmt.Sprintf("and %d more", len(te.Errors)-i))
			break
		}
		w := string(d.Code)
		if d.Message != "" {
			w += ": " + d.Message
		}
		words = append(words, w)
	}
	if len(words) > 0 {
		return strings.Join(words, "; ")
	}
	// The body is only in the error's text, after the status.
	status := fmt.Sprintf("unexpected status code %d %s: ", te.StatusCode, http.StatusText(te.StatusCode))
	if _, body, ok := strings.Cut(te.Error(), status); ok {
		return strings.TrimSpace(body)
	}
	return ""
}

// describeNoAnswer says which server a request could not reach and why,
// in the words a person acts on.
func describeNoAnswer(ue *url.Error) string {
	where := "the registry"
	if u, err := url.Parse(ue.URL); err == nil && u.Host != "" {
		where = u.Host + " over " + u.Scheme
	}
	var why string
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(ue.Err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.As(ue.Err, &dns):
		why = "no such host " + QuoteText(dns.Name)
	case errors.As(ue.Err, &unknownCA):
		why = "its TLS certificate is signed by an authority this machine does not trust (add the CA to SSL_CERT_FILE or SSL_CERT_DIR)"
	case errors.As(ue.Err, &hostname), errors.As(ue.Err, &invalid):
		why = "its TLS certificate is not valid for it: " + QuoteText(ue.Err.Error())
	case ue.Timeout():
		why = "no answer in time"
	default:
		why = QuoteText(ue.Err.Error())
	}
	return "could not reach " + where + ": " + why
}

// Answered reports whether err came with an answer: not a request
// that failed on its way (net/http reports those as *url.Error) nor one
// the context ended, but a status, a body or a Link header that is not
// what the spec gives.
func Answered(err error) bool {
	var ue *url.Error
	return !errors.As(err, &ue) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// QuoteText bounds a registry's text for a warning and quotes it, so no
// newline or control character of its choosing reaches the log.
func QuoteText(s string) string {
	const limit = 200
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return strconv.Quote(s)
}
