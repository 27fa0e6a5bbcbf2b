package auth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// key is a normalised registry or repository path: a lower-case host
// (with port) and zero or more path segments.
type key struct {
	host string
	path []string
}

// parseKey normalises an entry name or a resource string: it drops an
// http(s):// scheme, trailing slashes and, for a URL, the /v1 or /v2 API
// suffix (https://index.docker.io/v1/), and gives the host its canonical
// spelling (hosts.Canonical: lower case, Docker Hub's aliases folded).
func parseKey(s string) (key, error) {
	s = strings.TrimSpace(s)
	hadScheme := false
	for _, scheme := range []string{"https://", "http://"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			hadScheme = true
			break
		}
	}
	s = strings.TrimRight(s, "/")
	host, rest, _ := strings.Cut(s, "/")
	host = hosts.Canonical(host)
	if host == "" {
		return key{}, errors.New("no registry host")
	}
	if strings.ContainsAny(host, " \t\r\n@?#") {
		return key{}, fmt.Errorf("registry host %q is not a host name", host)
	}
	var path []string
	for seg := range strings.SplitSeq(rest, "/") {
		if seg != "" {
			path = append(path, seg)
		}
	}
	if hadScheme && len(path) == 1 && (path[0] == "v1" || path[0] == "v2") {
		path = nil
	}
	for _, seg := range path {
		if strings.ContainsAny(seg, " \t\r\n@?#") {
			return key{}, fmt.Errorf("repository path segment %q is not valid", seg)
		}
	}
	return key{host: host, path: path}, nil
}

// String returns the normalised form, host[/path].
func (k key) String() string {
	if len(k.path) == 0 {
		return k.host
	}
	return k.host + "/" + strings.Join(k.path, "/")
}

// matches reports whether k names r or a path-segment prefix of r, and how
// specific it is: 1 for a registry, 1+n for n path segments.
func (k key) matches(r key) (int, bool) {
	if k.host != r.host || len(k.path) > len(r.path) {
		return 0, false
	}
	for i, seg := range k.path {
		if seg != r.path[i] {
			return 0, false
		}
	}
	return 1 + len(k.path), true
}

// helperAddress is the server address a credential helper is asked about:
// docker keeps Docker Hub under its historical index URL.
func (k key) helperAddress() string {
	if k.host == hosts.DockerHub && len(k.path) == 0 {
		return hosts.DockerHubKey
	}
	return k.String()
}
