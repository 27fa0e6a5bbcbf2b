package oci

import (
	"cmp"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// recorder is an in-memory registry whose requests a
// registrytest.Recorder records; it can refuse mounts from another
// repository, as some registries do. Options such as
// registrytest.WithHooks go to that Recorder.
type recorder struct {
	host         string
	refuseMounts atomic.Bool
	seen         *registrytest.Recorder
}

func newRecorder(t *testing.T, opts ...registrytest.RecorderOption) *recorder {
	t.Helper()
	r := &recorder{seen: registrytest.NewRecorder(opts...)}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(r.seen.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.refuseMounts.Load() && registrytest.RequestKey(req) == "POST mount" && req.URL.Query().Get("from") != repoOrEmpty(req.URL.Path) {
			http.Error(w, `{"details":"invalid repository name"}`, http.StatusBadRequest)
			return
		}
		reg.ServeHTTP(w, req)
	})))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// take returns the Key ("METHOD kind") of each request since the last
// take, in order.
func (r *recorder) take() []string { return registrytest.Keys(r.seen.Take()) }

// pushPlatforms writes randomImage (two layers) for each architecture to
// host/src:<arch>.
func pushPlatforms(t *testing.T, host string, archs ...string) []plan.Ref {
	t.Helper()
	var refs []plan.Ref
	for _, arch := range archs {
		ref, err := name.ParseReference(host + "/src:" + arch)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, randomImage(t, arch)); err != nil {
			t.Fatal(err)
		}
		r, err := plan.ParseRef(ref.String())
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	return refs
}

func targets(t *testing.T, refs ...string) []plan.Ref {
	t.Helper()
	var out []plan.Ref
	for _, s := range refs {
		r, err := plan.ParseRef(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func joinAndPublish(t *testing.T, a *Assembler, sources, tgts []plan.Ref) *assembly.Assembly {
	t.Helper()
	ctx := context.Background()
	as, err := a.Assemble(ctx, Plan{Sources: sources, Targets: tgts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, as); err != nil {
		t.Fatal(err)
	}
	return as
}

// checkIndex reads ref back with go-containerregistry's own client and
// validates the whole index, blobs included.
func checkIndex(t *testing.T, ref string, want v1.Hash) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	if d, _ := idx.Digest(); d != want {
		t.Errorf("%s = %s, want %s", ref, d, want)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("%s: %v", ref, err)
	}
}

// TestPublishSendsTheSpecMinimum: a first publish to another registry
// sends each blob as one HEAD (the existence check), one plain POST and
// one PUT,
// each manifest as one PUT, reads the first tag before and every tag
// after, and no ping (no credentials); a second publish reads the tags
// and writes nothing.
func TestPublishSendsTheSpecMinimum(t *testing.T) {
	t.Parallel()
	src, dst := newRecorder(t), newRecorder(t)
	a, err := newAssembler(client.WithInsecureRegistries([]string{src.host, dst.host}))
	if err != nil {
		t.Fatal(err)
	}
	sources := pushPlatforms(t, src.host, "amd64", "arm64")
	src.take()
	tgts := targets(t, dst.host+"/app:1", dst.host+"/app:latest")

	as := joinAndPublish(t, a, sources, tgts)
	got := dst.take()
	count := func(s string) int {
		return len(slices.DeleteFunc(slices.Clone(got), func(x string) bool { return x != s }))
	}
	want := map[string]int{
		"GET ping":      0,     // no credentials: no ping (lazyPing)
		"HEAD manifest": 1 + 2, // the first tag before, both tags after
		"HEAD blob":     6,     // 2 × (2 layers and a config)
		"POST upload":   6,
		"PUT upload":    6,
		"PUT manifest":  2 + 2, // 2 images by digest, the index by each tag
	}
	total := 0
	for k, n := range want {
		total += n
		if c := count(k); c != n {
			t.Errorf("%s: %d requests, want %d", k, c, n)
		}
	}
	if len(got) != total {
		t.Errorf("%d requests to the target, want %d: %v", len(got), total, got)
	}
	checkIndex(t, dst.host+"/app:1", as.Digest)
	checkIndex(t, dst.host+"/app:latest", as.Digest)

	dst.take()
	joinAndPublish(t, a, sources, tgts)
	if got := dst.take(); !slices.Equal(got, []string{"HEAD manifest", "HEAD manifest"}) {
		t.Errorf("a re-run sent %v to the target, want two tag HEADs", got)
	}
}

// TestRefusedMountIsUploaded: a registry that refuses a mount from
// another repository with an error, instead of the spec's 202, gets the
// blob uploaded.
func TestRefusedMountIsUploaded(t *testing.T) {
	t.Parallel()
	reg := newRecorder(t)
	a, err := newAssembler(client.WithInsecureRegistries([]string{reg.host}))
	if err != nil {
		t.Fatal(err)
	}
	sources := pushPlatforms(t, reg.host, "amd64")
	reg.take()
	reg.refuseMounts.Store(true)
	// Two target repositories with a layout: the index goes by digest
	// first everywhere, and the second repository mounts from the first.
	tgts := targets(t, reg.host+"/one:1", reg.host+"/two:1", "oci:"+t.TempDir())
	as := joinAndPublish(t, a, sources, tgts)
	got := reg.take()
	// The 2 layers and the config, to each repository: this registry
	// mounts nothing across repositories.
	if n := len(slices.DeleteFunc(slices.Clone(got), func(x string) bool { return x != "PUT upload" })); n != 6 {
		t.Errorf("%d blob uploads, want 6: %v", n, got)
	}
	checkIndex(t, reg.host+"/one:1", as.Digest)
	checkIndex(t, reg.host+"/two:1", as.Digest)
}

// TestBlobsUploadLargestFirst: with fewer jobs than blobs, the largest
// blobs start first, so that a large one does not start last.
func TestBlobsUploadLargestFirst(t *testing.T) {
	t.Parallel()
	src, dst := newRecorder(t), newRecorder(t)
	a, err := newAssembler(client.WithInsecureRegistries([]string{src.host, dst.host}), client.WithJobs(1))
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	var sources []plan.Ref
	for i, arch := range []string{"amd64", "arm64", "s390x"} {
		img := randomImageOf(t, arch, int64(1000*(i+1)), 3)
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		cl, err := partial.ConfigLayer(img)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range append(ls, cl) {
			d, _ := l.Digest()
			sizes[d.String()], _ = l.Size()
		}
		ref, err := name.ParseReference(src.host + "/src:" + arch)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, targets(t, ref.String())...)
	}
	dst.seen.Take()
	joinAndPublish(t, a, sources, targets(t, dst.host+"/app:1"))

	var order []int64
	for _, q := range dst.seen.Take() {
		if q.Key() == "PUT upload" {
			order = append(order, sizes[q.Query.Get("digest")])
		}
	}
	if len(order) != len(sizes) {
		t.Fatalf("%d blob PUTs, want %d", len(order), len(sizes))
	}
	if !slices.IsSortedFunc(order, func(a, b int64) int { return cmp.Compare(b, a) }) {
		t.Errorf("blob sizes in upload order = %v, want largest first", order)
	}
}
