package attest

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var spdxID = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)

func nixFile(name, rest string, c byte) File {
	return File{Path: "/nix/store/" + nixHash + "-" + name + rest, SHA256: hash(c)}
}

func sampleSBOM() SBOMInput {
	return SBOMInput{
		Image:    Subject{Name: "ghcr.io/o/app", Digest: hash('a')},
		Platform: "linux/arm64",
		Created:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
		Version:  "1.2.3",
		Files: []File{
			nixFile("hello-2.12.1", "/bin/hello", 'b'),
			nixFile("openssl-3.0.14-bin", "/bin/openssl", 'c'),
			nixFile("hello-2.12.1", "/share/man/man1/hello.1.gz", 'd'),
			{Path: "/etc/passwd", SHA256: hash('e'), SHA1: strings.Repeat("f", 40)},
			nixFile("tzdata", "", '1'),
		},
	}
}

func TestSBOMGolden(t *testing.T) {
	t.Parallel()
	got, err := SBOM(sampleSBOM())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sbom.golden.json", got)
}

// TestSBOMStructure checks the document against the SPDX 2.3 JSON
// schema's required fields and the spec's rules on identifiers.
func TestSBOMStructure(t *testing.T) {
	t.Parallel()
	in := sampleSBOM()
	b, err := SBOM(in)
	if err != nil {
		t.Fatal(err)
	}
	st, doc := readStatement(t, b, "https://spdx.dev/Document")
	if len(st.GetSubject()) != 1 || st.GetSubject()[0].GetDigest()["sha256"] != in.Image.Digest.Hex || st.GetSubject()[0].GetName() != "ghcr.io/o/app" {
		t.Errorf("subject = %v, want ghcr.io/o/app with the manifest digest", st.GetSubject())
	}
	for k, want := range map[string]string{"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT"} {
		if got := at(t, doc, k); got != want {
			t.Errorf("%s = %v, want %q", k, got, want)
		}
	}
	if ns := at(t, doc, "documentNamespace").(string); !strings.HasPrefix(ns, "https://") || !strings.Contains(ns, in.Image.Digest.Hex) {
		t.Errorf("documentNamespace = %q, want an https URI naming the digest", ns)
	}
	if got := at(t, doc, "creationInfo", "created"); got != "2026-01-02T02:04:05Z" {
		t.Errorf("created = %v, want 2026-01-02T02:04:05Z (UTC)", got)
	}
	if got := at(t, doc, "creationInfo", "creators").([]any); len(got) != 1 || got[0] != "Tool: oci-assemble-1.2.3" {
		t.Errorf("creators = %v, want [Tool: oci-assemble-1.2.3]", got)
	}
	ids := map[string]string{"SPDXRef-DOCUMENT": "document"}
	purls := map[string]string{}
	for _, p := range at(t, doc, "packages").([]any) {
		for _, k := range []string{"SPDXID", "name", "downloadLocation"} {
			at(t, p, k)
		}
		id := at(t, p, "SPDXID").(string)
		ids[id] = "package"
		for _, r := range at(t, p, "externalRefs").([]any) {
			purls[id] = at(t, r, "referenceLocator").(string)
		}
	}
	for _, f := range at(t, doc, "files").([]any) {
		at(t, f, "fileName")
		ids[at(t, f, "SPDXID").(string)] = "file"
		for _, c := range at(t, f, "checksums").([]any) {
			if a := at(t, c, "algorithm"); a != "SHA256" && a != "SHA1" {
				t.Errorf("checksum algorithm %v", a)
			}
		}
	}
	if got, want := len(ids), 1+1+3+5; got != want {
		t.Errorf("%d distinct SPDXIDs, want %d (document, image, 3 nix packages, 5 files)", got, want)
	}
	for id := range ids {
		if !spdxID.MatchString(id) {
			t.Errorf("SPDXID %q does not match %s", id, spdxID)
		}
	}
	var gotPurls []string
	for _, p := range purls {
		gotPurls = append(gotPurls, p)
	}
	slices.Sort(gotPurls)
	wantPurls := []string{"pkg:nix/hello@2.12.1", "pkg:nix/openssl@3.0.14-bin", "pkg:nix/tzdata",
		"pkg:oci/app@sha256%3A" + in.Image.Digest.Hex + "?arch=arm64&repository_url=ghcr.io/o/app"}
	if !slices.Equal(gotPurls, wantPurls) {
		t.Errorf("purls = %q, want %q", gotPurls, wantPurls)
	}
	containedBy := map[string]int{}
	for _, r := range at(t, doc, "relationships").([]any) {
		a, typ, b := at(t, r, "spdxElementId").(string), at(t, r, "relationshipType").(string), at(t, r, "relatedSpdxElement").(string)
		if ids[a] == "" || ids[b] == "" {
			t.Errorf("relationship %s %s %s names an unknown element", a, typ, b)
		}
		if typ == "CONTAINS" && ids[b] == "file" {
			containedBy[b]++
			if b == fileID("/etc/passwd") && a != "SPDXRef-Image" {
				t.Errorf("/etc/passwd contained by %s, want the image", a)
			}
			if b == fileID("/nix/store/"+nixHash+"-hello-2.12.1/bin/hello") && purls[a] != "pkg:nix/hello@2.12.1" {
				t.Errorf("hello's binary contained by %s (%s), want pkg:nix/hello@2.12.1", a, purls[a])
			}
		}
	}
	for id, kind := range ids {
		if kind == "file" && containedBy[id] != 1 {
			t.Errorf("file %s is contained %d times, want once", id, containedBy[id])
		}
	}
}

func fileID(p string) string { return "SPDXRef-File-" + idHash(p) }

func TestSBOMDeterministic(t *testing.T) {
	t.Parallel()
	a, err := SBOM(sampleSBOM())
	if err != nil {
		t.Fatal(err)
	}
	in := sampleSBOM()
	slices.Reverse(in.Files)
	b, err := SBOM(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Errorf("SBOM depends on the order of the files:\n%s\n%s", a, b)
	}
}

func TestSBOMHostileNames(t *testing.T) {
	t.Parallel()
	hostile := []string{
		"/etc/\"quoted\"\\back",
		"/tmp/new\nline",
		"/srv/</script><script>alert(1)</script>",
		"/srv/\u2028sep\u0000nul",
		"/srv/ünïcødé-名前",
	}
	in := sampleSBOM()
	in.Image.Name = "reg.example:5000/o/a\"pp"
	for i, p := range hostile {
		in.Files = append(in.Files, File{Path: p, SHA256: hash("0123456789"[i])})
	}
	b, err := SBOM(in)
	if err != nil {
		t.Fatal(err)
	}
	// JSON forbids raw control characters in strings; U+2028 may stay raw.
	if strings.ContainsAny(string(b), "\n\x00") {
		t.Errorf("statement holds a raw newline or NUL: %q", b)
	}
	var doc struct {
		Predicate struct {
			Name  string `json:"name"`
			Files []struct {
				FileName string `json:"fileName"`
			} `json:"files"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range doc.Predicate.Files {
		names = append(names, f.FileName)
	}
	for _, p := range hostile {
		if !slices.Contains(names, p) {
			t.Errorf("file %q did not survive JSON: have %q", p, names)
		}
	}
	if !strings.HasPrefix(doc.Predicate.Name, in.Image.Name+"@") {
		t.Errorf("document name = %q, want it to start with %q", doc.Predicate.Name, in.Image.Name)
	}
}

func TestSBOMRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(*SBOMInput)
		wantErr string
	}{
		{name: "duplicate path", edit: func(s *SBOMInput) { s.Files = append(s.Files, File{Path: "/etc/passwd", SHA256: hash('9')}) }, wantErr: `"/etc/passwd" is listed twice`},
		{name: "relative path", edit: func(s *SBOMInput) { s.Files = append(s.Files, File{Path: "etc/x", SHA256: hash('9')}) }, wantErr: "clean absolute path"},
		{name: "unclean path", edit: func(s *SBOMInput) { s.Files = append(s.Files, File{Path: "/a/../etc/x", SHA256: hash('9')}) }, wantErr: "clean absolute path"},
		{name: "invalid UTF-8", edit: func(s *SBOMInput) { s.Files = append(s.Files, File{Path: "/a\xff", SHA256: hash('9')}) }, wantErr: "not valid UTF-8"},
		{name: "bad file digest", edit: func(s *SBOMInput) { s.Files[0].SHA256.Hex = "abc" }, wantErr: "not sha256"},
		{name: "upper-case file digest", edit: func(s *SBOMInput) { s.Files[0].SHA256.Hex = strings.Repeat("A", 64) }, wantErr: "not sha256"},
		{name: "bad sha1", edit: func(s *SBOMInput) { s.Files[0].SHA1 = "xyz" }, wantErr: "SHA-1"},
		{name: "sha512 subject", edit: func(s *SBOMInput) { s.Image.Digest.Algorithm = "sha512" }, wantErr: "not sha256"},
		{name: "no subject name", edit: func(s *SBOMInput) { s.Image.Name = "" }, wantErr: "no name"},
		{name: "no created time", edit: func(s *SBOMInput) { s.Created = time.Time{} }, wantErr: "no creation time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := sampleSBOM()
			tt.edit(&in)
			_, err := SBOM(in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SBOM() error = %v, want containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestSBOMManyFiles(t *testing.T) {
	t.Parallel()
	in := sampleSBOM()
	in.Files = nil
	const n = 5000
	for i := range n {
		in.Files = append(in.Files, File{Path: "/nix/store/" + nixHash + "-big-1.0/f/" + strconv.Itoa(i), SHA256: hash('a')})
	}
	b, err := SBOM(in)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Predicate struct {
			Files         []any `json:"files"`
			Relationships []any `json:"relationships"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if got := len(doc.Predicate.Files); got != n {
		t.Errorf("%d files listed, want all %d", got, n)
	}
	if got, want := len(doc.Predicate.Relationships), n+2; got != want {
		t.Errorf("%d relationships, want %d", got, want)
	}
}
