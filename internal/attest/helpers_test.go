package attest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

var update = flag.Bool("update", false, "rewrite the golden statements in testdata")

func hash(c byte) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(c), 64)} }

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading golden file: %v (run go test -update to write it)", err)
	}
	if !bytes.Equal(append(got, '\n'), want) {
		t.Errorf("statement differs from %s (go test -update rewrites it)\ngot:  %s\nwant: %s", p, got, want)
	}
}

// readStatement parses a statement with in-toto's bindings and checks it
// the way they define, then returns its predicate as plain JSON values.
func readStatement(t *testing.T, b []byte, predicateType string) (*intoto.Statement, map[string]any) {
	t.Helper()
	var st intoto.Statement
	if err := protojson.Unmarshal(b, &st); err != nil {
		t.Fatalf("statement is not an in-toto Statement: %v", err)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("statement.Validate() = %v", err)
	}
	if got := st.GetType(); got != "https://in-toto.io/Statement/v1" {
		t.Errorf("_type = %q, want https://in-toto.io/Statement/v1", got)
	}
	if got := st.GetPredicateType(); got != predicateType {
		t.Errorf("predicateType = %q, want %q", got, predicateType)
	}
	var raw struct {
		Predicate map[string]any `json:"predicate"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return &st, raw.Predicate
}

// at walks nested JSON objects by key.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %q: not an object: %v", k, v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("no %q in %v", k, m)
		}
	}
	return v
}
