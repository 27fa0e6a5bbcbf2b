package signing

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/oci-assemble/oci-assemble/internal/attest"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
	"github.com/oci-assemble/oci-assemble/internal/sign"
)

// bundleReferrer is the referrer cosign writes for b about subject, as
// publishing copies referrers.
func bundleReferrer(subject v1.Descriptor, b *sign.Bundle, kind string) (*source.FoundReferrer, error) {
	a, err := sign.Referrer(subject, b)
	if err != nil {
		return nil, err
	}
	img, err := partial.CompressedToImage(&artifactImage{a: a})
	if err != nil {
		return nil, err
	}
	r := source.NewReferrer(a.Descriptor, a.Manifest, subject.Digest, "")
	r.Kind = kind
	return &source.FoundReferrer{Referrer: r, Raw: a.Manifest, Img: img, Desc: a.Descriptor}, nil
}

// artifactImage is a sign.Artifact as the v1.Image publishing reads a
// referrer's blobs from: its config is the first blob, its layers the
// rest.
type artifactImage struct{ a *sign.Artifact }

func (i *artifactImage) RawManifest() ([]byte, error)        { return i.a.Manifest, nil }
func (i *artifactImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (i *artifactImage) RawConfigFile() ([]byte, error) {
	rc, err := i.a.Blobs[0].Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close() //nolint:errcheck // in memory
	return readAll(rc)
}

func (i *artifactImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.a.Blobs {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("referrer %s has no blob %s", i.a.Descriptor.Digest, h)
}

// legacy is cosign's .sig tag of subject, holding one signature: the tag
// on each target gets it appended to what it holds, as cosign sign does.
func legacy(ctx context.Context, subject v1.Descriptor, o Options) (*source.FoundReferrer, error) {
	if o.Repository.RepositoryStr() == "" {
		return nil, errors.New("sign-legacy-tags: cosign's .sig tags live in a registry; give a registry target")
	}
	ref := o.Repository.Digest(subject.Digest.String())
	sig, err := o.Signer.SignLegacy(ctx, ref)
	if err != nil {
		return nil, err
	}
	img, err := sign.AppendLegacy(nil, sig)
	if err != nil {
		return nil, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	desc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: d, Size: int64(len(raw))}
	tag := subject.Digest.Algorithm + "-" + subject.Digest.Hex + ".sig"
	r := source.NewReferrer(desc, raw, subject.Digest, tag)
	return &source.FoundReferrer{Referrer: r, Raw: raw, Img: img, Desc: desc}, nil
}

// sbom attests the SPDX SBOM of the layer-mode image s.
func sbom(ctx context.Context, as *assembly.Assembly, s subject, o Options) (*source.FoundReferrer, error) {
	files, err := imageFiles(as.Built[s.built])
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s: %w", s.platform, err)
	}
	st, err := attest.SBOM(attest.SBOMInput{
		Image:    attest.Subject{Name: o.Name, Digest: s.desc.Digest},
		Platform: s.platform, Created: o.Created, Version: o.Version, Files: files,
	})
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s: %w", s.platform, err)
	}
	b, err := o.Signer.Attest(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("signing the SBOM of %s: %w", s.platform, err)
	}
	return bundleReferrer(s.desc, b, KindSBOM)
}

// imageFiles are the regular files of an image's new layers, each path
// once: a later layer's file over an earlier one's.
func imageFiles(layers []*layer.Builder) ([]attest.File, error) {
	var files []attest.File
	at := map[string]int{}
	for _, bl := range layers {
		fds, err := bl.FileDigests()
		if err != nil {
			return nil, err
		}
		for _, f := range fds {
			af := attest.File{Path: "/" + f.Path, SHA256: f.SHA256}
			if i, ok := at[af.Path]; ok {
				files[i] = af
				continue
			}
			at[af.Path] = len(files)
			files = append(files, af)
		}
	}
	return files, nil
}

// FilesDependencies are layer mode's files as provenance names them: one
// dependency per platform image built, the digest of the files its new
// layers hold (attest.FilesDigest).
func FilesDependencies(as *assembly.Assembly) ([]attest.Dependency, error) {
	var deps []attest.Dependency
	for i, bs := range as.Built {
		if bs == nil {
			continue
		}
		files, err := imageFiles(bs)
		if err != nil {
			return nil, err
		}
		d, err := attest.FilesDigest(files)
		if err != nil {
			return nil, err
		}
		deps = append(deps, attest.Dependency{URI: attest.FilesURI, Digest: d, Name: as.Manifests[i].Platform})
	}
	return deps, nil
}
