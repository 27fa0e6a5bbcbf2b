// Package signing signs what a run publishes, once, before any of it is
// written: the index and every platform manifest (a Sigstore bundle in an
// OCI 1.1 referrer, as cosign 3 writes it, and optionally cosign's legacy
// .sig tag), SLSA provenance of the join, and an SPDX SBOM of each image
// built in layer mode. What it makes is attached to the assembly as
// referrers, so publishing copies it to every target with the rest: a
// signature covers a digest, not a repository.
package signing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/oci-assemble/oci-assemble/internal/attest"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
	"github.com/oci-assemble/oci-assemble/internal/sign"
)

// Kinds of what Sign attaches, as metadata and the summary name them.
const (
	KindSignature  = "sigstore signature"
	KindProvenance = "SLSA provenance"
	KindSBOM       = "SPDX SBOM"
	KindLegacy     = "cosign signature"
)

// Options says what to sign and attest.
type Options struct {
	Signer *sign.Signer
	// Name names the subjects in statements: the first target
	// repository, or layout.
	Name string
	// Repository is the first registry target, which legacy signatures'
	// payload names; Legacy needs it.
	Repository name.Repository
	// Legacy also makes cosign's .sig tag of each manifest (key mode).
	Legacy bool
	// Provenance, when set, is attested about the index and every
	// platform manifest; Sign fills its subjects and dependencies.
	Provenance *attest.ProvenanceInput
	// Dependencies are the provenance's resolved dependencies.
	Dependencies []attest.Dependency
	// SBOM attests an SPDX SBOM of every image built in layer mode.
	SBOM bool
	// Created is the SBOMs' creation time; Version names oci-assemble.
	Created time.Time
	Version string
	// Jobs bounds the signatures made at once.
	Jobs int
}

// Signed is one signature or attestation Sign attached.
type Signed struct {
	// Subject is the digest it is about; Platform the subject's platform,
	// empty for the index.
	Subject, Platform string
	// Kind is one of the Kind constants.
	Kind string
	// Digest is the referrer manifest's digest, or the .sig tag's.
	Digest string
}

// subject is one manifest to sign.
type subject struct {
	desc     v1.Descriptor
	platform string
	built    int // index into as.Built, -1 if not built here
}

// Sign signs as and attaches the signatures and attestations to it. It
// writes nothing anywhere: publishing does.
func Sign(ctx context.Context, as *assembly.Assembly, o Options) ([]Signed, error) {
	subjects := []subject{{desc: v1.Descriptor{MediaType: as.MediaType, Digest: as.Digest, Size: as.Size}, built: -1}}
	for i, m := range as.Manifests {
		d, err := v1.NewHash(m.Digest)
		if err != nil {
			return nil, err
		}
		s := subject{desc: v1.Descriptor{MediaType: m.MediaType, Digest: d, Size: m.Size}, platform: m.Platform, built: -1}
		if i < len(as.Built) && as.Built[i] != nil {
			s.built = i
		}
		subjects = append(subjects, s)
	}
	jobs := max(o.Jobs, 1)
	found := make([][]*source.FoundReferrer, len(subjects))
	signed := make([][]Signed, len(subjects))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, s := range subjects {
		g.Go(func() error {
			var err error
			found[i], signed[i], err = signOne(gctx, as, s, o)
			return err
		})
	}
	var prov []*source.FoundReferrer
	var provSigned []Signed
	if o.Provenance != nil {
		g.Go(func() error {
			var err error
			prov, provSigned, err = provenance(gctx, subjects, o)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []Signed
	for i := range subjects {
		if err := as.Attach(found[i]...); err != nil {
			return nil, err
		}
		out = append(out, signed[i]...)
	}
	if err := as.Attach(prov...); err != nil {
		return nil, err
	}
	return append(out, provSigned...), nil
}

// signOne signs one manifest, and attests its SBOM when it was built here.
func signOne(ctx context.Context, as *assembly.Assembly, s subject, o Options) ([]*source.FoundReferrer, []Signed, error) {
	b, err := o.Signer.SignImage(ctx, s.desc)
	if err != nil {
		return nil, nil, err
	}
	r, err := bundleReferrer(s.desc, b, KindSignature)
	if err != nil {
		return nil, nil, err
	}
	refs := []*source.FoundReferrer{r}
	out := []Signed{{Subject: s.desc.Digest.String(), Platform: s.platform, Kind: KindSignature, Digest: r.Digest}}
	if o.Legacy {
		l, err := legacy(ctx, s.desc, o)
		if err != nil {
			return nil, nil, err
		}
		refs = append(refs, l)
		out = append(out, Signed{Subject: s.desc.Digest.String(), Platform: s.platform, Kind: KindLegacy, Digest: l.Digest})
	}
	if o.SBOM && s.built >= 0 {
		r, err := sbom(ctx, as, s, o)
		if err != nil {
			return nil, nil, err
		}
		refs = append(refs, r)
		out = append(out, Signed{Subject: s.desc.Digest.String(), Platform: s.platform, Kind: KindSBOM, Digest: r.Digest})
	}
	return refs, out, nil
}

// provenance attests one SLSA statement about every subject, attached to
// each of them.
func provenance(ctx context.Context, subjects []subject, o Options) ([]*source.FoundReferrer, []Signed, error) {
	in := *o.Provenance
	in.Index = attest.Subject{Name: o.Name, Digest: subjects[0].desc.Digest}
	in.Manifests = nil
	for _, s := range subjects[1:] {
		in.Manifests = append(in.Manifests, attest.Subject{Name: o.Name, Digest: s.desc.Digest})
	}
	in.Dependencies = o.Dependencies
	st, err := attest.Provenance(in)
	if err != nil {
		return nil, nil, fmt.Errorf("provenance: %w", err)
	}
	b, err := o.Signer.Attest(ctx, st)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the provenance: %w", err)
	}
	var refs []*source.FoundReferrer
	var out []Signed
	for _, s := range subjects {
		r, err := bundleReferrer(s.desc, b, KindProvenance)
		if err != nil {
			return nil, nil, err
		}
		refs = append(refs, r)
		out = append(out, Signed{Subject: s.desc.Digest.String(), Platform: s.platform, Kind: KindProvenance, Digest: r.Digest})
	}
	return refs, out, nil
}
