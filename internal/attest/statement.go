package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// PayloadType is the DSSE payload type of an in-toto statement.
// https://github.com/in-toto/attestation/blob/main/spec/v1/envelope.md
const PayloadType = "application/vnd.in-toto+json"

// Subject is one artifact a statement is about: an image manifest or an
// index, named by its repository.
type Subject struct {
	// Name is the repository without tag or digest, e.g. ghcr.io/o/app.
	Name string
	// Digest is the manifest's sha256 digest.
	Digest v1.Hash
}

// checkSHA256 reports whether h is a sha256 digest of 64 lower-case hex
// characters, the only digest the statements carry.
func checkSHA256(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 || strings.Trim(h.Hex, "0123456789abcdef") != "" {
		return fmt.Errorf("digest %q is not sha256:<64 lower-case hex>", h.String())
	}
	return nil
}

// checkText refuses a string that JSON cannot carry as given: text that is
// not UTF-8 would be replaced, silently, by U+FFFD.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	return nil
}

func descriptor(s Subject) (*intoto.ResourceDescriptor, error) {
	if err := checkSHA256(s.Digest); err != nil {
		return nil, fmt.Errorf("subject %q: %w", s.Name, err)
	}
	if err := checkText("subject name", s.Name); err != nil {
		return nil, err
	}
	if s.Name == "" {
		return nil, fmt.Errorf("subject %s has no name; give its repository", s.Digest)
	}
	return &intoto.ResourceDescriptor{Name: s.Name, Digest: map[string]string{"sha256": s.Digest.Hex}}, nil
}

// statement wraps predicate (JSON of an object) in an in-toto v1
// Statement about subjects, validates it with in-toto's bindings and
// returns compact JSON. protojson writes fields in declaration order and
// object keys sorted, and json.Compact drops the whitespace it varies on
// purpose, so the same input gives the same bytes.
func statement(subjects []Subject, predicateType string, predicate []byte) ([]byte, error) {
	st := &intoto.Statement{Type: intoto.StatementTypeUri, PredicateType: predicateType, Predicate: &structpb.Struct{}}
	seen := map[Subject]bool{}
	for _, s := range subjects {
		if seen[s] {
			continue
		}
		seen[s] = true
		rd, err := descriptor(s)
		if err != nil {
			return nil, err
		}
		st.Subject = append(st.Subject, rd)
	}
	if err := protojson.Unmarshal(predicate, st.Predicate); err != nil {
		return nil, fmt.Errorf("reading %s predicate: %w", predicateType, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("checking %s statement: %w", predicateType, err)
	}
	raw, err := protojson.MarshalOptions{UseProtoNames: false}.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("writing %s statement: %w", predicateType, err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return nil, fmt.Errorf("writing %s statement: %w", predicateType, err)
	}
	return out.Bytes(), nil
}
