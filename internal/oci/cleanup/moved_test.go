package cleanup

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// repush points tag at a new random image, as a concurrent run pushing
// the same temp tag would, and returns its digest. It may run on a
// registry handler's goroutine, so it reports with t.Error, never
// t.Fatal.
func repush(t *testing.T, tag name.Tag) v1.Hash {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Error(err)
		return v1.Hash{}
	}
	if err := remote.Write(tag, img); err != nil {
		t.Errorf("re-pushing %s: %v", tag, err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Error(err)
	}
	return h
}

// TestSourceTagMovedIsKept: delete-source-tags deletes a source's tag only
// while it points at the digest the run read. A tag another run pushed
// since is that run's input and stays, with the reason; on distribution
// v3 (tag DELETE) and 2.8 (tombstone) alike.
func TestSourceTagMovedIsKept(t *testing.T) {
	t.Parallel()
	for _, v := range []registrytest.Version{registrytest.V3, registrytest.V2} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, registrytest.WithVersion(v))
			const repo = "o/app"
			p := publish(t, reg.Host, repo)
			moved := repush(t, p.tmpTags[1])
			d, err := New(WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			req := Request{Protected: append(slices.Clone(p.children), p.index)}
			for i, tag := range p.tmpTags {
				req.Sources = append(req.Sources, Source{Ref: tag.String(), Repo: tag.Context(), Tag: tag.TagStr(), Digest: p.children[i]})
			}

			res, err := d.Clean(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}

			if got, want := res.Deleted, []string{p.tmpTags[0].String()}; !slices.Equal(got, want) {
				t.Errorf("Deleted = %v, want %v", got, want)
			}
			if len(res.Kept) != 1 || res.Kept[0].Ref != p.tmpTags[1].String() || !strings.Contains(res.Kept[0].Reason, "another run pushed it") {
				t.Fatalf("Kept = %+v, want %s kept as moved", res.Kept, p.tmpTags[1])
			}
			if got := reg.GetManifest(t, repo, "tmp-arm64").Digest; got != moved.String() {
				t.Errorf("tmp-arm64 = %s, want the other run's %s", got, moved)
			}
			assertIndexIntact(t, reg, repo, p)
		})
	}
}

// TestTagMovedDuringDelete: a tag that another run moves after cleanup
// read it, while the registry refuses the tag DELETE, is re-read before
// the tombstone or the GitLab API removes it, and kept.
func TestTagMovedDuringDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		gitlab bool
	}{
		{name: "tombstone"},
		{name: "GitLab API", gitlab: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				moved   atomic.Value // v1.Hash
				pushed  atomic.Bool
				tagPath string
			)
			reg := newMemRegistry(t, func(m *memRegistry) { m.refuseTagDelete = true })
			p := publish(t, reg.host, "group/proj/app")
			tagPath = "/v2/group/proj/app/manifests/" + p.tmpTags[0].TagStr()
			reg.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				// The other run pushes right after cleanup's first try.
				if r.Method == http.MethodDelete && r.URL.Path == tagPath && !pushed.Swap(true) {
					moved.Store(repush(t, p.tmpTags[0]))
				}
				return false
			}
			opts := []Option{WithLogger(testLogger(t))}
			if tc.gitlab {
				gl := newFakeGitLab(t, reg, nil)
				opts = append(opts, WithGitLab(reg.host, gl.srv.URL+"/api/v4", "group/proj", "job-token"))
			}
			d, err := New(opts...)
			if err != nil {
				t.Fatal(err)
			}

			res := d.Delete(context.Background(), p.tmpTags[:1], p.protected())

			if len(res.Kept) != 1 || !strings.Contains(res.Kept[0].Reason, "another run pushed it") {
				t.Fatalf("Deleted = %v, Kept = %+v: want the moved tag kept", res.Deleted, res.Kept)
			}
			want, _ := moved.Load().(v1.Hash)
			if _, got := reg.get(t, "group/proj/app", p.tmpTags[0].TagStr()); got != want.String() {
				t.Errorf("tag = %s, want the other run's %s", got, want)
			}
		})
	}
}

// TestCheckUnmovedErr: a moved tag's error is ErrTagMoved.
func TestCheckUnmovedErr(t *testing.T) {
	t.Parallel()
	reg := newMemRegistry(t, nil)
	p := publish(t, reg.host, "o/app")
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.checkUnmoved(context.Background(), p.tmpTags[0], p.children[1]); !errors.Is(err, ErrTagMoved) {
		t.Errorf("checkUnmoved() = %v, want ErrTagMoved", err)
	}
	if err := d.checkUnmoved(context.Background(), p.tmpTags[0], p.children[0]); err != nil {
		t.Errorf("checkUnmoved() = %v, want nil", err)
	}
}

// TestGitLabUnreachableAPIOnDistribution: on distribution 2.8, which
// refuses the tag DELETE, with CI_API_V4_URL on a closed loopback port,
// the tombstone is still tried and deletes the tag.
func TestGitLabUnreachableAPIOnDistribution(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	const repo = "group/proj/app"
	p := publish(t, reg.Host, repo)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	rec := newRecorder()
	d, err := New(WithGitLab(reg.Host, "http://"+closed+"/api/v4", "1217", "job-token"), WithTransport(rec), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}

	res := d.Delete(context.Background(), p.tmpTags, p.protected())

	if got, want := res.Deleted, tagStrings(p.tmpTags); !slices.Equal(got, want) {
		t.Errorf("Deleted = %v, want %v (kept %+v)", got, want, res.Kept)
	}
	if got, want := reg.Tags(t, repo), []string{"latest"}; !slices.Equal(got, want) {
		t.Errorf("tags = %v, want %v", got, want)
	}
	assertIndexIntact(t, reg, repo, p)
	assertNoProtectedDeleted(t, rec, p.protected())
}
