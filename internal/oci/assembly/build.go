package assembly

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// scratchRef names the empty base in messages and outputs.
var scratchRef = plan.Ref{Original: "scratch"}

// platformImage is one platform of the base, before layers are added.
type platformImage struct {
	platform v1.Platform
	img      v1.Image
}

// BuildMembers builds one image per platform. The new layers are streamed
// (files, tar, compressor and digests in one pass) to the staging target,
// so their digests are known without a second read: that upload writes
// blobs only, which no reader sees until a manifest names them.
//
// It also returns the digest the base resolved to (zero for scratch).
func BuildMembers(ctx context.Context, base source.Source, b *plan.Build, stage source.StageFunc, jobs int) ([]*Member, v1.Hash, error) {
	var rd *readDigest
	if base != nil {
		rd = &readDigest{Source: base}
		base = rd
	}
	bases, src, err := basePlatforms(ctx, base, b)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	plans, builders, err := planLayers(b, bases)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	staged, err := source.StageAll(ctx, jobs, stage, builders)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	members := make([]*Member, len(bases))
	for i, pi := range bases {
		layers := make([]v1.Layer, len(plans[i].builders))
		for j, bl := range plans[i].builders {
			layers[j] = staged[bl.Key()]
		}
		img, err := layer.Build(pi.img, pi.platform, layers, plans[i].history, b.Config, b.Created)
		if err != nil {
			return nil, v1.Hash{}, fmt.Errorf("building %s: %w", platform.String(pi.platform), err)
		}
		if members[i], err = newMember(src, img, nil); err != nil {
			return nil, v1.Hash{}, err
		}
		members[i].platform, members[i].built = pi.platform, plans[i].builders
	}
	var digest v1.Hash
	if rd != nil {
		digest = rd.digest
	}
	return members, digest, nil
}

// layerPlan is one platform's new layers, in order.
type layerPlan struct {
	builders []*layer.Builder
	history  []v1.History
}

// planLayers plans every platform's layers; identical layers share one
// Builder, so each is built and staged once. builders is in first-use
// order.
func planLayers(b *plan.Build, bases []platformImage) ([]layerPlan, []*layer.Builder, error) {
	opts := []layer.Option{layer.WithCompression(b.Compression, b.Level), layer.WithCreated(b.Created)}
	byKey := map[string]*layer.Builder{}
	var builders []*layer.Builder
	plans := make([]layerPlan, len(bases))
	for i, pi := range bases {
		for _, spec := range b.Layers {
			r, ok, err := layer.Expand(spec, pi.platform, b.Workspace)
			if err != nil {
				return nil, nil, fmt.Errorf("layers for %s: %w", platform.String(pi.platform), err)
			}
			if !ok {
				continue
			}
			bl, err := layer.NewBuilder(r, opts...)
			if err != nil {
				return nil, nil, fmt.Errorf("layers for %s: %w", platform.String(pi.platform), err)
			}
			if have, ok := byKey[bl.Key()]; ok {
				bl = have
			} else {
				byKey[bl.Key()] = bl
				builders = append(builders, bl)
			}
			plans[i].builders = append(plans[i].builders, bl)
			plans[i].history = append(plans[i].history, r.History(b.Created))
		}
	}
	return plans, builders, nil
}

// basePlatforms resolves the base into one image per platform to build;
// base is nil for scratch.
func basePlatforms(ctx context.Context, base source.Source, b *plan.Build) ([]platformImage, plan.Ref, error) {
	if b.Scratch {
		if len(b.Platforms) == 0 {
			return nil, scratchRef, fmt.Errorf("%w: base scratch needs platforms", plan.ErrSource)
		}
		out := make([]platformImage, len(b.Platforms))
		for i, p := range b.Platforms {
			out[i] = platformImage{platform: p, img: empty.Image}
		}
		return out, scratchRef, nil
	}
	t, err := base.Read(ctx)
	if err != nil {
		return nil, b.Base, err
	}
	ms, err := flatten(ctx, b.Base, t, plan.OCIIndex)
	if err != nil {
		return nil, b.Base, err
	}
	var have []string
	for _, m := range ms {
		have = append(have, platform.String(m.platform))
	}
	if len(b.Platforms) == 0 {
		out := make([]platformImage, len(ms))
		for i, m := range ms {
			out[i] = platformImage{platform: m.platform, img: m.img}
		}
		return out, b.Base, nil
	}
	var out []platformImage
	for _, p := range b.Platforms {
		i := slices.IndexFunc(ms, func(m *Member) bool { return platform.Match(p, m.platform) })
		switch {
		case i >= 0:
			out = append(out, platformImage{platform: ms[i].platform, img: ms[i].img})
		case len(ms) == 1:
			// A single-platform base (often a static one such as
			// distroless) is reused for another platform only when its
			// layers hold no binaries for it; that is the user's call,
			// so it is refused rather than guessed.
			return nil, b.Base, fmt.Errorf("%w %s: it is %s only; platform %s was asked for (give a base index that has it, or scratch)", plan.ErrSource, b.Base, have[0], platform.String(p))
		default:
			return nil, b.Base, fmt.Errorf("%w %s: no %s in the base (it has %s); remove it from platforms or pick another base", plan.ErrSource, b.Base, platform.String(p), strings.Join(have, ", "))
		}
	}
	return out, b.Base, nil
}

// readDigest is a Source that remembers the digest it read.
type readDigest struct {
	source.Source
	digest v1.Hash
}

func (r *readDigest) Read(ctx context.Context) (source.Taggable, error) {
	t, err := r.Source.Read(ctx)
	if err == nil {
		r.digest, err = t.Digest()
	}
	return t, err
}
