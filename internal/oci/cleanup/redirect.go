package cleanup

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ErrCrossOriginRedirect is wrapped by the error of a vendor API call that
// was redirected to another scheme, host or port.
var ErrCrossOriginRedirect = errors.New("redirect to another origin refused")

// maxRedirects bounds the redirects followed within one origin, as
// net/http's default policy does.
const maxRedirects = 10

// sameOrigin is the redirect policy of every vendor API call. net/http
// carries every header but Authorization, WWW-Authenticate and Cookie
// across hosts, and replays a POST body on 307 and 308
// (https://pkg.go.dev/net/http#Client): GitLab's JOB-TOKEN header
// (https://docs.gitlab.com/ci/jobs/ci_job_token/) and Docker Hub's login
// body would reach whatever host a redirect named. A credential is only
// ever sent to the origin (RFC 6454: scheme, host and port) it was meant
// for, so a redirect that leaves that origin is refused, not followed.
func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	from := via[0].URL
	if origin(req.URL) != origin(from) {
		return fmt.Errorf("%w: %s answered with a redirect to %s://%s; credentials for %s are not sent there",
			ErrCrossOriginRedirect, redact(from.String()), req.URL.Scheme, req.URL.Host, from.Host)
	}
	return nil
}

// origin is scheme://host:port with the default port made explicit and
// the host lower-cased.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
