package oci

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// ErrVerify is returned when a tag does not read back as the index pushed.
var ErrVerify = errors.New("verification failed")

// Target is one published destination: a repository or layout with the
// tags that now point at the index.
type Target struct {
	// Ref is the repository (registry) or oci:PATH (layout).
	Ref string `json:"ref"`
	// Tags were moved to the index and read back.
	Tags []string `json:"tags"`
	// Image is repository@digest.
	Image string `json:"image"`
}

// Result is what Publish did.
type Result struct {
	Targets []Target `json:"targets"`
}

// TagError reports a failure in the tag phase: which tags point at the new
// index and which do not.
type TagError struct {
	Moved  []string
	Failed map[string]error
}

func (e *TagError) Error() string {
	var b strings.Builder
	b.WriteString("tagging failed for ")
	b.WriteString(strings.Join(slices.Sorted(maps.Keys(e.Failed)), ", "))
	if len(e.Moved) > 0 {
		fmt.Fprintf(&b, "; these tags already point at the new index: %s", strings.Join(e.Moved, ", "))
	} else {
		b.WriteString("; no tag was moved")
	}
	for _, k := range slices.Sorted(maps.Keys(e.Failed)) {
		fmt.Fprintf(&b, "; %s: %v", k, e.Failed[k])
	}
	return b.String()
}

// Unwrap returns the tag errors so callers can errors.As a registry error.
func (e *TagError) Unwrap() []error { return slices.Collect(maps.Values(e.Failed)) }

type registryTarget struct {
	repo name.Repository
	tags []string
	// present is set when the first tag already pointed at the index (a
	// re-run): then the other tags are read before they are written, and
	// a tag that already points at it is left alone.
	present bool
	// w writes to repo, and reads its tags, with one token.
	w    *repoWriter
	mu   sync.Mutex
	read map[string]bool // references already read back as the index
}

func (t *registryTarget) markRead(ref name.Reference) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.read == nil {
		t.read = map[string]bool{}
	}
	t.read[ref.String()] = true
}

func (t *registryTarget) wasRead(ref name.Reference) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.read[ref.String()]
}

type layoutTarget struct {
	path string
	tags []string
}

// groupTargets merges targets by repository or layout path, keeping the
// first-seen order so output is stable.
func groupTargets(targets []Ref) ([]*registryTarget, []*layoutTarget) {
	var regs []*registryTarget
	var lays []*layoutTarget
	for _, t := range targets {
		switch t.Transport {
		case Layout:
			i := slices.IndexFunc(lays, func(l *layoutTarget) bool { return l.path == t.Path })
			if i < 0 {
				lays = append(lays, &layoutTarget{path: t.Path})
				i = len(lays) - 1
			}
			if t.Tag != "" && !slices.Contains(lays[i].tags, t.Tag) {
				lays[i].tags = append(lays[i].tags, t.Tag)
			}
		case Registry:
			i := slices.IndexFunc(regs, func(r *registryTarget) bool { return r.repo.String() == t.Repo.String() })
			if i < 0 {
				regs = append(regs, &registryTarget{repo: t.Repo})
				i = len(regs) - 1
			}
			if t.Tag != "" && !slices.Contains(regs[i].tags, t.Tag) {
				regs[i].tags = append(regs[i].tags, t.Tag)
			}
		}
	}
	return regs, lays
}

// Publish writes the assembly to every target: all blobs and manifests by
// digest everywhere first, then the tags, then each tag is read back and
// its digest compared. If any target fails before the tag phase, no tag
// moves anywhere.
//
// Before it writes to a repository, Publish reads the repository's first
// tag (the digest when it has no tags): when that already points at the
// index, the repository holds the index and everything in it, and only
// the tags that differ are written (a re-run reads and writes nothing).
// When the only target is one repository, the index is not PUT by digest:
// its first tag PUT stores it, and there is no other target to wait for.
func (a *Assembler) Publish(ctx context.Context, as *Assembly, targets []Ref) (*Result, error) {
	regs, lays := groupTargets(targets)
	sole := len(regs) == 1 && len(lays) == 0 && len(regs[0].tags) > 0

	a.o.logger.Info("pushing by digest", "digest", as.Digest.String(), "targets", len(regs)+len(lays))
	push := func(ctx context.Context, t *registryTarget, idx v1.ImageIndex) error {
		c, err := contentsOf(idx)
		if err != nil {
			return err
		}
		if t.w, err = a.newRepoWriter(ctx, t.repo, c.mountSources()); err != nil {
			return err
		}
		first := t.checked(as.Digest)[0]
		d, err := t.w.head(ctx, first)
		switch {
		case err == nil && d == as.Digest:
			t.present = true
			t.markRead(first)
			a.o.logger.Info("already there", "ref", first.String())
			return nil
		case err != nil && statusOf(err) != http.StatusNotFound:
			// Pushing will tell whether this matters.
			a.o.logger.Debug("reading a tag before pushing failed", "ref", first.String(), "error", err)
		}
		if err := a.pushChildren(ctx, t.w, c); err != nil {
			return err
		}
		if sole {
			return nil
		}
		ref := t.repo.Digest(as.Digest.String())
		if err := t.w.putTaggable(ctx, ref, idx); err != nil {
			return &RefError{Op: "pushing", Ref: ref, Err: err}
		}
		a.o.logger.Info("pushed by digest", "ref", ref.String())
		return nil
	}
	g, gctx := newGroup(ctx, a.o.jobs)
	for _, group := range byRegistry(regs) {
		g.Go(func() error {
			// One upload per blob per registry: the first repository gets
			// the blobs, the others of that registry mount them from it.
			if err := push(gctx, group[0], as.Index); err != nil {
				return err
			}
			mounted := &mountIndex{imageIndex: as.Index, from: group[0].repo}
			rest, rctx := newGroup(gctx, a.o.jobs)
			for _, t := range group[1:] {
				rest.Go(func() error { return push(rctx, t, mounted) })
			}
			return rest.Wait()
		})
	}
	for _, t := range lays {
		g.Go(func() error { return writeLayoutBlobs(t.path, as.Index) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	a.o.logger.Info("tagging")
	if err := a.tag(ctx, as, regs, lays); err != nil {
		return nil, err
	}

	a.o.logger.Info("verifying")
	if err := a.verify(ctx, as, regs, lays); err != nil {
		return nil, err
	}

	res := &Result{}
	for _, t := range regs {
		res.Targets = append(res.Targets, Target{Ref: t.repo.String(), Tags: t.tags, Image: t.repo.String() + "@" + as.Digest.String()})
	}
	for _, t := range lays {
		res.Targets = append(res.Targets, Target{Ref: "oci:" + t.path, Tags: t.tags, Image: "oci:" + t.path + "@" + as.Digest.String()})
	}
	return res, nil
}

func (a *Assembler) tag(ctx context.Context, as *Assembly, regs []*registryTarget, lays []*layoutTarget) error {
	type tagJob struct {
		name string
		do   func(context.Context) error
	}
	var jobs []tagJob
	for _, t := range regs {
		for _, tag := range t.tags {
			ref := t.repo.Tag(tag)
			jobs = append(jobs, tagJob{ref.String(), func(ctx context.Context) error {
				if t.wasRead(ref) {
					return nil // read before pushing: already right
				}
				if t.present {
					if d, err := t.w.head(ctx, ref); err == nil && d == as.Digest {
						t.markRead(ref) // a re-run: the tag is already right
						return nil
					}
				}
				if err := t.w.putTaggable(ctx, ref, as.Index); err != nil {
					return &RefError{Op: "tagging", Ref: ref, Err: err}
				}
				return nil
			}})
		}
	}
	for _, t := range lays {
		tags := t.tags
		if len(tags) == 0 {
			tags = []string{""}
		}
		// One job per layout: its tags share index.json.
		jobs = append(jobs, tagJob{"oci:" + t.path, func(context.Context) error {
			for _, tag := range tags {
				if err := tagLayout(t.path, tag, as); err != nil {
					return err
				}
			}
			return nil
		}})
	}
	errs := make([]error, len(jobs))
	g, gctx := newGroup(ctx, a.o.jobs)
	for i, j := range jobs {
		g.Go(func() error {
			errs[i] = j.do(gctx)
			return nil
		})
	}
	_ = g.Wait() // every job reports through errs
	te := &TagError{Failed: map[string]error{}}
	for i, j := range jobs {
		if errs[i] != nil {
			te.Failed[j.name] = errs[i]
		} else {
			te.Moved = append(te.Moved, j.name)
		}
	}
	if len(te.Failed) > 0 {
		return te
	}
	return nil
}

// verify reads every tag back (the digest, for a target without tags):
// a tag that reads back as the index's digest proves the index is there
// by digest too.
func (a *Assembler) verify(ctx context.Context, as *Assembly, regs []*registryTarget, lays []*layoutTarget) error {
	type check struct {
		t   *registryTarget
		ref name.Reference
	}
	var checks []check
	for _, t := range regs {
		for _, ref := range t.checked(as.Digest) {
			if !t.wasRead(ref) {
				checks = append(checks, check{t, ref})
			}
		}
	}
	errs := make([]error, len(checks))
	g, _ := newGroup(ctx, a.o.jobs)
	for i, c := range checks {
		g.Go(func() error {
			d, err := c.t.w.head(ctx, c.ref)
			switch {
			case err != nil:
				errs[i] = &RefError{Op: "reading back", Ref: c.ref, Err: err}
			case d != as.Digest:
				errs[i] = fmt.Errorf("%w: %s reads back as %s, want %s", ErrVerify, c.ref, d, as.Digest)
			}
			return nil
		})
	}
	_ = g.Wait()
	for _, t := range lays {
		errs = append(errs, verifyLayout(t.path, t.tags, as.Digest))
	}
	return errors.Join(errs...)
}

// indexContents is what an index holds below itself: every blob once,
// the image manifests, and nested indexes innermost first.
type indexContents struct {
	blobs           []v1.Layer
	images, indexes []Taggable
}

func contentsOf(idx v1.ImageIndex) (*indexContents, error) {
	c := &indexContents{}
	seen := map[v1.Hash]bool{}
	var walk func(idx v1.ImageIndex) error
	walk = func(idx v1.ImageIndex) error {
		children, err := partial.Manifests(idx)
		if err != nil {
			return err
		}
		for _, m := range children {
			switch m := m.(type) {
			case v1.ImageIndex:
				if err := walk(m); err != nil {
					return err
				}
				c.indexes = append(c.indexes, m)
			case v1.Image:
				ls, err := m.Layers()
				if err != nil {
					return err
				}
				cl, err := partial.ConfigLayer(m)
				if err != nil {
					return err
				}
				for _, l := range append(ls, cl) {
					d, err := l.Digest()
					if err != nil {
						return err
					}
					if !seen[d] {
						seen[d] = true
						c.blobs = append(c.blobs, l)
					}
				}
				c.images = append(c.images, m)
			default:
				return fmt.Errorf("index child %T is not a manifest", m)
			}
		}
		return nil
	}
	return c, walk(idx)
}

// mountSources are the repositories the blobs were read from, for the
// token that lets a writer mount from them.
func (c *indexContents) mountSources() []name.Repository {
	var out []name.Repository
	seen := map[string]bool{}
	for _, l := range c.blobs {
		if ml, ok := l.(*remote.MountableLayer); ok {
			if r := ml.Reference.Context(); !seen[r.String()] {
				seen[r.String()] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// pushChildren puts every manifest below the index by digest, after the
// blobs: all blobs first, then the image manifests, then nested indexes
// innermost first.
func (a *Assembler) pushChildren(ctx context.Context, w *repoWriter, c *indexContents) error {
	g, gctx := newGroup(ctx, a.o.jobs)
	for _, l := range c.blobs {
		g.Go(func() error { return w.writeBlob(gctx, l) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	put := func(ctx context.Context, m Taggable) error {
		d, err := m.Digest()
		if err != nil {
			return err
		}
		ref := w.repo.Digest(d.String())
		if err := w.putTaggable(ctx, ref, m); err != nil {
			return &RefError{Op: "pushing", Ref: ref, Err: err}
		}
		return nil
	}
	g, gctx = newGroup(ctx, a.o.jobs)
	for _, m := range c.images {
		g.Go(func() error { return put(gctx, m) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, m := range c.indexes {
		if err := put(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// statusOf is the HTTP status of a registry error, 0 for other errors.
func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

// byRegistry groups targets by registry, in first-seen order.
func byRegistry(regs []*registryTarget) [][]*registryTarget {
	var out [][]*registryTarget
	at := map[string]int{}
	for _, t := range regs {
		host := t.repo.RegistryStr()
		i, ok := at[host]
		if !ok {
			i = len(out)
			at[host] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], t)
	}
	return out
}

// checked are the references that tell whether t holds the index: its
// tags, or the digest when it has none.
func (t *registryTarget) checked(digest v1.Hash) []name.Reference {
	if len(t.tags) == 0 {
		return []name.Reference{t.repo.Digest(digest.String())}
	}
	out := make([]name.Reference, len(t.tags))
	for i, tag := range t.tags {
		out[i] = t.repo.Tag(tag)
	}
	return out
}

func openOrCreateLayout(path string) (layout.Path, error) {
	if _, err := os.Stat(path + "/index.json"); err == nil {
		return layout.FromPath(path)
	}
	return layout.Write(path, empty.Index)
}

func writeLayoutBlobs(path string, idx v1.ImageIndex) error {
	p, err := openOrCreateLayout(path)
	if err != nil {
		return fmt.Errorf("opening layout %s: %w", path, err)
	}
	if err := p.WriteIndex(idx); err != nil {
		return fmt.Errorf("writing layout %s: %w", path, err)
	}
	return nil
}

// tagLayout records the index in the layout's index.json under
// org.opencontainers.image.ref.name, replacing an entry of the same name,
// so skopeo and umoci find it as oci:PATH:TAG.
func tagLayout(path, tag string, as *Assembly) error {
	p, err := layout.FromPath(path)
	if err != nil {
		return fmt.Errorf("opening layout %s: %w", path, err)
	}
	anns := maps.Clone(as.IndexDescriptorAnnotations)
	if tag != "" {
		if anns == nil {
			anns = map[string]string{}
		}
		anns[specs.AnnotationRefName] = tag
	}
	var m match.Matcher = match.Digests(as.Digest)
	if tag != "" {
		m = match.Annotation(specs.AnnotationRefName, tag)
	}
	if err := p.ReplaceIndex(as.Index, m, layout.WithAnnotations(anns)); err != nil {
		return fmt.Errorf("tagging layout %s: %w", path, err)
	}
	return nil
}

func verifyLayout(path string, tags []string, want v1.Hash) error {
	idx, err := layout.ImageIndexFromPath(path)
	if err != nil {
		return fmt.Errorf("reading back layout %s: %w", path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading back layout %s: %w", path, err)
	}
	for _, tag := range tags {
		i := slices.IndexFunc(im.Manifests, func(d v1.Descriptor) bool { return d.Annotations[specs.AnnotationRefName] == tag })
		if i < 0 || im.Manifests[i].Digest != want {
			return fmt.Errorf("%w: oci:%s:%s does not point at %s", ErrVerify, path, tag, want)
		}
	}
	if _, err := idx.ImageIndex(want); err != nil {
		return fmt.Errorf("%w: oci:%s: index %s unreadable: %v", ErrVerify, path, want, err)
	}
	return nil
}

// newGroup is an errgroup bounded to limit concurrent jobs.
func newGroup(ctx context.Context, limit int) (*errgroup.Group, context.Context) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	return g, gctx
}

// Transport is the HTTP transport under every registry call the
// Assembler makes (retries, plain-HTTP guard, progress lines, one ping per
// registry), for other registry work of the same run, such as cleanup, to
// behave the same. Use it with RetryOptions. It lets go-containerregistry's
// ping through: the Assembler answers the pings of registries its keychain
// has no credential for itself, above this transport, and a caller with its
// own keychain may well have one.
func (a *Assembler) Transport() http.RoundTripper { return a.transport }

// RetryOptions are the go-containerregistry settings that go with
// Transport: ggcr's own per-request retries off, since Transport retries.
func (a *Assembler) RetryOptions() []remote.Option { return a.transport.RemoteOptions() }

// Digests are every manifest the index holds, nested ones included, and
// the index itself: what cleanup must never delete by digest.
func (as *Assembly) Digests() ([]v1.Hash, error) {
	out := []v1.Hash{as.Digest}
	var walk func(idx v1.ImageIndex) error
	walk = func(idx v1.ImageIndex) error {
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range im.Manifests {
			out = append(out, d.Digest)
			if d.MediaType.IsIndex() {
				child, err := idx.ImageIndex(d.Digest)
				if err != nil {
					return err
				}
				if err := walk(child); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(as.Index); err != nil {
		return nil, fmt.Errorf("listing the index's manifests: %w", err)
	}
	return out, nil
}
