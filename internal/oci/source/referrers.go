package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/stack"
)

// Referrer is a manifest that refers to a platform manifest of the index,
// or to another referrer: a signature, an SBOM, an attestation. It is
// copied to every target with the platform manifest it describes.
type Referrer struct {
	// Digest is the referrer's manifest digest (unchanged by the copy).
	Digest string `json:"digest"`
	// ArtifactType is the manifest's artifactType, else its config's
	// media type (image-spec "Listing Referrers" rule for the descriptor);
	// empty for a cosign tag, which Kind names.
	ArtifactType string `json:"artifactType,omitempty"`
	// Kind is what a cosign tag holds, for people: "cosign signature",
	// "cosign attestation" or "cosign SBOM", from its tag's suffix and
	// its layers' media types (an SBOM's format, or layers of another
	// kind, after a colon). Its config's media type, an image config's,
	// would say nothing of it.
	Kind      string          `json:"kind,omitempty"`
	MediaType types.MediaType `json:"mediaType"`
	// Subject is the digest it refers to.
	Subject string `json:"subject"`
	// Tag is set for a cosign-style referrer, found and copied as the tag
	// sha256-<hex>.sig, .att or .sbom of its subject.
	Tag string `json:"tag,omitempty"`
}

// Referrer discovery follows the distribution spec's "Listing Referrers"
// (https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers):
// the referrers API where the registry has it, else the referrers tag
// schema's fallback tag sha256-<hex>, an index of referrer descriptors
// (https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#referrers-tag-schema);
// and cosign's tags sha256-<hex>.sig, .att and .sbom
// (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md).
const (
	ReferrersTagPrefix = "sha256-"
	// MaxReferrerDepth bounds the recursion: a signature of an SBOM of an
	// image is depth 2.
	MaxReferrerDepth = 4
)

// CosignSuffixes are the tag suffixes cosign attaches to a subject.
var CosignSuffixes = []string{".sig", ".att", ".sbom"}

// FoundReferrer is a referrer read from a source, ready to copy.
type FoundReferrer struct {
	Referrer
	Raw []byte
	Img v1.Image // its blobs
	// Desc is its entry in a referrers fallback index: digest, size,
	// media type, artifactType and the manifest's annotations.
	Desc v1.Descriptor
	// Children are the referrers of this referrer.
	Children []*FoundReferrer
}

// ReferrerFinder finds referrers in source repositories: one tag list per
// repository, and the referrers API only on registries that have it.
type ReferrerFinder struct {
	c *client.Client

	mu       sync.Mutex
	repos    map[string]*repoState // by repository
	hosts    map[string]*hostAPI   // by registry
	warnings []string
}

// warn records msg once.
func (f *ReferrerFinder) warn(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.warnings, msg) {
		f.warnings = append(f.warnings, msg)
	}
}

// repoState is what the finder learnt of one source repository.
type repoState struct {
	once sync.Once
	tags map[string]bool // sha256-* tags
	err  error

	clientOnce sync.Once
	client     *http.Client
	clientErr  error
}

// hostAPI is whether a registry has the referrers API; the first request
// of a registry decides for the others, which wait for it.
type hostAPI struct {
	mu    sync.Mutex
	known bool
	has   bool
}

func NewReferrerFinder(c *client.Client) *ReferrerFinder {
	return &ReferrerFinder{c: c, repos: map[string]*repoState{}, hosts: map[string]*hostAPI{}}
}

// find returns the referrers of d in repo, recursively, parent first.
// seen stops a cycle and a referrer found twice.
func (f *ReferrerFinder) find(ctx context.Context, repo name.Repository, d v1.Hash, depth int, seen map[v1.Hash]bool) ([]*FoundReferrer, error) {
	if depth >= MaxReferrerDepth {
		return nil, nil
	}
	tags, err := f.tags(ctx, repo)
	if err != nil {
		return nil, err
	}
	descs, err := f.api(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	fallback := ReferrersTagPrefix + d.Hex
	if tags[fallback] {
		more, err := f.fallbackIndex(ctx, repo, fallback)
		if err != nil {
			return nil, err
		}
		descs = append(descs, more...)
	}
	var out []*FoundReferrer
	for _, desc := range descs {
		if seen[desc.Digest] {
			continue
		}
		seen[desc.Digest] = true
		r, err := f.read(ctx, repo, repo.Digest(desc.Digest.String()), d, "")
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	for _, sfx := range CosignSuffixes {
		if !tags[fallback+sfx] {
			continue
		}
		r, err := f.read(ctx, repo, repo.Tag(fallback+sfx), d, fallback+sfx)
		if err != nil {
			return nil, err
		}
		if r != nil && !seen[r.Desc.Digest] {
			seen[r.Desc.Digest] = true
			out = append(out, r)
		}
	}
	for _, r := range out {
		if r.Children, err = f.find(ctx, repo, r.Desc.Digest, depth+1, seen); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// read reads one referrer's manifest. A referrer that is not an image
// manifest (an index with a subject, a withdrawn artifact manifest), or
// that the registry answers with something other than it (gone since it
// was listed, over the bounds, not matching its digest), is left out
// with a warning: nil, nil. Discovery never ends a publish; only a
// request that got no answer fails it.
func (f *ReferrerFinder) read(ctx context.Context, repo name.Repository, ref name.Reference, subject v1.Hash, tag string) (*FoundReferrer, error) {
	r, err := f.readReferrer(ctx, repo, ref, subject, tag)
	if err != nil && plan.Answered(err) {
		f.warn(fmt.Sprintf("referrer %s of %s could not be read, so it is not copied: %s", ref, subject, plan.QuoteText(err.Error())))
		return nil, nil
	}
	return r, err
}

func (f *ReferrerFinder) readReferrer(ctx context.Context, repo name.Repository, ref name.Reference, subject v1.Hash, tag string) (*FoundReferrer, error) {
	rd, err := f.c.Puller().Get(ctx, ref)
	if err != nil {
		return nil, &plan.RefError{Op: "reading referrer", Ref: ref, Err: err}
	}
	if !rd.MediaType.IsImage() || rd.MediaType.IsSchema1() {
		f.c.Logger().Warn("referrer is not an image manifest; not carried", "ref", ref.String(), "mediaType", string(rd.MediaType))
		return nil, nil
	}
	img, err := rd.Image()
	if err != nil {
		return nil, &plan.RefError{Op: "reading referrer", Ref: ref, Err: err}
	}
	desc, err := ReferrerDescriptor(rd.Manifest, rd.MediaType)
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", ref, err)
	}
	ci, err := NewCachedConfigImage(img, repo)
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", ref, err)
	}
	return &FoundReferrer{Referrer: NewReferrer(desc, rd.Manifest, subject, tag), Raw: rd.Manifest, Img: ci, Desc: desc}, nil
}

// ReferrerDescriptor is the descriptor of a referrer manifest as the
// referrers API lists it: artifactType is the manifest's artifactType,
// else its config's media type, and the manifest's annotations are copied
// (distribution-spec "Listing Referrers").
func ReferrerDescriptor(raw []byte, mt types.MediaType) (v1.Descriptor, error) {
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return v1.Descriptor{}, err
	}
	h, size, err := v1.SHA256(strings.NewReader(string(raw)))
	if err != nil {
		return v1.Descriptor{}, err
	}
	at := m.ArtifactType
	if at == "" {
		at = m.Config.MediaType
	}
	return v1.Descriptor{MediaType: mt, Size: size, Digest: h, ArtifactType: at, Annotations: m.Annotations}, nil
}

// tags lists repo's tags once and keeps those of the referrers tag
// schema and cosign: one list tells which fallback and cosign tags exist,
// instead of a request per tag.
func (f *ReferrerFinder) tags(ctx context.Context, repo name.Repository) (map[string]bool, error) {
	rt := f.repo(repo)
	rt.once.Do(func() { rt.tags, rt.err = f.listTags(ctx, repo) })
	return rt.tags, rt.err
}

// listTags reads repo's tag list within stack.DefaultTagLimits, keeping
// the valid tags of the referrers tag schema and cosign (sha256-*). A
// list that passes its bounds is read no further, with a warning: the
// tags read so far are looked at.
func (f *ReferrerFinder) listTags(ctx context.Context, repo name.Repository) (map[string]bool, error) {
	tags := map[string]bool{}
	client, err := f.client(ctx, repo)
	if err != nil {
		return f.listFailed(repo, err, tags)
	}
	all, _, err := stack.ListTags(ctx, client, repo, stack.DefaultTagLimits)
	for _, t := range all {
		if strings.HasPrefix(t, ReferrersTagPrefix) {
			tags[t] = true
		}
	}
	if errors.Is(err, stack.ErrListTooLong) {
		f.warn(fmt.Sprintf("the tag list of %s goes on past its bound (%v): fallback (sha256-<digest>) and cosign tags after the first %d were not looked for", repo, err, len(all)))
		return tags, nil
	}
	if err != nil {
		return f.listFailed(repo, err, tags)
	}
	return tags, nil
}

// listFailed decides what a failed tag list means for discovery: a
// registry that answers, but not with a tag list, is one without tags to
// find referrers by (one warning); only a request that got no answer
// fails the join.
func (f *ReferrerFinder) listFailed(repo name.Repository, err error, tags map[string]bool) (map[string]bool, error) {
	switch code := plan.StatusOf(err); {
	case code == http.StatusNotFound:
		// A repository that lists no tags (an image pushed by
		// digest only, as distribution answers it) has none.
		return tags, nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusMethodNotAllowed:
		// A pull-only credential may not list tags (ECR asks for
		// ecr:ListImages): publish, and say what was not looked for.
		f.warn(fmt.Sprintf("listing the tags of %s was refused (%d): its fallback (sha256-<digest>) and cosign tags were not looked for; "+
			"allow the credential to list tags, or set referrers: false to silence this", repo, code))
		return tags, nil
	case plan.Answered(err):
		f.warn(fmt.Sprintf("listing the tags of %s did not answer a tag list (%s): its fallback (sha256-<digest>) and cosign tags were not looked for",
			repo, plan.QuoteText(err.Error())))
		return tags, nil
	}
	return nil, &plan.RefError{Op: "listing the tags of", Ref: plan.RepoRef{Repository: repo}, Err: err}
}

// api lists d's referrers through the referrers API, or nothing when the
// registry has no such API (a 404 on the endpoint, as GHCR answers:
// actions/attest-build-provenance#71); the registry is not asked again.
func (f *ReferrerFinder) api(ctx context.Context, repo name.Repository, d v1.Hash) ([]v1.Descriptor, error) {
	f.mu.Lock()
	h := f.hosts[repo.RegistryStr()]
	if h == nil {
		h = &hostAPI{}
		f.hosts[repo.RegistryStr()] = h
	}
	f.mu.Unlock()
	h.mu.Lock()
	if h.known {
		has := h.has
		h.mu.Unlock()
		if !has {
			return nil, nil
		}
		descs, has, err := f.listAPI(ctx, repo, d)
		if err == nil && !has {
			h.mu.Lock()
			h.has = false // answered otherwise than the spec: not asked again
			h.mu.Unlock()
		}
		return descs, err
	}
	defer h.mu.Unlock()
	descs, has, err := f.listAPI(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	h.known, h.has = true, has
	return descs, nil
}

// listAPI GETs /v2/<name>/referrers/<digest>, following Link pages.
// has is false when the registry answers it as an unknown endpoint, or
// with anything but the spec's OCI index: a registry without the API,
// whose referrers are looked for in the fallback tag (with a warning
// when the answer was not a plain "not here").
func (f *ReferrerFinder) listAPI(ctx context.Context, repo name.Repository, d v1.Hash) (descs []v1.Descriptor, has bool, err error) {
	client, err := f.client(ctx, repo)
	if err != nil {
		return nil, false, err
	}
	u := &url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: "/v2/" + repo.RepositoryStr() + "/referrers/" + d.String()}
	first := true
	err = stack.Pages(ctx, u.String(), maxReferrerPages, func(ctx context.Context, next string) (http.Header, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, http.NoBody)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", string(types.OCIImageIndex))
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		if first && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest ||
			resp.StatusCode == http.StatusMethodNotAllowed) {
			// No referrers API: the spec's fallback is the tag schema.
			resp.Body.Close()
			return nil, errNoReferrersAPI
		}
		first = false
		im, err := readIndexManifest(resp)
		if err != nil {
			return nil, err
		}
		if descs = append(descs, im.Manifests...); len(descs) > MaxDescriptors {
			return nil, fmt.Errorf("more than %d referrers: %w", MaxDescriptors, ErrOverLimit)
		}
		return resp.Header, nil
	})
	switch {
	case err == nil:
		return descs, true, nil
	case errors.Is(err, errNoReferrersAPI):
		return nil, false, nil
	case !plan.Answered(err):
		return nil, false, &plan.RefError{Op: "listing referrers of", Ref: repo.Digest(d.String()), Err: err}
	}
	f.warn(fmt.Sprintf("the referrers API of %s answered with something other than an OCI index (%s): "+
		"referrers there are looked for through the fallback tag only", repo.RegistryStr(), plan.QuoteText(err.Error())))
	return nil, false, nil
}

// errNoReferrersAPI is a registry's plain "no such endpoint" to a
// referrers list.
var errNoReferrersAPI = errors.New("no referrers API")

// maxReferrerPages bounds the pages of one referrers list.
const maxReferrerPages = 100

// readIndexManifest reads a referrers list: an OCI image index, at most
// maxManifestSize bytes (distribution-spec "Listing Referrers").
func readIndexManifest(resp *http.Response) (*v1.IndexManifest, error) {
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if err := CheckManifestSize("the referrers list", raw); err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("the referrers list is not an OCI index: %w", err)
	}
	if im.SchemaVersion != 2 || im.MediaType != "" && im.MediaType != types.OCIImageIndex {
		return nil, fmt.Errorf("the referrers list is not an OCI index (schemaVersion %d, mediaType %q)", im.SchemaVersion, im.MediaType)
	}
	return im, nil
}

// fallbackIndex reads a referrers tag schema index. A tag of that name
// that holds something else is no fallback index: no referrers there,
// with a warning.
func (f *ReferrerFinder) fallbackIndex(ctx context.Context, repo name.Repository, tag string) ([]v1.Descriptor, error) {
	rd, err := f.c.Puller().Get(ctx, repo.Tag(tag))
	if err != nil {
		if plan.StatusOf(err) == http.StatusNotFound {
			return nil, nil // the tag went between the list and now
		}
		if plan.Answered(err) {
			f.warn(fmt.Sprintf("the referrers tag %s could not be read (%s): no referrers are taken from it", repo.Tag(tag), plan.QuoteText(err.Error())))
			return nil, nil
		}
		return nil, &plan.RefError{Op: "reading referrers of", Ref: repo.Tag(tag), Err: err}
	}
	var im *v1.IndexManifest
	if rd.MediaType.IsIndex() {
		if err = CheckManifestSize("referrers index "+repo.Tag(tag).String(), rd.Manifest); err == nil {
			im, err = v1.ParseIndexManifest(bytes.NewReader(rd.Manifest))
		}
	} else {
		err = fmt.Errorf("media type %q", rd.MediaType)
	}
	if err == nil && len(im.Manifests) > MaxDescriptors {
		err = fmt.Errorf("more than %d referrers: %w", MaxDescriptors, ErrOverLimit)
	}
	if err != nil {
		f.warn(fmt.Sprintf("the referrers tag %s holds something other than an OCI index (%s): no referrers are taken from it", repo.Tag(tag), plan.QuoteText(err.Error())))
		return nil, nil
	}
	return im.Manifests, nil
}

func (f *ReferrerFinder) repo(repo name.Repository) *repoState {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.repos[repo.String()]
	if rs == nil {
		rs = &repoState{}
		f.repos[repo.String()] = rs
	}
	return rs
}

// client is an HTTP client authenticated to pull from repo, one per
// repository, for the referrers endpoint, which the Puller does not
// expose.
func (f *ReferrerFinder) client(ctx context.Context, repo name.Repository) (*http.Client, error) {
	rs := f.repo(repo)
	rs.clientOnce.Do(func() {
		cl, err := f.c.Pull(ctx, repo)
		var ce *client.CredentialsError
		switch {
		case errors.As(err, &ce):
			rs.clientErr = err
		case err != nil:
			rs.clientErr = &plan.RefError{Op: "authenticating to", Ref: plan.RepoRef{Repository: repo}, Err: err}
		}
		rs.client = cl
	})
	return rs.client, rs.clientErr
}

// Warnings are what the finder could not read and went on without, each
// once.
func (f *ReferrerFinder) Warnings() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.warnings)
}
