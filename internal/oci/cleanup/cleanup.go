// Package cleanup deletes the temporary per-platform tags a matrix build
// leaves behind once the multi-platform index is published, without ever
// deleting a manifest that index points at.
//
// Deleting a tag is not the same as deleting what it points at: the temp
// tag's manifest is a child of the published index, so a DELETE by digest
// would break every pull of the index. Registries differ in what they allow,
// so each registry kind gets its own strategy:
//
//   - the OCI tag DELETE (distribution v3, zot, Quay, GCR, GitLab >= 16.4);
//   - where that is refused, a tombstone: the tag is moved onto a tiny
//     manifest that exists only for this purpose and that manifest is
//     deleted by digest (distribution 2.x);
//   - GHCR: the tombstone, deleted as a package version through the GitHub
//     REST API;
//   - Docker Hub: the Hub API's tag delete;
//   - GitLab before 16.4: the GitLab REST API's tag delete.
//
// Cleanup never fails the run: every tag is either deleted or kept with a
// one-line reason and fix, meant for a warning annotation.
//
// What a registry or vendor API answers is not trusted: listed names that
// are not valid tags are skipped, every listing is bounded, registry text
// in a reason is one escaped line, credentials never follow a redirect to
// another origin, a tag is deleted only while it points at the digest the
// run read, and a published tag a registry takes along with a temp tag is
// put back.
package cleanup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"

	"github.com/oci-assemble/oci-assemble/internal/oci/push"
)

// Deleter deletes temporary tags. It is safe for concurrent use.
type Deleter struct {
	o      *options
	client *http.Client
	// pusher writes and deletes tags and manifests: the program's one
	// write path, with one writer (one token) per repository.
	pusher *push.Pusher
	// repoLocks serialises tombstones within one repository: distribution
	// 2.x's filesystem storage is not safe for concurrent tag moves and
	// manifest deletes in a repository (seen as DIGEST_INVALID on the
	// tombstone PUT and MANIFEST_UNKNOWN on its DELETE).
	repoLocks sync.Map // repository name → *sync.Mutex
	// fellBack holds the registries whose refused tag DELETE was logged:
	// one line per registry says which way round the tags go, however
	// many tags take it.
	fellBack sync.Map // registry host → true
}

// New returns a Deleter configured by opts; it fails only on invalid
// options.
func New(opts ...Option) (*Deleter, error) {
	o, err := makeOptions(opts...)
	if err != nil {
		return nil, err
	}
	p, err := push.New(push.WithKeychain(o.keychain), push.WithTransport(o.transport), push.WithLogger(o.logger), push.WithDelete())
	if err != nil {
		return nil, err
	}
	return &Deleter{o: o, client: &http.Client{Transport: o.transport, CheckRedirect: sameOrigin}, pusher: p}, nil
}

// Kept is a tag (or delete-tags entry) that was not deleted.
type Kept struct {
	// Ref is the reference as given or expanded.
	Ref string
	// Reason says why it was kept, naming the registry's or API's answer.
	Reason string
	// Fix says what to change so the next run deletes it.
	Fix string
}

// String renders the one line for a warning annotation.
func (k Kept) String() string {
	if k.Fix == "" {
		return k.Ref + " kept: " + k.Reason
	}
	return k.Ref + " kept: " + k.Reason + "; " + k.Fix
}

// Result reports what Delete did, each list in input order.
type Result struct {
	// Deleted are the tags that are gone.
	Deleted []string
	// Kept are the tags still there, with why.
	Kept []Kept
	// WouldDelete are the tags a dry run would have deleted.
	WouldDelete []string
	// Restored are the published tags the registry deleted along with a
	// temp tag and that were put back (see Clean).
	Restored []string
	// Unmatched are the delete-tags globs that matched no tag.
	Unmatched []string
}

// keptError carries the user-facing reason and fix for a kept tag along
// with the underlying error (often a *transport.Error or *APIError).
type keptError struct {
	reason, fix string
	err         error
}

// Error is the reason alone: every reason already says what the registry
// or API answered, and repeating the wrapped error's text after it printed
// the same failure twice in one line. The wrapped error stays reachable
// through Unwrap.
func (e *keptError) Error() string { return e.reason }

func (e *keptError) Unwrap() error { return e.err }

func asKept(err error) (*keptError, bool) {
	var ke *keptError
	ok := errors.As(err, &ke)
	return ke, ok
}

func keep(err error, reason, fix string) error {
	return &keptError{reason: reason, fix: fix, err: err}
}

// ErrTombstoneProtected is wrapped in the reason a tag is kept when its
// tombstone's digest is among the protected digests; it cannot happen with
// random nonces and is checked so a bug can never delete a published
// manifest.
var ErrTombstoneProtected = errors.New("tombstone digest is protected")

type outcome struct {
	deleted, would bool
	kept           Kept
	// lost is a published manifest the registry took with the tag and
	// that could not be put back at once (see ensureSurvived).
	lost *lostManifest
}

// session holds what is shared by the tags of one Delete call.
type session struct {
	hub hubTokens
}

// Delete deletes tags. protected holds every digest published in this run
// (each child manifest and the index): those are never deleted by digest,
// whatever a tag points at. Delete never fails: each tag ends up in Deleted,
// Kept or (dry run) WouldDelete. A tag on a WithInsecureRegistries host is
// reached over plain HTTP however it was parsed. A tag that another run
// moves while it is being deleted is kept (ErrTagMoved).
func (d *Deleter) Delete(ctx context.Context, tags []name.Tag, protected map[v1.Hash]bool) Result {
	targets := make([]target, len(tags))
	for i, t := range tags {
		targets[i] = target{tag: t}
	}
	return d.deleteTargets(ctx, targets, protected)
}

// target is a tag to delete and, when known, the digest it pointed at
// when the run read it: a tag that points elsewhere is kept.
type target struct {
	tag  name.Tag
	read v1.Hash
}

func (d *Deleter) deleteTargets(ctx context.Context, targets []target, protected map[v1.Hash]bool) Result {
	targets = uniqueTargets(targets)
	for i, t := range targets {
		targets[i].tag = d.o.insecure.Tag(t.tag)
	}
	out := make([]outcome, len(targets))
	s := &session{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.o.jobs)
	for i, t := range targets {
		g.Go(func() error {
			out[i] = d.deleteOne(gctx, s, t, protected)
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through out and never fail
	d.restoreLost(ctx, out)
	var r Result
	for i, o := range out {
		switch {
		case o.deleted:
			r.Deleted = append(r.Deleted, targets[i].tag.String())
		case o.would:
			r.WouldDelete = append(r.WouldDelete, targets[i].tag.String())
		default:
			r.Kept = append(r.Kept, o.kept)
		}
	}
	return r
}

func uniqueTargets(targets []target) []target {
	seen := make(map[string]bool, len(targets))
	out := make([]target, 0, len(targets))
	for _, t := range targets {
		if !seen[t.tag.Name()] {
			seen[t.tag.Name()] = true
			out = append(out, t)
		}
	}
	return out
}

func (d *Deleter) deleteOne(ctx context.Context, s *session, t target, protected map[v1.Hash]bool) outcome {
	tag := t.tag
	ref := tag.String()
	kind := d.o.kindOf(tag.RegistryStr())
	log := d.o.logger.With("ref", ref, "kind", kind.String())

	desc, err := remote.Get(tag, d.remoteOptions(ctx)...)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return kept(ref, keep(err, "tag not found, nothing to delete", "check the delete-tags entry; the tag may be gone already"))
		}
		return kept(ref, keep(err, "reading the tag failed ("+describe(err)+")", fixFor(err, tag.Context())))
	}
	if t.read != (v1.Hash{}) && desc.Digest != t.read {
		return kept(ref, movedError(t.read, desc.Digest))
	}
	if d.o.dryRun {
		log.Info("dry run: would delete tag", "digest", desc.Digest.String())
		return outcome{would: true}
	}

	var how string
	if kind == KindDockerHub {
		how, err = "Docker Hub API", d.hubDeleteTag(ctx, s, tag, desc.Digest)
	} else {
		how, err = d.deleteTag(ctx, tag, desc, kind, protected)
	}
	if err != nil {
		// The caller reports the kept tag, with its reason, in one line.
		return kept(ref, err)
	}
	log.Info("deleted tag", "via", how, "digest", desc.Digest.String())
	return outcome{deleted: true, lost: d.ensureSurvived(ctx, tag, desc, protected)}
}

// deleteTag tries the OCI tag DELETE and, where the registry refuses it,
// the kind's fallback. It returns how the tag was deleted.
func (d *Deleter) deleteTag(ctx context.Context, tag name.Tag, desc *remote.Descriptor, kind Kind, protected map[v1.Hash]bool) (string, error) {
	// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#deleting-tags
	w, err := d.pusher.Writer(ctx, tag.Context())
	if err == nil {
		err = w.Delete(ctx, tag)
	}
	if err == nil {
		return "OCI tag DELETE", nil
	}
	if !refused(err, kind) {
		return "", keep(err, "registry refused to delete the tag ("+describe(err)+")", fixFor(err, tag.Context()))
	}
	refusal := describe(err)
	if _, said := d.fellBack.LoadOrStore(tag.RegistryStr(), true); !said {
		d.o.logger.Info("the registry refused the tag DELETE; its tags are deleted another way",
			"registry", tag.RegistryStr(), "kind", kind.String(), "refusal", refusal)
	}
	switch kind {
	case KindGitLab:
		return d.gitlabFallback(ctx, tag, desc, protected, refusal)
	case KindGHCR:
		if err := d.ghcrReady(tag.Context()); err != nil {
			return "", err
		}
		return "tombstone + GitHub API", d.viaTombstone(ctx, tag, desc, protected, refusal, func(ctx context.Context, h v1.Hash) error {
			return d.ghcrDeleteVersion(ctx, tag.Context(), h)
		})
	default:
		return "tombstone", d.viaTombstone(ctx, tag, desc, protected, refusal, func(ctx context.Context, h v1.Hash) error {
			return d.deleteByDigest(ctx, tag.Context(), h)
		})
	}
}

// refused reports whether a tag DELETE failed because the registry does not
// delete tags that way (so a fallback may work), rather than for want of
// permission or availability.
func refused(err error, kind Kind) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if kind == KindGHCR || kind == KindGitLab {
		// Their fallbacks go through a REST API with other credentials, so
		// even a registry token refused the delete scope is worth passing.
		s := statusOf(err)
		return s == 0 || s >= 400 && s < 500 && s != http.StatusTooManyRequests
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	switch te.StatusCode {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotFound:
		// 404: we just read the tag, so the registry does not route tag
		// deletes rather than lacking the tag.
		return true
	}
	for _, diag := range te.Errors {
		if diag.Code == transport.UnsupportedErrorCode || diag.Code == transport.DigestInvalidErrorCode {
			return true
		}
	}
	return false
}

// ensureSurvived re-reads a protected manifest after its tag was deleted
// and puts it back by digest if the registry took it with the tag (old
// GitLab releases and Harbor before 2.0 did): a published index must never
// dangle. A restore that fails (an index whose children another tag's
// delete took at the same moment) is returned for restoreLost.
func (d *Deleter) ensureSurvived(ctx context.Context, tag name.Tag, desc *remote.Descriptor, protected map[v1.Hash]bool) *lostManifest {
	if !protected[desc.Digest] {
		return nil
	}
	ref := tag.Context().Digest(desc.Digest.String())
	_, err := remote.Head(ref, d.remoteOptions(ctx)...)
	if statusOf(err) != http.StatusNotFound {
		return nil
	}
	d.o.logger.Warn("registry deleted a published manifest with its tag; restoring it", "ref", ref.String())
	l := &lostManifest{ref: ref, desc: desc}
	if err := d.putLost(ctx, l); err != nil {
		d.o.logger.Debug("restoring published manifest failed; trying again after the other deletes", "ref", ref.String(), "err", err)
		return l
	}
	return nil
}

// lostManifest is a published manifest to put back by digest.
type lostManifest struct {
	ref  name.Digest
	desc *remote.Descriptor
}

func (d *Deleter) putLost(ctx context.Context, l *lostManifest) error {
	w, err := d.pusher.Writer(ctx, l.ref.Context())
	if err == nil {
		err = w.PutManifest(ctx, l.ref, l.desc.MediaType, l.desc.Manifest)
	}
	return err
}

// restoreLost puts back, once every delete is done, the published
// manifests ensureSurvived could not: images before indexes, since a
// registry refuses an index whose children are missing.
func (d *Deleter) restoreLost(ctx context.Context, out []outcome) {
	var lost []*lostManifest
	for _, o := range out {
		if o.lost != nil {
			lost = append(lost, o.lost)
		}
	}
	slices.SortStableFunc(lost, func(a, b *lostManifest) int {
		return cmp.Compare(b2i(a.desc.MediaType.IsIndex()), b2i(b.desc.MediaType.IsIndex()))
	})
	for _, l := range lost {
		if err := d.putLost(ctx, l); err != nil {
			d.o.logger.Error("restoring published manifest failed; re-run the publish step", "ref", l.ref.String(), "err", err)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (d *Deleter) remoteOptions(ctx context.Context) []remote.Option {
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(d.o.keychain),
		remote.WithTransport(d.o.transport),
	}
	if d.o.client != nil {
		opts = d.o.client.RemoteOptions(ctx)
	}
	if d.o.pageSize > 0 {
		opts = append(opts, remote.WithPageSize(d.o.pageSize))
	}
	return append(opts, d.o.remote...)
}

func kept(ref string, err error) outcome {
	var ke *keptError
	if errors.As(err, &ke) {
		return outcome{kept: Kept{Ref: ref, Reason: ke.reason, Fix: ke.fix}}
	}
	return outcome{kept: Kept{Ref: ref, Reason: oneLineMax(err.Error(), maxErrorText), Fix: "delete the tag by hand"}}
}

// statusOf returns the HTTP status of a registry or API refusal, or 0.
func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// describe renders a refusal as "405 UNSUPPORTED" or "403 Forbidden: msg",
// the registry's text made one bounded line (oneLine).
func describe(err error) string {
	var te *transport.Error
	if errors.As(err, &te) {
		s := fmt.Sprint(te.StatusCode)
		if len(te.Errors) > 0 {
			s += " " + oneLine(string(te.Errors[0].Code))
			if m := te.Errors[0].Message; m != "" {
				s += ": " + oneLine(m)
			}
		} else {
			s += " " + http.StatusText(te.StatusCode)
		}
		return s
	}
	var ae *APIError
	if errors.As(err, &ae) {
		s := fmt.Sprint(ae.StatusCode)
		if ae.Message != "" {
			s += ": " + oneLine(ae.Message)
		}
		return s
	}
	return oneLineMax(err.Error(), maxErrorText)
}

// fixFor suggests what to change after a registry refusal.
func fixFor(err error, repo name.Repository) string {
	switch s := statusOf(err); {
	case s == http.StatusUnauthorized:
		return "log in to " + repo.RegistryStr() + " before the cleanup step"
	case s == http.StatusForbidden:
		return "give the credentials for " + repo.String() + " push and delete access"
	case s == http.StatusTooManyRequests || s >= 500 || s == 0:
		return "the registry or network failed; re-run the cleanup later"
	default:
		return "delete the tag in the registry's UI"
	}
}
