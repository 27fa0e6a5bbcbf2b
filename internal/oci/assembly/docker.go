package assembly

import (
	"fmt"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/oci/convert"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// toDocker re-describes the members as Docker schema 2 images, for a
// Docker manifest list: registries that refuse OCI indexes refuse OCI
// image manifests as well, and Docker clients expect a list's children in
// its own format. The blobs are unchanged; an OCI manifest gets a new
// digest (the referrers that name the old one cannot follow it, which
// addReferrers tells). What a Docker list cannot hold is left out and
// said in the returned warnings: attestation manifests, which are OCI
// manifests described by annotations, and the sources' descriptor
// annotations. A member that has no Docker form (zstd or uncompressed
// layers, annotations, a subject) is refused, naming its platform.
func toDocker(members []*Member) ([]string, error) {
	var atts, anns []string
	for _, m := range members {
		p := platform.String(m.platform)
		img, err := convert.ToDocker(m.img)
		if err != nil {
			return nil, fmt.Errorf("%w %s, platform %s: %w; use media-type: oci to publish it", plan.ErrSource, m.source, p, err)
		}
		if m.digest, err = img.Digest(); err != nil {
			return nil, fmt.Errorf("%w %s, platform %s: %w", plan.ErrSource, m.source, p, err)
		}
		m.img = img
		for _, att := range m.attestations {
			atts = append(atts, p+": "+att.desc.Digest.String())
		}
		m.attestations = nil
		if len(m.annotations) > 0 {
			anns = append(anns, p)
			m.annotations = nil
		}
	}
	var warnings []string
	if len(atts) > 0 {
		warnings = append(warnings, fmt.Sprintf("a Docker manifest list cannot hold attestation manifests (BuildKit's provenance and SBOMs, platform unknown/unknown); left out: %s; use media-type: oci to keep them",
			strings.Join(atts, ", ")))
	}
	if len(anns) > 0 {
		warnings = append(warnings, fmt.Sprintf("a Docker manifest list has no annotations, so the sources' descriptor annotations were left out (%s); use media-type: oci to keep them",
			strings.Join(anns, ", ")))
	}
	return warnings, nil
}
