package oci

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
)

// Build is layer mode: images made from a base (or scratch) plus layers of
// local files, one per platform, which then go through the same index,
// annotation and publishing steps as joined images.
type Build struct {
	// Base is the base image or index; ignored when Scratch.
	Base    Ref
	Scratch bool
	// Platforms filters an index base's platforms; with Scratch (or a
	// single-image base) it lists the platforms to build.
	Platforms   []v1.Platform
	Layers      []layer.Spec
	Config      layer.ConfigChanges
	Compression layer.Compression
	Level       int
	Created     time.Time
	// Workspace is the absolute directory relative SRC paths are under.
	Workspace string
	// Stage says where the new layers are streamed while they are built:
	// the first registry target of the plan, else its first layout. With
	// Stage false (a dry run) they are compressed once to learn their
	// digests and the bytes are discarded.
	Stage bool
}

// scratchRef names the empty base in messages and outputs.
var scratchRef = Ref{Original: "scratch"}

// platformImage is one platform of the base, before layers are added.
type platformImage struct {
	platform v1.Platform
	img      v1.Image
}

// buildMembers builds one image per platform. The new layers are streamed
// (files, tar, compressor and digests in one pass) to the staging target,
// so their digests are known without a second read: that upload writes
// blobs only, which no reader sees until a manifest names them.
func (a *Assembler) buildMembers(ctx context.Context, b *Build, targets []Ref) ([]*member, error) {
	bases, src, err := a.basePlatforms(ctx, b)
	if err != nil {
		return nil, err
	}
	opts := []layer.Option{layer.WithCompression(b.Compression, b.Level), layer.WithCreated(b.Created)}

	// Plan every platform's layers; identical layers share one Builder.
	type planned struct {
		builders []*layer.Builder
		history  []v1.History
	}
	builders := map[string]*layer.Builder{}
	var order []string
	plans := make([]planned, len(bases))
	for i, pi := range bases {
		for _, spec := range b.Layers {
			r, ok, err := layer.Expand(spec, pi.platform, b.Workspace)
			if err != nil {
				return nil, fmt.Errorf("layers for %s: %w", platformString(pi.platform), err)
			}
			if !ok {
				continue
			}
			bl, err := layer.NewBuilder(r, opts...)
			if err != nil {
				return nil, fmt.Errorf("layers for %s: %w", platformString(pi.platform), err)
			}
			if have, ok := builders[bl.Key()]; ok {
				bl = have
			} else {
				builders[bl.Key()] = bl
				order = append(order, bl.Key())
			}
			plans[i].builders = append(plans[i].builders, bl)
			plans[i].history = append(plans[i].history, r.History(b.Created))
		}
	}

	stage, err := a.stager(ctx, b, targets)
	if err != nil {
		return nil, err
	}
	staged := make(map[string]v1.Layer, len(order))
	var mu sync.Mutex
	// A staged layer is read again later (to copy it to another registry)
	// with the context it was staged with, and errgroup cancels its own
	// when Wait returns: so stage with the caller's.
	var g errgroup.Group
	g.SetLimit(a.o.jobs)
	for _, key := range order {
		bl := builders[key]
		g.Go(func() error {
			l, err := stage(ctx, bl)
			if err != nil {
				return err
			}
			mu.Lock()
			staged[key] = l
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	members := make([]*member, len(bases))
	for i, pi := range bases {
		layers := make([]v1.Layer, len(plans[i].builders))
		for j, bl := range plans[i].builders {
			layers[j] = staged[bl.Key()]
		}
		img, err := layer.Build(pi.img, pi.platform, layers, plans[i].history, b.Config, b.Created)
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", platformString(pi.platform), err)
		}
		if members[i], err = newMember(src, img, nil); err != nil {
			return nil, err
		}
		members[i].platform = pi.platform
	}
	return members, nil
}

// basePlatforms resolves the base into one image per platform to build.
func (a *Assembler) basePlatforms(ctx context.Context, b *Build) ([]platformImage, Ref, error) {
	if b.Scratch {
		if len(b.Platforms) == 0 {
			return nil, scratchRef, fmt.Errorf("%w: base scratch needs platforms", ErrSource)
		}
		out := make([]platformImage, len(b.Platforms))
		for i, p := range b.Platforms {
			out[i] = platformImage{platform: p, img: empty.Image}
		}
		return out, scratchRef, nil
	}
	t, err := a.Resolve(ctx, b.Base)
	if err != nil {
		return nil, b.Base, err
	}
	ms, err := flatten(b.Base, t, OCIIndex)
	if err != nil {
		return nil, b.Base, err
	}
	var have []string
	for _, m := range ms {
		have = append(have, platformString(m.platform))
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
		i := slices.IndexFunc(ms, func(m *member) bool { return platformMatches(m.platform, p) })
		switch {
		case i >= 0:
			out = append(out, platformImage{platform: ms[i].platform, img: ms[i].img})
		case len(ms) == 1:
			// A single-platform base (often a static one such as
			// distroless) is reused for another platform only when its
			// layers hold no binaries for it; that is the user's call,
			// so it is refused rather than guessed.
			return nil, b.Base, fmt.Errorf("%w %s: it is %s only; platform %s was asked for (give a base index that has it, or scratch)", ErrSource, b.Base, have[0], platformString(p))
		default:
			return nil, b.Base, fmt.Errorf("%w %s: no %s in the base (it has %s); remove it from platforms or pick another base", ErrSource, b.Base, platformString(p), strings.Join(have, ", "))
		}
	}
	return out, b.Base, nil
}

// platformMatches reports whether a base platform satisfies a requested
// one: os and architecture equal, and the variant when one is asked for
// (arm64 and arm64/v8 are the same platform).
func platformMatches(have, want v1.Platform) bool {
	return platformKey(have) == platformKey(want) ||
		(want.Variant == "" && have.OS == want.OS && have.Architecture == want.Architecture)
}

// stageFunc streams one layer to where it is kept and returns a layer
// that reads the staged copy and reports the now-known digests.
type stageFunc func(context.Context, *layer.Builder) (v1.Layer, error)

func (a *Assembler) stager(ctx context.Context, b *Build, targets []Ref) (stageFunc, error) {
	if !b.Stage {
		return a.digestOnly, nil
	}
	regs, lays := groupTargets(targets)
	switch {
	case len(regs) > 0:
		repo := regs[0].repo
		pusher, err := remote.NewPusher(a.remoteOptions(ctx)...)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, bl *layer.Builder) (v1.Layer, error) {
			return a.stageRegistry(ctx, pusher, repo, bl)
		}, nil
	case len(lays) > 0:
		path := lays[0].path
		if _, err := openOrCreateLayout(path); err != nil {
			return nil, fmt.Errorf("opening layout %s: %w", path, err)
		}
		return func(ctx context.Context, bl *layer.Builder) (v1.Layer, error) {
			return a.stageLayout(path, bl)
		}, nil
	}
	return a.digestOnly, nil
}

// digestOnly compresses the layer once into nothing, for its digests.
func (a *Assembler) digestOnly(_ context.Context, bl *layer.Builder) (v1.Layer, error) {
	l, err := bl.Layer()
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("building layer: %w", err)
	}
	return l, nil
}

// stageRegistry streams the layer to repo. Retries are the transport's:
// a builder's layer streams its files again on every read, so a failed
// PATCH is sent again and a broken session starts anew (see package
// retry), without a copy kept on disk.
func (a *Assembler) stageRegistry(ctx context.Context, pusher *remote.Pusher, repo name.Repository, bl *layer.Builder) (v1.Layer, error) {
	l, err := bl.Layer()
	if err != nil {
		return nil, err
	}
	if err := pusher.Upload(ctx, repo, l); err != nil {
		return nil, &RefError{Op: "uploading a layer to", Ref: repoRef{repo}, Err: err}
	}
	return a.stagedLayer(ctx, l, repo)
}

// repoRef names a whole repository where a RefError needs a reference:
// a layer being streamed has no digest yet.
type repoRef struct{ name.Repository }

func (r repoRef) Context() name.Repository { return r.Repository }
func (r repoRef) Identifier() string       { return "" }

// stagedLayer describes a layer already in repo: reading it streams the
// blob back, and ggcr's writer mounts it into other repositories of the
// same registry instead of uploading it again.
func (a *Assembler) stagedLayer(ctx context.Context, l v1.Layer, repo name.Repository) (v1.Layer, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	ref := repo.Digest(d.String())
	ropts := a.remoteOptions(ctx)
	open := func() (io.ReadCloser, error) {
		rl, err := remote.Layer(ref, ropts...)
		if err != nil {
			return nil, err
		}
		return rl.Compressed()
	}
	sl, err := newKnownLayer(l, open)
	if err != nil {
		return nil, err
	}
	return &remote.MountableLayer{Layer: sl, Reference: ref}, nil
}

// stageLayout streams the layer into the layout's blob directory: a
// temporary file renamed to its digest once the stream is complete.
func (a *Assembler) stageLayout(path string, bl *layer.Builder) (v1.Layer, error) {
	l, err := bl.Layer()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(path, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".staging-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // gone after the rename; cleans up a failure
	rc, err := l.Compressed()
	if err != nil {
		f.Close()
		return nil, err
	}
	_, err = io.Copy(f, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing a layer to oci:%s: %w", path, err)
	}
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	blob := filepath.Join(dir, d.Hex)
	if err := os.Rename(f.Name(), blob); err != nil {
		return nil, err
	}
	return newKnownLayer(l, func() (io.ReadCloser, error) { return os.Open(blob) })
}

// knownLayer is a layer whose digests were computed while it was staged;
// its bytes are read from the staged copy.
type knownLayer struct {
	digest, diffID v1.Hash
	size           int64
	mediaType      types.MediaType
	open           func() (io.ReadCloser, error)
}

func newKnownLayer(l v1.Layer, open func() (io.ReadCloser, error)) (v1.Layer, error) {
	k := &knownLayer{open: open}
	var err error
	if k.digest, err = l.Digest(); err != nil {
		return nil, err
	}
	if k.diffID, err = l.DiffID(); err != nil {
		return nil, err
	}
	if k.size, err = l.Size(); err != nil {
		return nil, err
	}
	if k.mediaType, err = l.MediaType(); err != nil {
		return nil, err
	}
	return partial.CompressedToLayer(k)
}

func (k *knownLayer) Digest() (v1.Hash, error)            { return k.digest, nil }
func (k *knownLayer) DiffID() (v1.Hash, error)            { return k.diffID, nil }
func (k *knownLayer) Size() (int64, error)                { return k.size, nil }
func (k *knownLayer) MediaType() (types.MediaType, error) { return k.mediaType, nil }
func (k *knownLayer) Compressed() (io.ReadCloser, error)  { return k.open() }
