package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Transport says where an image lives.
type Transport int

const (
	// Registry is a repository in an OCI distribution registry.
	Registry Transport = iota
	// Layout is an OCI image layout directory (oci:PATH[:TAG|@DIGEST]).
	Layout
	// DockerArchive is a `docker save` tarball, optionally gzipped
	// (docker-archive:PATH); nix's streamLayeredImage writes the same format.
	DockerArchive
)

func (t Transport) String() string {
	switch t {
	case Layout:
		return "oci"
	case DockerArchive:
		return "docker-archive"
	default:
		return "registry"
	}
}

// ErrInvalidReference is wrapped by every reference parsing error.
var ErrInvalidReference = errors.New("invalid reference")

// ErrEmptyPart is wrapped, with ErrInvalidReference, by the error for a
// reference whose tag after ':' or digest after '@' is empty: what a
// workflow writes as REPO@${{ needs.build.outputs.digest }} becomes when
// that output is empty. Callers that know the input add why it was.
var ErrEmptyPart = errors.New("empty tag or digest")

// emptyPartError is a reference with an empty tag or digest; it matches
// both ErrInvalidReference and ErrEmptyPart.
type emptyPartError struct{ ref, what string }

func (e *emptyPartError) Error() string { return fmt.Sprintf("%q: %s", e.ref, e.what) }

func (e *emptyPartError) Is(target error) bool {
	return target == ErrInvalidReference || target == ErrEmptyPart
}

// emptyPart says which part of s is empty, if its tag after the last ':'
// (past the last '/') or its digest after '@' is: "ghcr.io/o/app:",
// "ghcr.io/o/app@" or "ghcr.io/o/app@sha256:". It returns "" otherwise.
func emptyPart(s string) string {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		d := s[i+1:]
		if alg, hex, ok := strings.Cut(d, ":"); d == "" || ok && alg != "" && hex == "" {
			return "the digest after '@' is empty"
		}
		return ""
	}
	if strings.HasSuffix(s, ":") && !strings.Contains(s[strings.LastIndex(s, ":"):], "/") {
		return "the tag after ':' is empty"
	}
	return ""
}

// Ref is a reference with its transport. For Registry, Repo is always set
// and at most one of Tag and Digest is; a Registry Ref with neither names a
// repository (push by digest only). For Layout, Path is the directory and
// Tag or Digest select an entry of its index.json. For DockerArchive, Path
// is the tarball.
type Ref struct {
	Transport Transport
	Repo      name.Repository
	Path      string
	Tag       string
	Digest    string
	// Original is the text the user wrote, for messages.
	Original string
}

// String returns the reference in the form the user wrote it.
func (r Ref) String() string {
	if r.Original != "" {
		return r.Original
	}
	switch r.Transport {
	case Layout:
		s := "oci:" + r.Path
		if r.Digest != "" {
			return s + "@" + r.Digest
		}
		if r.Tag != "" {
			return s + ":" + r.Tag
		}
		return s
	case DockerArchive:
		return "docker-archive:" + r.Path
	}
	if r.Digest != "" {
		return r.Repo.String() + "@" + r.Digest
	}
	if r.Tag != "" {
		return r.Repo.String() + ":" + r.Tag
	}
	return r.Repo.String()
}

// Reference returns the registry reference (tag, digest, or for a bare
// repository nil). Only meaningful for Registry refs.
func (r Ref) Reference() name.Reference {
	switch {
	case r.Digest != "":
		return r.Repo.Digest(r.Digest)
	case r.Tag != "":
		return r.Repo.Tag(r.Tag)
	}
	return nil
}

// ParseRef parses a reference with an optional transport prefix. A registry
// reference keeps the absence of a tag (it does not default to "latest"), so
// callers can tell "repository" from "repository:latest". Options are passed
// to name: name.Insecure for a registry listed insecure (hosts.Insecure's
// NameOptions), without which a registry named by DNS is HTTPS only.
func ParseRef(s string, opts ...name.Option) (Ref, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Ref{}, fmt.Errorf("%w: empty", ErrInvalidReference)
	}
	switch {
	case strings.HasPrefix(s, "oci:"):
		return parseLayout(orig, strings.TrimPrefix(s, "oci:"))
	case strings.HasPrefix(s, "docker-archive:"):
		p := strings.TrimPrefix(s, "docker-archive:")
		if p == "" {
			return Ref{}, fmt.Errorf("%w: %q: docker-archive: needs a path", ErrInvalidReference, orig)
		}
		return Ref{Transport: DockerArchive, Path: p, Original: s}, nil
	case strings.HasPrefix(s, "docker://"):
		s = strings.TrimPrefix(s, "docker://")
	}
	return parseRegistry(s, opts...)
}

func parseRegistry(s string, opts ...name.Option) (Ref, error) {
	// A repository parses only without a tag or digest (':' and '@' are not
	// repository characters), so a target keeps "no tag" as given.
	if repo, err := name.NewRepository(s, opts...); err == nil {
		return Ref{Transport: Registry, Repo: repo, Original: s}, nil
	}
	if what := emptyPart(s); what != "" {
		return Ref{}, &emptyPartError{ref: s, what: what}
	}
	if i := strings.Index(s, "@"); i >= 0 {
		d, err := name.NewDigest(s, opts...)
		if err != nil {
			return Ref{}, fmt.Errorf("%w: %q: %v", ErrInvalidReference, s, err)
		}
		// name.NewDigest accepts repo:tag@digest; the digest wins, as in docker.
		return Ref{Transport: Registry, Repo: d.Context(), Digest: d.DigestStr(), Original: s}, nil
	}
	tag, err := name.NewTag(s, opts...)
	if err != nil {
		return Ref{}, fmt.Errorf("%w: %q: %v", ErrInvalidReference, s, err)
	}
	return Ref{Transport: Registry, Repo: tag.Context(), Tag: tag.TagStr(), Original: s}, nil
}

func parseLayout(orig, s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("%w: %q: oci: needs a directory", ErrInvalidReference, orig)
	}
	r := Ref{Transport: Layout, Original: strings.TrimSpace(orig)}
	if what := emptyPart(s); what != "" {
		return Ref{}, &emptyPartError{ref: r.Original, what: what}
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		h, err := v1.NewHash(s[i+1:])
		if err != nil {
			return Ref{}, fmt.Errorf("%w: %q: bad digest: %v", ErrInvalidReference, orig, err)
		}
		r.Path, r.Digest = s[:i], h.String()
	} else if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i:], "/") {
		// A colon after the last slash separates the tag, as in skopeo.
		r.Path, r.Tag = s[:i], s[i+1:]
		if strings.ContainsAny(r.Tag, " \t\n") {
			return Ref{}, fmt.Errorf("%w: %q: tag has white space", ErrInvalidReference, orig)
		}
	} else {
		r.Path = s
	}
	if r.Path == "" {
		return Ref{}, fmt.Errorf("%w: %q: oci: needs a directory", ErrInvalidReference, orig)
	}
	return r, nil
}

// RefError is a registry operation on a reference that failed. It keeps
// the registry's *transport.Error wrapped for errors.As.
type RefError struct {
	Op  string
	Ref name.Reference
	Err error
}

// Error says what failed and on what, then the cause as a person reads
// it (describeCause): the registry's answer and its own words, or the
// server that did not answer, never a request line or a Go value. A cause
// that already starts with what failed is not said twice.
func (e *RefError) Error() string {
	what := e.Op + " " + e.Ref.String()
	cause := describeCause(e.Err)
	if strings.HasPrefix(cause, what+": ") {
		return cause
	}
	return what + ": " + cause
}

// Unwrap returns the cause.
func (e *RefError) Unwrap() error { return e.Err }
