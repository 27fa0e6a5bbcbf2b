package stack

import (
	"net/http"
	"strings"
)

// sentCredentials hands record the credential of every request that
// carries one: the part of its Authorization header after the scheme
// (RFC 9110 section 11.6.2), a Basic credential or a bearer token a token
// service issued. No input names a bearer token, and a registry that
// echoes one back, without its scheme, in an error body would otherwise
// have it printed; the caller keeps what it records out of its output.
type sentCredentials struct {
	inner  http.RoundTripper
	record func(string)
}

func (s *sentCredentials) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, h := range []string{"Authorization", "Proxy-Authorization"} {
		if _, cred, ok := strings.Cut(req.Header.Get(h), " "); ok {
			if cred = strings.TrimSpace(cred); cred != "" {
				s.record(cred)
			}
		}
	}
	return s.inner.RoundTrip(req)
}
