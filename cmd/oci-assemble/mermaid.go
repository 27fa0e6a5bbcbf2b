package main

import (
	"fmt"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/units"
)

// maxDiagramNodes bounds the diagram: an index with hundreds of
// referrers would draw a picture nobody reads and a page that renders
// slowly. What is left out is counted in a last node.
const maxDiagramNodes = 40

// mermaidIndex draws the index, its platform manifests and their
// referrers as a mermaid flowchart, which both GitHub and GitLab render
// from a ```mermaid block
// (https://docs.github.com/get-started/writing-on-github/working-with-advanced-formatting/creating-diagrams,
// https://docs.gitlab.com/user/markdown/#mermaid). Node ids are the
// program's own (n0, n1...); every label goes through mermaidLabel.
func mermaidIndex(md metadata, redact func(string) string) string {
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart LR\n")
	fmt.Fprintf(&b, "  n0[\"%s\"]\n", mermaidLabel("index "+shortDigest(md.Digest)))
	nodes, left := 1, 0
	ids := map[string]string{} // digest → node id, for nested referrers
	for _, m := range md.Manifests {
		if nodes >= maxDiagramNodes {
			left++
			continue
		}
		id := fmt.Sprintf("n%d", nodes)
		nodes++
		ids[m.Digest] = id
		label := redact(m.Platform) + " · " + shortDigest(m.Digest) + " · " + units.Bytes(m.ImageSize)
		fmt.Fprintf(&b, "  n0 --> %s[\"%s\"]\n", id, mermaidLabel(label))
	}
	for _, m := range md.Manifests {
		for _, r := range m.Referrers {
			parent, ok := ids[r.Subject]
			if !ok || nodes >= maxDiagramNodes {
				left++
				continue
			}
			id := fmt.Sprintf("n%d", nodes)
			nodes++
			ids[r.Digest] = id
			kind := r.Kind // a cosign tag's
			if kind == "" {
				kind = r.ArtifactType
			}
			if kind == "" {
				kind = string(r.MediaType)
			}
			fmt.Fprintf(&b, "  %s -.-> %s[\"%s\"]\n", parent, id, mermaidLabel(redact(kind)+" · "+shortDigest(r.Digest)))
		}
	}
	if left > 0 {
		fmt.Fprintf(&b, "  n0 -.- more[\"%s\"]\n", mermaidLabel(fmt.Sprintf("%d more not drawn", left)))
	}
	b.WriteString("```")
	return b.String()
}

// mermaidLabel makes s the text of a quoted mermaid label: every
// character but letters, digits, space and / . : _ + - · is written as a
// numeric entity (#34; for a quote, mermaid's own entity syntax,
// https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters),
// so a label can close neither its quotes, its node nor the code block,
// start a directive or a markdown string, or carry HTML. Control
// characters are escaped first (escapeControls), so s stays on one line.
func mermaidLabel(s string) string {
	s = escapeControls(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(" /.:_+-·", r):
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "#%d;", r)
		}
	}
	return b.String()
}

// shortDigest is the algorithm and the first 12 hex digits, as docker
// shortens image ids.
func shortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return alg + ":" + hex[:12]
}
