package cleanup

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestDeleteOnDistribution deletes the temp tags of a published index on
// real registries: distribution 2.8 refuses the tag DELETE (tombstone
// path), distribution v3 accepts it.
func TestDeleteOnDistribution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		version       registrytest.Version
		wantTombstone bool
	}{
		{name: "distribution-2.8 tombstone", version: registrytest.V2, wantTombstone: true},
		{name: "distribution-v3 tag delete", version: registrytest.V3, wantTombstone: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, registrytest.WithVersion(tc.version))
			const repo = "o/app"
			p := publish(t, reg.Host, repo)
			rec := newRecorder()
			d, err := New(WithTransport(rec), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}

			res := d.Delete(context.Background(), p.tmpTags, p.protected())

			if len(res.Kept) != 0 {
				t.Fatalf("Kept = %v, want none", res.Kept)
			}
			if got, want := res.Deleted, tagStrings(p.tmpTags); !slices.Equal(got, want) {
				t.Errorf("Deleted = %v, want %v", got, want)
			}
			if got, want := reg.Tags(t, repo), []string{"latest"}; !slices.Equal(got, want) {
				t.Errorf("tags after cleanup = %v, want %v (no temp tag, no tombstone tag)", got, want)
			}
			assertIndexIntact(t, reg, repo, p)
			assertNoProtectedDeleted(t, rec, p.protected())

			tombs := tombstonesPut(t, rec)
			deleted := digestDeletes(rec)
			if tc.wantTombstone {
				if got, want := len(tombs), len(p.tmpTags); got != want {
					t.Errorf("tombstones pushed = %d, want %d", got, want)
				}
				for _, dg := range deleted {
					if !tombs[dg] {
						t.Errorf("deleted %s by digest, which is not a tombstone we pushed", dg)
					}
				}
				for dg := range tombs {
					if _, status := reg.TryManifest(t, repo, dg); status != http.StatusNotFound {
						t.Errorf("tombstone %s: status %d, want 404", dg, status)
					}
					if p.protected()[mustHash(t, dg)] {
						t.Errorf("tombstone %s is a protected digest", dg)
					}
				}
			} else {
				if got := rec.Count(http.MethodPut, "/manifests/"); got != 0 {
					t.Errorf("manifest PUTs = %d, want 0 (no tombstone on a registry that deletes tags)", got)
				}
				if got := rec.Count(http.MethodPost, "/blobs/uploads/"); got != 0 {
					t.Errorf("blob uploads = %d, want 0", got)
				}
				if len(deleted) != 0 {
					t.Errorf("deletes by digest = %v, want none", deleted)
				}
				if got, want := rec.Count(http.MethodDelete, "/manifests/tmp-"), len(p.tmpTags); got != want {
					t.Errorf("tag DELETEs = %d, want %d", got, want)
				}
			}
		})
	}
}

// assertIndexIntact re-reads the index, its children and their blobs
// through the registry API.
func assertIndexIntact(t *testing.T, reg *registrytest.Registry, repo string, p published) {
	t.Helper()
	idx := reg.GetManifest(t, repo, "latest")
	if got, want := idx.Digest, p.index.String(); got != want {
		t.Errorf("index digest = %s, want %s", got, want)
	}
	for _, child := range p.children {
		m := reg.GetManifest(t, repo, child.String())
		mf, err := v1.ParseManifest(strings.NewReader(string(m.Body)))
		if err != nil {
			t.Fatalf("child %s: %v", child, err)
		}
		reg.GetBlob(t, repo, mf.Config.Digest.String())
		for _, l := range mf.Layers {
			if got := reg.BlobStatus(t, repo, l.Digest.String()); got != http.StatusOK {
				t.Errorf("layer %s of %s: status %d, want 200", l.Digest, child, got)
			}
		}
	}
}

// TestProtectedTagDeletedAtTagLevel: the temp tag points straight at a
// protected child; it is removed without any DELETE of that digest and the
// child stays readable, on both registry flavours.
func TestProtectedTagDeletedAtTagLevel(t *testing.T) {
	t.Parallel()
	for _, v := range []registrytest.Version{registrytest.V2, registrytest.V3} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, registrytest.WithVersion(v))
			p := publish(t, reg.Host, "prot/app")
			// Protect only the child the tag points at: the check must not
			// depend on the index being listed too.
			protected := map[v1.Hash]bool{p.children[0]: true}
			rec := newRecorder()
			d, err := New(WithTransport(rec), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			res := d.Delete(context.Background(), p.tmpTags[:1], protected)
			if got, want := res.Deleted, []string{p.tmpTags[0].String()}; !slices.Equal(got, want) {
				t.Fatalf("Deleted = %v, want %v (kept %v)", got, want, res.Kept)
			}
			assertNoProtectedDeleted(t, rec, protected)
			if m := reg.GetManifest(t, "prot/app", p.children[0].String()); m.Digest != p.children[0].String() {
				t.Errorf("child digest = %s, want %s", m.Digest, p.children[0])
			}
			for dg := range tombstonesPut(t, rec) {
				if protected[mustHash(t, dg)] {
					t.Errorf("tombstone %s is protected", dg)
				}
			}
		})
	}
}

// TestExpandGlobPagination lists more tags than one page (n=2 on
// distribution v3, which sends Link headers) and matches a glob across
// pages; digest entries are kept with a reason.
func TestExpandGlobPagination(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	p := publish(t, reg.Host, "glob/app")
	// More tags so that matches sit on later pages: a-keep, latest,
	// tmp-amd64, tmp-arm64, tmp-riscv64, z-keep.
	extra := []string{"a-keep", "tmp-riscv64", "z-keep"}
	for _, tag := range extra {
		if err := remoteTag(p.tmpTags[0], p.repo.Tag(tag)); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder()
	d, err := New(WithTransport(rec), WithPageSize(2), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	base := reg.Host + "/glob/app"
	tags, kept, err := d.Expand(context.Background(), []string{
		base + ":tmp-*",
		base + "@" + p.children[0].String(),
		base + ":tmp-amd64", // duplicate of a glob match
		base + ":[az]-keep",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{base + ":tmp-amd64", base + ":tmp-arm64", base + ":tmp-riscv64", base + ":a-keep", base + ":z-keep"}
	if got := tagStrings(tags); !slices.Equal(got, want) {
		t.Errorf("Expand() tags = %v, want %v", got, want)
	}
	if len(kept) != 1 || !strings.Contains(kept[0].Reason, "digest reference is never deleted") {
		t.Errorf("Expand() kept = %v, want the digest entry", kept)
	}
	if got := rec.Count(http.MethodGet, "/tags/list"); got < 3 {
		t.Errorf("tag list requests = %d, want >= 3 (6 tags at 2 per page, listed once)", got)
	}
	if writes(rec) != 0 {
		t.Errorf("Expand wrote %d times, want 0", writes(rec))
	}
}

// TestDryRunWritesNothing expands and "deletes" on distribution 2.8 with
// WithDryRun: the storage tree and tag list are unchanged.
func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	p := publish(t, reg.Host, "dry/app")
	before, tagsBefore := snapshot(t, reg.Dir), reg.Tags(t, "dry/app")
	rec := newRecorder()
	d, err := New(WithTransport(rec), WithDryRun(true), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	tags, _, err := d.Expand(context.Background(), []string{reg.Host + "/dry/app:tmp-*"})
	if err != nil {
		t.Fatal(err)
	}
	res := d.Delete(context.Background(), tags, p.protected())
	if got, want := res.WouldDelete, tagStrings(p.tmpTags); !slices.Equal(got, want) {
		t.Errorf("WouldDelete = %v, want %v", got, want)
	}
	if len(res.Deleted) != 0 || len(res.Kept) != 0 {
		t.Errorf("Deleted = %v, Kept = %v, want none", res.Deleted, res.Kept)
	}
	if n := writes(rec); n != 0 {
		t.Errorf("dry run sent %d writing requests, want 0", n)
	}
	if got := reg.Tags(t, "dry/app"); !slices.Equal(got, tagsBefore) {
		t.Errorf("tags = %v, want unchanged %v", got, tagsBefore)
	}
	if after := snapshot(t, reg.Dir); !slices.Equal(after, before) {
		t.Errorf("registry storage changed:\nbefore %v\nafter  %v", before, after)
	}
}

// snapshot lists every file under dir with its size.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, fmt.Sprintf("%s %s %d %d", rel, info.Mode(), info.Size(), info.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func remoteTag(src, dst name.Tag) error {
	desc, err := remote.Get(src)
	if err != nil {
		return err
	}
	return remote.Tag(dst, desc)
}

func tagStrings(tags []name.Tag) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.String()
	}
	return out
}

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
