package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/cleanup"
	"github.com/oci-assemble/oci-assemble/internal/units"
)

// report is what the step summary shows: the metadata, the kept tags
// with their reasons, what the run has to tell that changed nothing (a
// filter or pattern that matched nothing), and how long it took.
type report struct {
	md      metadata
	kept    []cleanup.Kept
	notes   []string
	elapsed time.Duration
}

// summary is the step summary in markdown. Every value from a source or
// a registry is redacted, then shown as a code span or escaped text
// (mdCode, mdText), never as markdown or HTML of its own; in the diagram,
// as a mermaid entity (mermaidLabel).
func summary(r report, redact func(string) string) string {
	md := r.md
	code := func(s string) string { return mdCode(redact(s), true) }
	text := func(s string) string { return mdText(redact(s)) }
	var b strings.Builder
	// The index's digest and media type are this program's own.
	fmt.Fprintf(&b, "### oci-assemble\n\nIndex `%s` (%s, %d bytes)", md.Digest, md.MediaType, md.Size)
	if md.Pushed {
		fmt.Fprintf(&b, ", published in %s.\n\n", r.elapsed.Round(100*time.Millisecond))
	} else {
		fmt.Fprintf(&b, ". Dry run: nothing was pushed (%s).\n\n", r.elapsed.Round(100*time.Millisecond))
	}
	if pull := pullCommand(md); pull != "" {
		verb := "Pull it"
		if !md.Pushed {
			verb = "Once published, pull it"
		}
		fmt.Fprintf(&b, "%s with:\n\n%s\n\n", verb, mdFenced("sh", redact(pull)))
	}
	b.WriteString("| Platform | Image size | Manifest | Source |\n| --- | --- | --- | --- |\n")
	for _, m := range md.Manifests {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", text(m.Platform), units.Bytes(m.ImageSize), code(m.Digest), code(m.Source))
	}
	writeReferrers(&b, md, redact)
	writeSigning(&b, md, redact)
	writeTargets(&b, md, code)
	if len(md.Manifests) > 0 {
		fmt.Fprintf(&b, "\n%s\n", mermaidIndex(md, redact))
	}
	writeTempTags(&b, md, r.kept, code, text)
	if len(r.notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", text(n))
		}
	}
	return b.String()
}

// pullCommand pulls the published image by digest, the one reference
// that names exactly what this run published; "" without a registry
// target.
func pullCommand(md metadata) string {
	if md.Image == "" || strings.HasPrefix(md.Image, "oci:") {
		return ""
	}
	return "docker pull " + md.Image
}

func writeReferrers(b *strings.Builder, md metadata, redact func(string) string) {
	if n := referrerCount(md.Manifests); n > 0 {
		verb := "found"
		if md.Pushed {
			verb = "copied to every target"
		}
		fmt.Fprintf(b, "\n%d signatures, SBOMs and attestations (referrers) of the platform images %s.\n", n, verb)
	}
	for _, t := range md.Targets {
		if len(t.SkippedReferrers) > 0 {
			skipped := make([]string, len(t.SkippedReferrers))
			for i, r := range t.SkippedReferrers {
				skipped[i] = mdText(redact(r))
			}
			fmt.Fprintf(b, "\n%s was published without %d referrer(s): %s\n", mdCode(redact(t.Ref), false), len(t.SkippedReferrers), strings.Join(skipped, "; "))
		}
	}
}

// writeTargets is the targets table: what each now has, and what its
// blobs cost (uploaded, mounted from another repository of its registry,
// or already there), with totals when there are several.
func writeTargets(b *strings.Builder, md metadata, code func(string) string) {
	if len(md.Targets) == 0 {
		return
	}
	if !md.Pushed {
		b.WriteString("\n| Would publish to | Tags |\n| --- | --- |\n")
	} else {
		b.WriteString("\n| Target | Tags | Uploaded | Mounted | Reused |\n| --- | --- | --- | --- | --- |\n")
	}
	var up, mounted, reused int64
	for _, t := range md.Targets {
		tags := "(by digest)"
		if len(t.Tags) > 0 {
			cells := make([]string, len(t.Tags))
			for i, tag := range t.Tags {
				cells[i] = code(tag)
			}
			tags = strings.Join(cells, ", ")
		}
		if !md.Pushed {
			fmt.Fprintf(b, "| %s | %s |\n", code(t.Ref), tags)
			continue
		}
		up, mounted, reused = up+t.BytesUploaded, mounted+t.BytesMounted, reused+t.BytesReused
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", code(t.Ref), tags,
			units.Bytes(t.BytesUploaded), units.Bytes(t.BytesMounted), units.Bytes(t.BytesReused))
	}
	if md.Pushed && len(md.Targets) > 1 {
		fmt.Fprintf(b, "| **Total** | | %s | %s | %s |\n", units.Bytes(up), units.Bytes(mounted), units.Bytes(reused))
	}
}

// writeTempTags is the cleanup's table, a kept tag's reason in a column
// of its own.
func writeTempTags(b *strings.Builder, md metadata, kept []cleanup.Kept, code, text func(string) string) {
	if len(md.DeletedTags)+len(md.WouldDelete)+len(kept) == 0 {
		return
	}
	b.WriteString("\n| Temp tag | Result | Reason |\n| --- | --- | --- |\n")
	for _, t := range md.DeletedTags {
		fmt.Fprintf(b, "| %s | deleted | |\n", code(t))
	}
	for _, t := range md.WouldDelete {
		fmt.Fprintf(b, "| %s | would be deleted (dry run) | |\n", code(t))
	}
	for _, k := range kept {
		reason := k.Reason
		if k.Fix != "" {
			reason += "; " + k.Fix
		}
		fmt.Fprintf(b, "| %s | kept | %s |\n", code(k.Ref), text(reason))
	}
}

// referrerCount is how many referrers the platform manifests carry.
func referrerCount(ms []assembly.Manifest) int {
	n := 0
	for _, m := range ms {
		n += len(m.Referrers)
	}
	return n
}

// mdFenced is a fenced code block of s in language lang; its fence is
// longer than any run of backticks in s (CommonMark 0.31 section 4.5),
// so s cannot close it.
func mdFenced(lang, s string) string {
	s = escapeControls(s)
	fence := strings.Repeat("`", max(3, longestBacktickRun(s)+1))
	return fence + lang + "\n" + s + "\n" + fence
}

// writeSigning lists what the run signed and how to verify it.
func writeSigning(b *strings.Builder, md metadata, redact func(string) string) {
	s := md.Signing
	if s == nil {
		return
	}
	switch {
	case s.Identity != "":
		fmt.Fprintf(b, "\nSigned keyless as %s (issuer %s):\n\n", mdCode(redact(s.Identity), false), mdCode(redact(s.Issuer), false))
	default:
		fmt.Fprintf(b, "\nSigned with the key %s:\n\n", mdCode(redact(s.KeyHint), false))
	}
	b.WriteString("| Subject | Kind | Referrer |\n| --- | --- | --- |\n")
	for _, it := range s.Signed {
		subject := "index"
		if it.Platform != "" {
			subject = mdText(redact(it.Platform))
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", subject, mdText(it.Kind), mdCode(redact(it.Digest), true))
	}
	if len(s.Verify) > 0 {
		fmt.Fprintf(b, "\nVerify with:\n\n%s\n", mdFenced("sh", redact(strings.Join(s.Verify, "\n"))))
	}
}
