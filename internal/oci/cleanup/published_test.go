package cleanup

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestPublishedTagsSurviveHarborTagDelete: behind a registry whose tag
// DELETE deletes the manifest and every tag on it (Harbor before 2.0,
// emulated by registrytest.TagDeleteDeletesManifest in front of
// distribution v3), deleting a temp tag that shares the published index
// with the published tags must not leave them missing: each still
// resolves to the published digest afterwards, and the children by
// digest too.
func TestPublishedTagsSurviveHarborTagDelete(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	proxy := registrytest.StartQuirkProxy(t, reg, registrytest.TagDeleteDeletesManifest())
	const repo = "o/app"
	p := publish(t, proxy.Host, repo)
	// A staging tag on the index, and a second published tag on it.
	for _, tag := range []string{"staging", "v1"} {
		if err := remoteTag(p.repo.Tag("latest"), p.repo.Tag(tag)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := New(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}

	res, err := d.Clean(context.Background(), Request{
		Patterns:  []string{proxy.Host + "/" + repo + ":staging", proxy.Host + "/" + repo + ":tmp-*"},
		Published: []name.Tag{p.repo.Tag("latest"), p.repo.Tag("v1")},
		Protected: append(slices.Clone(p.children), p.index),
	})
	if err != nil {
		t.Fatal(err)
	}

	if proxy.Answered("tag-delete-deletes-manifest") == 0 {
		t.Fatal("the quirk never answered: the test did not exercise it")
	}
	if got, want := res.Deleted, []string{p.repo.Tag("staging").String(), p.tmpTags[0].String(), p.tmpTags[1].String()}; !slices.Equal(got, want) {
		t.Errorf("Deleted = %v, want %v (kept %+v)", got, want, res.Kept)
	}
	for _, tag := range []string{"latest", "v1"} {
		m, status := reg.TryManifest(t, repo, tag)
		if status != 200 || m.Digest != p.index.String() {
			t.Errorf("published tag %s: status %d digest %s, want 200 %s", tag, status, m.Digest, p.index)
		}
	}
	for _, h := range append(slices.Clone(p.children), p.index) {
		if _, status := reg.TryManifest(t, repo, h.String()); status != 200 {
			t.Errorf("published manifest %s: status %d, want 200", h, status)
		}
	}
	if got, want := res.Restored, []string{p.repo.Tag("latest").String(), p.repo.Tag("v1").String()}; !slices.Equal(got, want) {
		t.Errorf("Restored = %v, want %v", got, want)
	}
}

// TestLostManifestRestoredAfterDeletes: a published manifest the registry
// took with a tag, and that could not be put back at once (here the
// first PUT is refused, as an index is while another delete has taken
// its children), is put back once the other deletes are done.
func TestLostManifestRestoredAfterDeletes(t *testing.T) {
	t.Parallel()
	var refused atomic.Bool
	reg := newMemRegistry(t, nil)
	p := publish(t, reg.host, "o/app")
	reg.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/manifests/staging"):
			// Harbor before 2.0: the tag's manifest goes, with its tags.
			reg.deleteRef("o/app", p.index.String())
			reg.deleteRef("o/app", "staging")
			reg.deleteRef("o/app", "latest")
			w.WriteHeader(http.StatusAccepted)
			return true
		case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+p.index.String()) && !refused.Swap(true):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
			return true
		}
		return false
	}
	if err := remoteTag(p.repo.Tag("latest"), p.repo.Tag("staging")); err != nil {
		t.Fatal(err)
	}
	d, err := New(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}

	res := d.Delete(context.Background(), []name.Tag{p.repo.Tag("staging")}, p.protected())

	if len(res.Deleted) != 1 || !refused.Load() {
		t.Fatalf("Deleted = %v, Kept = %+v, first restore refused = %v", res.Deleted, res.Kept, refused.Load())
	}
	if status, _ := reg.get(t, "o/app", p.index.String()); status != http.StatusOK {
		t.Errorf("published index by digest: status %d, want 200", status)
	}
}
