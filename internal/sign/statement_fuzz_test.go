package sign

import (
	"encoding/json"
	"testing"
)

func FuzzCheckStatement(f *testing.F) {
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[{"name":"x","digest":{"sha256":"aa"}}],"predicate":{}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"digest":{}}]}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[]} []`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := checkStatement(b)
		if err != nil {
			return
		}
		// protojson also takes the proto field names.
		var m map[string]any
		if uerr := json.Unmarshal(b, &m); uerr != nil || pt == "" || (m["_type"] != StatementTypeV1 && m["type"] != StatementTypeV1) {
			t.Errorf("checkStatement(%q) accepted %q; unmarshal %v, statement %v", b, pt, uerr, m)
		}
	})
}
