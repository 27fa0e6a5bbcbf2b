package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/cleanup"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// metadata is the metadata output. Every list is present, [] when empty,
// never null: a workflow's fromJSON and jq read each the same way, whatever
// the run found.
type metadata struct {
	Digest      string                       `json:"digest"`
	MediaType   string                       `json:"mediaType"`
	Size        int64                        `json:"size"`
	Image       string                       `json:"image,omitempty"`
	Pushed      bool                         `json:"pushed"`
	Manifests   []assembly.Manifest          `json:"manifests"`
	Targets     []publish.Target             `json:"targets"`
	Annotations map[string]map[string]string `json:"annotations,omitempty"`
	IndexDesc   map[string]string            `json:"indexDescriptorAnnotations,omitempty"`
	DeletedTags []string                     `json:"deletedTags"`
	WouldDelete []string                     `json:"wouldDeleteTags"`
	KeptTags    []string                     `json:"keptTags"`
	// Reused are new layers whose blobs a target already held: neither
	// compressed nor uploaded.
	Reused []plan.ReusedLayer `json:"reusedLayers"`
	// Referrers are the index's own referrers: its signatures and
	// attestations.
	Referrers []source.Referrer `json:"referrers"`
	// Signing is how the run signed and how to verify it; absent when it
	// signed nothing.
	Signing *signingOutput `json:"signing,omitempty"`
}

type manifestOutput struct {
	Platform  string `json:"platform"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
}

// outputs sets the step outputs, the step summary and the final notice.
func (u *ui) outputs(as *assembly.Assembly, res *publish.Result, spec *inputs.Spec, cl cleanup.Result) error {
	mans := make([]manifestOutput, len(as.Manifests))
	for i, m := range as.Manifests {
		mans[i] = manifestOutput{m.Platform, m.Digest, m.Size, string(m.MediaType)}
	}
	md := newMetadata(as, res, spec.Tags, cl)
	md.Signing = newSigningOutput(u.signed, md.Image)
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
		r := report{md: md, kept: cl.Kept, notes: slices.Concat(as.Warnings, unmatchedNotes(cl.Unmatched)), elapsed: u.now().Sub(u.start)}
		if err := appendFile(path, summary(r, u.red.redact)+"\n"); err != nil {
			return fmt.Errorf("writing the step summary: %w", err)
		}
	}
	if md.Image != "" && md.Pushed {
		u.notice("published " + md.Image)
	}
	return nil
}

// newMetadata gathers what the run did. A dry run lists the targets it
// would publish, and its image is the repository@digest it would publish.
func newMetadata(as *assembly.Assembly, res *publish.Result, targets []plan.Ref, cl cleanup.Result) metadata {
	md := metadata{Digest: as.Digest.String(), MediaType: string(as.MediaType), Size: as.Size,
		Pushed: res != nil, Manifests: orEmpty(as.Manifests), IndexDesc: as.IndexDescriptorAnnotations, Reused: orEmpty(as.Reused),
		Referrers: orEmpty(as.IndexReferrers)}
	for i, m := range md.Manifests {
		md.Manifests[i].Referrers = orEmpty(m.Referrers)
	}
	if res != nil {
		md.Targets = slices.Clone(res.Targets)
	} else {
		md.Targets = wouldPublish(targets, as.Digest.String())
	}
	md.Targets = orEmpty(md.Targets)
	for i, t := range md.Targets {
		md.Targets[i].Tags = orEmpty(t.Tags)
		md.Targets[i].SkippedReferrers = orEmpty(t.SkippedReferrers)
		if len(t.Tags) > 0 && md.Image == "" {
			md.Image = t.Image
		}
	}
	if md.Image == "" && len(md.Targets) > 0 {
		md.Image = md.Targets[0].Image
	}
	md.DeletedTags, md.WouldDelete = orEmpty(cl.Deleted), orEmpty(cl.WouldDelete)
	md.KeptTags = []string{}
	for _, k := range cl.Kept {
		md.KeptTags = append(md.KeptTags, k.String())
	}
	if im, err := as.Index.IndexManifest(); err == nil && len(im.Annotations) > 0 {
		md.Annotations = map[string]map[string]string{"index": im.Annotations}
	}
	return md
}

// wouldPublish is the targets a dry run would publish to, one per
// repository or layout with its tags, in input order.
func wouldPublish(refs []plan.Ref, digest string) []publish.Target {
	var out []publish.Target
	for _, r := range refs {
		ref := r.Repo.String()
		if r.Transport != plan.Registry {
			ref = "oci:" + r.Path
		}
		i := slices.IndexFunc(out, func(t publish.Target) bool { return t.Ref == ref })
		if i < 0 {
			out = append(out, publish.Target{Ref: ref, Image: ref + "@" + digest})
			i = len(out) - 1
		}
		if r.Tag != "" && !slices.Contains(out[i].Tags, r.Tag) {
			out[i].Tags = append(out[i].Tags, r.Tag)
		}
	}
	return out
}

// orEmpty is s, or an empty slice for nil: JSON [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// unmatchedNotes says which delete-tags globs matched no tag.
func unmatchedNotes(patterns []string) []string {
	out := make([]string, len(patterns))
	for i, p := range patterns {
		out[i] = "delete-tags: " + p + " matches no tag; nothing was deleted for it"
	}
	return out
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
