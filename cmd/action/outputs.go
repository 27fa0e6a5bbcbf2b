package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci"
	"github.com/oci-assemble/oci-assemble/internal/oci/cleanup"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

type metadata struct {
	Digest      string                       `json:"digest"`
	MediaType   string                       `json:"mediaType"`
	Size        int64                        `json:"size"`
	Image       string                       `json:"image,omitempty"`
	Pushed      bool                         `json:"pushed"`
	Manifests   []oci.Manifest               `json:"manifests"`
	Targets     []oci.Target                 `json:"targets"`
	Annotations map[string]map[string]string `json:"annotations,omitempty"`
	IndexDesc   map[string]string            `json:"indexDescriptorAnnotations,omitempty"`
	DeletedTags []string                     `json:"deletedTags,omitempty"`
	WouldDelete []string                     `json:"wouldDeleteTags,omitempty"`
	KeptTags    []string                     `json:"keptTags,omitempty"`
	// Reused are new layers whose blobs a target already held: neither
	// compressed nor uploaded.
	Reused []oci.ReusedLayer `json:"reusedLayers,omitempty"`
}

type manifestOutput struct {
	Platform  string `json:"platform"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
}

// outputs sets the step outputs, the step summary and the final notice.
func (u *ui) outputs(as *oci.Assembly, res *oci.Result, spec *inputs.Spec, cl cleanup.Result) error {
	mans := make([]manifestOutput, len(as.Manifests))
	for i, m := range as.Manifests {
		mans[i] = manifestOutput{m.Platform, m.Digest, m.Size, string(m.MediaType)}
	}
	md := metadata{Digest: as.Digest.String(), MediaType: string(as.MediaType), Size: as.Size,
		Pushed: res != nil, Manifests: as.Manifests, IndexDesc: as.IndexDescriptorAnnotations, Reused: as.Reused}
	if res != nil {
		md.Targets = res.Targets
		for _, t := range res.Targets {
			if len(t.Tags) > 0 && md.Image == "" {
				md.Image = t.Image
			}
		}
		if md.Image == "" && len(res.Targets) > 0 {
			md.Image = res.Targets[0].Image
		}
	}
	md.DeletedTags, md.WouldDelete = cl.Deleted, cl.WouldDelete
	for _, k := range cl.Kept {
		md.KeptTags = append(md.KeptTags, k.String())
	}
	if im, err := as.Index.IndexManifest(); err == nil && len(im.Annotations) > 0 {
		md.Annotations = map[string]map[string]string{"index": im.Annotations}
	}
	mansJSON, err := json.Marshal(mans)
	if err != nil {
		return err
	}
	mdJSON, err := json.Marshal(md)
	if err != nil {
		return err
	}
	if u.e.getenv("GITHUB_OUTPUT") != "" {
		if err := u.writeOutputs([]output{
			{name: "digest", value: md.Digest},
			{name: "image", value: md.Image},
			{name: "manifests", value: string(mansJSON), json: true},
			{name: "metadata", value: string(mdJSON), json: true},
			{name: "deleted-tags", value: lines(md.DeletedTags)},
			{name: "kept-tags", value: lines(md.KeptTags)},
		}); err != nil {
			return err
		}
	}
	if spec.Dotenv != "" {
		if err := writeDotenv(spec.Dotenv, md, u.red.redact); err != nil {
			return err
		}
	}
	if !u.github {
		u.println("digest=" + md.Digest)
		if md.Image != "" {
			u.println("image=" + md.Image)
		}
	}
	if path := u.e.getenv("GITHUB_STEP_SUMMARY"); u.github && path != "" {
		if err := appendFile(path, summary(md, u.red.redact)+"\n"); err != nil {
			return fmt.Errorf("writing the step summary: %w", err)
		}
	}
	if md.Image != "" {
		u.notice("published " + md.Image)
	}
	return nil
}

// lines joins a list output one entry a line: an entry's own line breaks
// and control characters are escaped, so a registry's text cannot add an
// entry.
func lines(entries []string) string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = escapeControls(e)
	}
	return strings.Join(out, "\n")
}

// summary is the step summary in markdown. Every value from a source or
// a registry is redacted, then shown as a code span or escaped text
// (mdCode, mdText), never as markdown or HTML of its own.
func summary(md metadata, redact func(string) string) string {
	code := func(s string) string { return mdCode(redact(s), true) }
	text := func(s string) string { return mdText(redact(s)) }
	var b strings.Builder
	// The index's digest and media type are this program's own.
	fmt.Fprintf(&b, "### oci-assemble\n\nIndex `%s` (%s, %d bytes)\n\n", md.Digest, md.MediaType, md.Size)
	b.WriteString("| Platform | Digest | Size |\n| --- | --- | --- |\n")
	for _, m := range md.Manifests {
		fmt.Fprintf(&b, "| %s | %s | %d |\n", text(m.Platform), code(m.Digest), m.Size)
	}
	if n := referrerCount(md.Manifests); n > 0 {
		verb := "found"
		if md.Pushed {
			verb = "copied to every target"
		}
		fmt.Fprintf(&b, "\n%d signatures, SBOMs and attestations (referrers) of the platform images %s.\n", n, verb)
	}
	for _, t := range md.Targets {
		if len(t.SkippedReferrers) > 0 {
			skipped := make([]string, len(t.SkippedReferrers))
			for i, r := range t.SkippedReferrers {
				skipped[i] = text(r)
			}
			fmt.Fprintf(&b, "\n%s was published without %d referrer(s): %s\n", mdCode(redact(t.Ref), false), len(t.SkippedReferrers), strings.Join(skipped, "; "))
		}
	}
	if len(md.Targets) > 0 {
		b.WriteString("\n| Target | Tags |\n| --- | --- |\n")
		for _, t := range md.Targets {
			tags := "(by digest)"
			if len(t.Tags) > 0 {
				cells := make([]string, len(t.Tags))
				for i, tag := range t.Tags {
					cells[i] = code(tag)
				}
				tags = strings.Join(cells, ", ")
			}
			fmt.Fprintf(&b, "| %s | %s |\n", code(t.Ref), tags)
		}
	} else if !md.Pushed {
		b.WriteString("\nDry run: nothing was pushed.\n")
	}
	if len(md.DeletedTags)+len(md.WouldDelete)+len(md.KeptTags) > 0 {
		b.WriteString("\n| Temp tag | Result |\n| --- | --- |\n")
		for _, t := range md.DeletedTags {
			fmt.Fprintf(&b, "| %s | deleted |\n", code(t))
		}
		for _, t := range md.WouldDelete {
			fmt.Fprintf(&b, "| %s | would be deleted (dry run) |\n", code(t))
		}
		for _, t := range md.KeptTags {
			fmt.Fprintf(&b, "| %s | kept |\n", text(t))
		}
	}
	return b.String()
}

// referrerCount is how many referrers the platform manifests carry.
func referrerCount(ms []oci.Manifest) int {
	n := 0
	for _, m := range ms {
		n += len(m.Referrers)
	}
	return n
}
