package hosts

import (
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Insecure is the set of registries the user listed as serving plain HTTP
// (the insecure-registries input), built once and only read after: it is
// safe for concurrent use. Its zero value lists no host: every registry is
// HTTPS with certificate verification.
//
// A listed host has to be marked wherever a reference to it is parsed,
// not only where requests are sent: go-containerregistry speaks plain HTTP
// to a registry only when its reference says so (name.Insecure), or for
// loopback and RFC 1918 addresses, so a DNS name such as the "registry"
// service of a GitLab CI job is otherwise tried over HTTPS alone.
type Insecure struct {
	set map[string]bool // lower-case host[:port]
}

// NewInsecure returns the set of hosts, each host[:port] as written in
// references. Entries are compared case-insensitively and with their port:
// registry:5000 does not make registry insecure. Blank entries are ignored.
func NewInsecure(hosts ...string) Insecure {
	s := Insecure{set: make(map[string]bool, len(hosts))}
	for _, h := range hosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			s.set[h] = true
		}
	}
	return s
}

// Has reports whether host (host[:port], any case) was listed.
func (s Insecure) Has(host string) bool {
	return s.set[strings.ToLower(host)]
}

// Hosts returns the listed hosts, lower-cased and sorted.
func (s Insecure) Hosts() []string {
	out := make([]string, 0, len(s.set))
	for h := range s.set {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// NameOptions returns the options a reference on host is parsed with:
// name.Insecure for a listed host, none otherwise.
func (s Insecure) NameOptions(host string) []name.Option {
	if s.Has(host) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// Repository returns r marked for plain HTTP when its host is listed, and
// r unchanged otherwise: for a reference that was parsed without the set.
func (s Insecure) Repository(r name.Repository) name.Repository {
	if !s.Has(r.RegistryStr()) {
		return r
	}
	reg, err := name.NewRegistry(r.RegistryStr(), name.Insecure)
	if err != nil {
		return r // unreachable: r's registry parsed once already
	}
	return reg.Repo(r.RepositoryStr())
}

// Tag returns t marked for plain HTTP when its host is listed, and t
// unchanged otherwise.
func (s Insecure) Tag(t name.Tag) name.Tag {
	if !s.Has(t.RegistryStr()) {
		return t
	}
	return s.Repository(t.Context()).Tag(t.TagStr())
}
