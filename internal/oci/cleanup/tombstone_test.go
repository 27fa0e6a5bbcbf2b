package cleanup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestTombstoneShape(t *testing.T) {
	t.Parallel()
	tag, err := name.NewTag("reg.example/o/app:tmp-amd64")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newTombstone(tag, "nonce-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := newTombstone(tag, "nonce-b")
	if err != nil {
		t.Fatal(err)
	}
	if a.digest == b.digest {
		t.Errorf("tombstones with different nonces share digest %s", a.digest)
	}
	m, err := v1.ParseManifest(bytes.NewReader(a.raw))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.MediaType, types.OCIManifestSchema1; got != want {
		t.Errorf("mediaType = %s, want %s", got, want)
	}
	if got, want := string(m.Config.MediaType), emptyMediaType; got != want {
		t.Errorf("config mediaType = %s, want %s", got, want)
	}
	if got, want := m.Config.Digest.String(), emptyDigest; got != want {
		t.Errorf("config digest = %s, want %s", got, want)
	}
	if h, _, _ := v1.SHA256(strings.NewReader("{}")); h.String() != emptyDigest {
		t.Errorf("emptyDigest = %s, but sha256({}) = %s", emptyDigest, h)
	}
	if got, want := m.Annotations[TombstoneTagAnnotation], tag.String(); got != want {
		t.Errorf("tag annotation = %q, want %q", got, want)
	}
	if got, want := m.Annotations[TombstoneNonceAnnotation], "nonce-a"; got != want {
		t.Errorf("nonce annotation = %q, want %q", got, want)
	}
	var raw struct {
		ArtifactType string `json:"artifactType"`
	}
	if err := json.Unmarshal(a.raw, &raw); err != nil || raw.ArtifactType != TombstoneArtifactType {
		t.Errorf("artifactType = %q (%v), want %q", raw.ArtifactType, err, TombstoneArtifactType)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(a.raw)); h != a.digest {
		t.Errorf("digest = %s, want sha256 of the raw manifest %s", a.digest, h)
	}
}

// TestTombstoneNeverProtected forces the tombstone's digest into the
// protected set: the tag is kept, nothing is written or deleted.
func TestTombstoneNeverProtected(t *testing.T) {
	t.Parallel()
	reg := newMemRegistry(t, func(m *memRegistry) { m.refuseTagDelete = true })
	p := publish(t, reg.host, "o/app")
	tomb, err := newTombstone(p.tmpTags[0], "fixed")
	if err != nil {
		t.Fatal(err)
	}
	protected := p.protected()
	protected[tomb.digest] = true
	rec := newRecorder()
	d, err := New(WithTransport(rec), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	d.o.nonce = func() (string, error) { return "fixed", nil }

	res := d.Delete(context.Background(), p.tmpTags[:1], protected)

	if len(res.Kept) != 1 || !strings.Contains(res.Kept[0].Reason, "is a protected digest") {
		t.Fatalf("Kept = %+v, want the tombstone refusal", res.Kept)
	}
	if n := rec.Count(http.MethodPut, "/manifests/") + len(digestDeletes(rec)); n != 0 {
		t.Errorf("manifest PUTs + digest DELETEs = %d, want 0", n)
	}
	if status, dg := reg.get(t, "o/app", "tmp-amd64"); status != http.StatusOK || dg != p.children[0].String() {
		t.Errorf("tag: status %d digest %s, want 200 %s", status, dg, p.children[0])
	}
	// The sentinel is reachable through the error the reason came from.
	_, err = d.deleteTag(context.Background(), p.tmpTags[0], mustDescriptor(t, p.tmpTags[0]), KindGeneric, protected)
	if !errors.Is(err, ErrTombstoneProtected) {
		t.Errorf("deleteTag() error = %v, want ErrTombstoneProtected", err)
	}
}

// TestTombstoneRestoredWhenDigestDeleteRefused: a registry with deletes
// disabled accepts the tombstone but refuses to delete it; the tag goes
// back to its manifest and is kept.
func TestTombstoneRestoredWhenDigestDeleteRefused(t *testing.T) {
	t.Parallel()
	reg := newMemRegistry(t, func(m *memRegistry) { m.refuseTagDelete, m.refuseDigestDelete = true, true })
	p := publish(t, reg.host, "o/app")
	d, err := New(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	res := d.Delete(context.Background(), p.tmpTags[:1], p.protected())
	want := "registry refused the tag DELETE (405 UNSUPPORTED: The operation is unsupported.) and registry refused to delete the tombstone by digest (405 UNSUPPORTED: The operation is unsupported.) (tag restored)"
	if len(res.Kept) != 1 || res.Kept[0].Reason != want || !strings.Contains(res.Kept[0].Fix, "storage.delete.enabled") {
		t.Fatalf("Kept = %+v, want reason %q and a fix naming storage.delete.enabled", res.Kept, want)
	}
	if status, dg := reg.get(t, "o/app", "tmp-amd64"); status != http.StatusOK || dg != p.children[0].String() {
		t.Errorf("tag: status %d digest %s, want 200 %s (restored)", status, dg, p.children[0])
	}
}

// TestDeleteKeeps covers refusals that keep a tag unchanged.
func TestDeleteKeeps(t *testing.T) {
	t.Parallel()
	refuse := func(method, part string, status int, code string) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != method || !strings.Contains(r.URL.Path, part) {
				return false
			}
			writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": "test refusal"}}})
			return true
		}
	}
	tests := []struct {
		name          string
		tag           string
		intercept     func(w http.ResponseWriter, r *http.Request) bool
		refuseTagDel  bool
		wantReason    string
		wantTombstone bool
	}{
		{
			name:       "tag missing",
			tag:        "gone",
			wantReason: "tag not found, nothing to delete",
		},
		{
			name:       "tag DELETE forbidden: no fallback",
			tag:        "tmp-amd64",
			intercept:  refuse(http.MethodDelete, "/manifests/tmp-", http.StatusForbidden, "DENIED"),
			wantReason: "registry refused to delete the tag (403 DENIED: test refusal)",
		},
		{
			name:          "immutable tag refuses the tombstone",
			tag:           "tmp-amd64",
			refuseTagDel:  true,
			intercept:     refuse(http.MethodPut, "/manifests/tmp-", http.StatusBadRequest, "TAG_INVALID"),
			wantReason:    "registry refused the tag DELETE (405 UNSUPPORTED: The operation is unsupported.) and moving the tag onto a tombstone failed (400 TAG_INVALID: test refusal)",
			wantTombstone: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Refusals start once the index is published.
			var armed atomic.Bool
			reg := newMemRegistry(t, func(m *memRegistry) {
				m.refuseTagDelete = tc.refuseTagDel
				if tc.intercept != nil {
					m.intercept = func(w http.ResponseWriter, r *http.Request) bool {
						return armed.Load() && tc.intercept(w, r)
					}
				}
			})
			p := publish(t, reg.host, "o/app")
			armed.Store(true)
			rec := newRecorder()
			d, err := New(WithTransport(rec), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			res := d.Delete(context.Background(), []name.Tag{p.repo.Tag(tc.tag)}, p.protected())
			if len(res.Kept) != 1 || res.Kept[0].Reason != tc.wantReason || res.Kept[0].Fix == "" {
				t.Fatalf("Kept = %+v, want reason %q and a fix", res.Kept, tc.wantReason)
			}
			if got := len(tombstonesPut(t, rec)) > 0; got != tc.wantTombstone {
				t.Errorf("tombstone attempted = %v, want %v", got, tc.wantTombstone)
			}
			if len(digestDeletes(rec)) != 0 {
				t.Errorf("digest deletes = %v, want none", digestDeletes(rec))
			}
			for _, tag := range []string{"tmp-amd64", "tmp-arm64"} {
				if status, _ := reg.get(t, "o/app", tag); status != http.StatusOK {
					t.Errorf("%s: status %d, want 200", tag, status)
				}
			}
		})
	}
}

// TestPublishedManifestRestored: a registry whose tag DELETE also deletes
// the manifest it points at would break the index; the protected child is
// put back by digest.
func TestPublishedManifestRestored(t *testing.T) {
	t.Parallel()
	reg := newMemRegistry(t, func(m *memRegistry) {
		m.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			repo, ref, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/")
			if !ok || r.Method != http.MethodDelete || strings.HasPrefix(ref, "sha256:") {
				return false
			}
			// Resolve the tag and delete its digest along with it.
			rw := httptest.NewRecorder()
			m.inner.ServeHTTP(rw, httptest.NewRequest(http.MethodHead, r.URL.Path, nil))
			m.deleteRef(repo, ref)
			m.deleteRef(repo, rw.Header().Get("Docker-Content-Digest"))
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "")
			return true
		}
	})
	p := publish(t, reg.host, "o/app")
	d, err := New(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	res := d.Delete(context.Background(), p.tmpTags[:1], p.protected())
	if got, want := res.Deleted, []string{p.tmpTags[0].String()}; !slices.Equal(got, want) {
		t.Fatalf("Deleted = %v, want %v (kept %v)", got, want, res.Kept)
	}
	if status, dg := reg.get(t, "o/app", p.children[0].String()); status != http.StatusOK || dg != p.children[0].String() {
		t.Errorf("child by digest: status %d digest %s, want 200 %s", status, dg, p.children[0])
	}
}

func mustDescriptor(t *testing.T, tag name.Tag) *remote.Descriptor {
	t.Helper()
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}
