package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SBOMPredicateType is the SPDX document predicate, what cosign's
// verify-attestation --type spdxjson matches.
// https://github.com/in-toto/attestation/blob/main/spec/predicates/spdx.md
const SBOMPredicateType = "https://spdx.dev/Document"

// spdxNamespaceBase prefixes every document's namespace, which SPDX wants
// unique per document: the image's repository and manifest digest follow.
const spdxNamespaceBase = "https://github.com/oci-assemble/oci-assemble/spdx/"

// File is one regular file of an image, as the image holds it.
type File struct {
	// Path is the file's clean absolute path in the image.
	Path string
	// SHA256 is the digest of its content.
	SHA256 v1.Hash
	// SHA1 is the hex SHA-1 of its content. SPDX 2.3 (clause 8.4) asks
	// every file for one; empty leaves it out.
	SHA1 string
}

// SBOMInput is what one platform image's SBOM lists.
type SBOMInput struct {
	// Image is the platform manifest the SBOM is about, the subject.
	Image Subject
	// Platform is the image's os/arch[/variant], for the document's name
	// and the image's package URL.
	Platform string
	// Created is the document's creation time (creationInfo.created);
	// the caller picks it so the same image gives the same document.
	Created time.Time
	// Version is oci-assemble's version, named among the creators.
	Version string
	// Files are the image's regular files, each path once.
	Files []File
}

// SBOM returns an in-toto v1 statement whose predicate is an SPDX 2.3
// JSON document listing the image's files; files under a nix store entry
// belong to a package named after it (see ParseStorePath).
// https://spdx.github.io/spdx-spec/v2.3/
func SBOM(s SBOMInput) ([]byte, error) {
	doc, err := spdxDocument(s)
	if err != nil {
		return nil, err
	}
	pred, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("writing SPDX document: %w", err)
	}
	return statement([]Subject{s.Image}, SBOMPredicateType, pred)
}

func spdxDocument(s SBOMInput) (*spdxDoc, error) {
	if _, err := descriptor(s.Image); err != nil {
		return nil, err
	}
	if err := checkText("platform", s.Platform); err != nil {
		return nil, err
	}
	files, err := sortedFiles(s.Files)
	if err != nil {
		return nil, err
	}
	if s.Created.IsZero() {
		return nil, fmt.Errorf("SBOM of %s has no creation time; give the image's created time", s.Image.Name)
	}
	tool := "Tool: oci-assemble"
	if s.Version != "" {
		tool += "-" + s.Version
	}
	name := s.Image.Name + "@" + s.Image.Digest.String()
	if s.Platform != "" {
		name += " (" + s.Platform + ")"
	}
	doc := &spdxDoc{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              name,
		DocumentNamespace: spdxNamespaceBase + url.PathEscape(s.Image.Name) + "/" + s.Image.Digest.Hex,
		CreationInfo: spdxCreation{
			Created:  s.Created.UTC().Format(time.RFC3339),
			Creators: []string{tool},
		},
	}
	image := imagePackage(s)
	doc.Packages = append(doc.Packages, image)
	doc.Relationships = append(doc.Relationships, spdxRel{doc.SPDXID, "DESCRIBES", image.SPDXID})
	addFiles(doc, image.SPDXID, files)
	return doc, nil
}

// sortedFiles checks the files and returns them sorted by path.
func sortedFiles(in []File) ([]File, error) {
	files := append([]File(nil), in...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for i, f := range files {
		if err := checkText("file path", f.Path); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path {
			return nil, fmt.Errorf("file %q: give the clean absolute path it has in the image", f.Path)
		}
		if i > 0 && files[i-1].Path == f.Path {
			return nil, fmt.Errorf("file %q is listed twice; give each path once, as the image's last layer has it", f.Path)
		}
		if err := checkSHA256(f.SHA256); err != nil {
			return nil, fmt.Errorf("file %q: %w", f.Path, err)
		}
		if f.SHA1 != "" && (len(f.SHA1) != 40 || strings.Trim(f.SHA1, "0123456789abcdef") != "") {
			return nil, fmt.Errorf("file %q: SHA-1 %q is not 40 lower-case hex characters", f.Path, f.SHA1)
		}
	}
	return files, nil
}

// addFiles lists the files, a package for each nix store entry they lie
// in, and what contains what: the image its packages and loose files, a
// package its files.
func addFiles(doc *spdxDoc, imageID string, files []File) {
	pkgs := map[string]*spdxPackage{} // by store entry
	var order []string
	var contains []spdxRel
	var loose []spdxRel
	for _, f := range files {
		sf := spdxFile{SPDXID: "SPDXRef-File-" + idHash(f.Path), FileName: f.Path}
		if f.SHA1 != "" {
			sf.Checksums = append(sf.Checksums, spdxChecksum{"SHA1", f.SHA1})
		}
		sf.Checksums = append(sf.Checksums, spdxChecksum{"SHA256", f.SHA256.Hex})
		doc.Files = append(doc.Files, sf)
		sp, ok := ParseStorePath(f.Path)
		if !ok {
			loose = append(loose, spdxRel{imageID, "CONTAINS", sf.SPDXID})
			continue
		}
		p := pkgs[sp.Dir]
		if p == nil {
			p = nixPackage(sp)
			pkgs[sp.Dir] = p
			order = append(order, sp.Dir)
		}
		contains = append(contains, spdxRel{p.SPDXID, "CONTAINS", sf.SPDXID})
	}
	// Files are sorted by path, so store entries arrive sorted too.
	for _, dir := range order {
		doc.Packages = append(doc.Packages, *pkgs[dir])
		doc.Relationships = append(doc.Relationships, spdxRel{imageID, "CONTAINS", pkgs[dir].SPDXID})
	}
	doc.Relationships = append(doc.Relationships, contains...)
	doc.Relationships = append(doc.Relationships, loose...)
}

// idHash makes an SPDX identifier from any text: SPDXIDs allow letters,
// digits, . and - only, and the hash keeps them unique.
func idHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func nixPackage(sp StorePath) *spdxPackage {
	return &spdxPackage{
		SPDXID: "SPDXRef-Package-nix-" + idHash(sp.Dir), Name: sp.Name, VersionInfo: sp.Version,
		PackageFileName: sp.Dir, DownloadLocation: "NOASSERTION", FilesAnalyzed: false,
		ExternalRefs: []spdxExternalRef{{"PACKAGE-MANAGER", "purl", NixPURL(sp)}},
	}
}

// imagePackage is the image itself, with its OCI package URL.
// https://github.com/package-url/purl-spec/blob/main/types-doc/oci-definition.md
func imagePackage(s SBOMInput) spdxPackage {
	repo := s.Image.Name
	last := strings.ToLower(repo[strings.LastIndex(repo, "/")+1:])
	purl := "pkg:oci/" + purlEscape(last, "") + "@" + purlEscape(s.Image.Digest.String(), "")
	var q []string
	if _, arch, ok := strings.Cut(s.Platform, "/"); ok {
		arch, _, _ = strings.Cut(arch, "/")
		q = append(q, "arch="+purlEscape(arch, ""))
	}
	q = append(q, "repository_url="+purlEscape(repo, "/:"))
	return spdxPackage{
		SPDXID: "SPDXRef-Image", Name: repo, VersionInfo: s.Image.Digest.String(),
		DownloadLocation: "NOASSERTION", FilesAnalyzed: false, PrimaryPurpose: "CONTAINER",
		Checksums:    []spdxChecksum{{"SHA256", s.Image.Digest.Hex}},
		ExternalRefs: []spdxExternalRef{{"PACKAGE-MANAGER", "purl", purl + "?" + strings.Join(q, "&")}},
	}
}
