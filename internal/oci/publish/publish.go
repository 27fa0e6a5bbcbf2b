package publish

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
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
	// Referrers counts the signatures, SBOMs and attestations copied.
	Referrers int `json:"referrers,omitempty"`
	// SkippedReferrers are referrers the target refused or kept
	// otherwise, each with why; the image was published without them.
	SkippedReferrers []string `json:"skippedReferrers"`
	// BytesUploaded, BytesMounted and BytesReused are the blob bytes the
	// target got by upload, by a mount from another repository of its
	// registry, and by already holding them (push.Stats); a re-run
	// uploads nothing. Zero for a layout.
	BytesUploaded int64 `json:"bytesUploaded"`
	BytesMounted  int64 `json:"bytesMounted"`
	BytesReused   int64 `json:"bytesReused"`
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
func (t *Targets) Publish(ctx context.Context, as *assembly.Assembly) (*Result, error) {
	c, dests := t.c, t.dests
	c.Logger().Info("pushing by digest", "digest", as.Digest.String(), "targets", len(dests))
	g, gctx := newGroup(ctx, c.Jobs())
	for _, d := range dests {
		g.Go(func() error { return d.write(gctx, as) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	c.Logger().Info("tagging")
	if err := tag(ctx, c, as, dests); err != nil {
		return nil, err
	}

	c.Logger().Info("verifying")
	var errs []error
	for _, d := range dests {
		errs = append(errs, d.verify(ctx, as))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	res := &Result{}
	for _, d := range dests {
		res.Targets = append(res.Targets, d.targets(as)...)
	}
	return res, nil
}

// tag runs every destination's tag jobs at once; a TagError says which
// tags moved and which did not.
func tag(ctx context.Context, c *client.Client, as *assembly.Assembly, dests []destination) error {
	var jobs []tagJob
	for _, d := range dests {
		jobs = append(jobs, d.tagJobs(as)...)
	}
	errs := make([]error, len(jobs))
	g, gctx := newGroup(ctx, c.Jobs())
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

// newGroup is an errgroup bounded to limit concurrent jobs.
func newGroup(ctx context.Context, limit int) (*errgroup.Group, context.Context) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	return g, gctx
}
