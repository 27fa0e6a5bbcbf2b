package assembly

import (
	"fmt"
	"slices"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// addReferrers records the members' referrers in the assembly. before
// are the members' digests before the manifests were rewritten (by
// manifest-level annotations or into Docker's format, as rewrite says): a
// member whose digest changed cannot take its referrers, which name the
// old digest; they are listed in one warning, and never altered.
func (as *Assembly) addReferrers(members []*Member, before []v1.Hash, rewrite manifestRewrite) {
	lost := map[string][]*source.FoundReferrer{}
	var order []string
	for i, m := range members {
		if len(m.referrers) == 0 {
			continue
		}
		flat := (&Assembly{Referrers: m.referrers}).FlatReferrers()
		if m.digest != before[i] {
			p := as.Manifests[i].Platform
			order = append(order, p)
			lost[p] = flat
			continue
		}
		as.Referrers = append(as.Referrers, m.referrers...)
		for _, r := range flat {
			as.Manifests[i].Referrers = append(as.Manifests[i].Referrers, r.Referrer)
		}
	}
	if len(order) > 0 {
		as.Warnings = append(as.Warnings, referrerWarning(rewrite, lost, order))
	}
}

// FlatReferrers is every referrer of the assembly, each after the one it
// refers to.
func (as *Assembly) FlatReferrers() []*source.FoundReferrer {
	var out []*source.FoundReferrer
	level := as.Referrers
	for len(level) > 0 {
		var next []*source.FoundReferrer
		for _, r := range level {
			out = append(out, r)
			next = append(next, r.Children...)
		}
		level = next
	}
	return out
}

// referrerWarning says, once, which referrers could not follow a platform
// manifest that rewrite gave a new digest.
func referrerWarning(rewrite manifestRewrite, lost map[string][]*source.FoundReferrer, order []string) string {
	var parts []string
	for _, p := range order {
		var ds []string
		for _, r := range lost[p] {
			ds = append(ds, r.Label())
		}
		parts = append(parts, p+": "+strings.Join(ds, ", "))
	}
	return rewrite.cause + " gave platform manifests new digests, so their signatures, SBOMs and attestations, " +
		"which name the old digests, were not carried (" + strings.Join(parts, "; ") +
		"); sign and attest the published image after the join, or " + rewrite.keep
}

// manifestRewrite says what gave platform manifests new digests, and
// what would have kept them, for the warning about their referrers.
type manifestRewrite struct{ cause, keep string }

var (
	annotationRewrite = manifestRewrite{"manifest-level annotations", "use manifest-descriptor annotations, which keep the digests"}
	dockerRewrite     = manifestRewrite{"the Docker format (media-type: docker)", "use media-type: oci, which keeps the digests"}
)

// Digests are every manifest the index holds, nested ones included, the
// index itself and the referrers copied with it: what cleanup must never
// delete by digest.
func (as *Assembly) Digests() ([]v1.Hash, error) {
	c, err := ContentsOf(as.Index)
	if err != nil {
		return nil, fmt.Errorf("listing the index's manifests: %w", err)
	}
	out := []v1.Hash{as.Digest}
	for _, m := range append(c.Images, c.Indexes...) {
		d, err := m.Digest()
		if err != nil {
			return nil, fmt.Errorf("listing the index's manifests: %w", err)
		}
		out = append(out, d)
	}
	for _, r := range as.FlatReferrers() {
		out = append(out, r.Desc.Digest)
	}
	return out, nil
}

// Attach adds referrers made for this assembly, its signatures and
// attestations, to those published with it: about the index when their
// subject is its digest, else about the platform manifest with that digest.
func (as *Assembly) Attach(refs ...*source.FoundReferrer) error {
	for _, r := range refs {
		switch i := slices.IndexFunc(as.Manifests, func(m Manifest) bool { return m.Digest == r.Subject }); {
		case r.Subject == as.Digest.String():
			as.IndexReferrers = append(as.IndexReferrers, r.Referrer)
		case i >= 0:
			as.Manifests[i].Referrers = append(as.Manifests[i].Referrers, r.Referrer)
		default:
			return fmt.Errorf("referrer %s is about %s, which the index does not hold", r.Digest, r.Subject)
		}
		as.Referrers = append(as.Referrers, r)
	}
	return nil
}
