package oci

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/push"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// waitFor waits for ch to close; false after a while, so that a
// publish that never closes it fails the test instead of hanging it.
func waitFor(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

// once closes a channel at most once.
type once struct {
	o  sync.Once
	ch chan struct{}
}

func newOnce() *once       { return &once{ch: make(chan struct{})} }
func (o *once) close()     { o.o.Do(func() { close(o.ch) }) }
func (o *once) wait() bool { return waitFor(o.ch) }

// writeSource writes img to host/src:tag and returns it as a source.
func writeSource(t *testing.T, host, tag string, img v1.Image) plan.Ref {
	t.Helper()
	ref, err := name.ParseReference(host + "/src:" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return targets(t, ref.String())[0]
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// With one job, a config is not queued behind the layers: the target
// holds every layer upload until the config is in, and the publish ends.
func TestSmallBlobsGoAlongsideLayers(t *testing.T) {
	t.Parallel()
	src := newRecorder(t)
	img := randomImageOf(t, "amd64", 2*push.SmallBlob, 2)
	cl, err := partial.ConfigLayer(img)
	if err != nil {
		t.Fatal(err)
	}
	config := digestOf(t, cl)
	configIn := newOnce()
	var mu sync.Mutex
	var waited bool
	dst := newRecorder(t, registrytest.WithHooks(func(req *http.Request) {
		if registrytest.RequestKey(req) == "PUT upload" && req.URL.Query().Get("digest") != config {
			if !configIn.wait() {
				mu.Lock()
				waited = true
				mu.Unlock()
			}
		}
	}, func(req *http.Request) {
		if req.Method == http.MethodPut && req.URL.Query().Get("digest") == config {
			configIn.close()
		}
	}))
	a, err := newAssembler(client.WithInsecureRegistries([]string{src.host, dst.host}), client.WithJobs(1))
	if err != nil {
		t.Fatal(err)
	}
	as := joinAndPublish(t, a, []plan.Ref{writeSource(t, src.host, "amd64", img)}, targets(t, dst.host+"/app:1"))
	mu.Lock()
	defer mu.Unlock()
	if waited {
		t.Error("the layer uploads waited for the config, which waited for a job behind them")
	}
	checkIndex(t, dst.host+"/app:1", as.Digest)
}

// Each image manifest is pushed once its own blobs are in, not when every
// image's are: the target holds the arm64 layer until the amd64 manifest
// is in. No manifest arrives before a blob it names.
func TestImageManifestFollowsItsOwnBlobs(t *testing.T) {
	t.Parallel()
	src := newRecorder(t)
	small := randomImageOf(t, "amd64", 1000, 1)
	large := randomImageOf(t, "arm64", 2*push.SmallBlob, 1)
	ls, err := large.Layers()
	if err != nil {
		t.Fatal(err)
	}
	held := digestOf(t, ls[0])
	smallManifest := digestOf(t, small)
	smallIn := newOnce()

	var mu sync.Mutex
	var waited bool
	blobsIn := map[string]bool{}
	var early []string
	dst := newRecorder(t, registrytest.WithHooks(func(req *http.Request) {
		switch {
		case req.Method == http.MethodPut && req.URL.Query().Get("digest") == held:
			if !smallIn.wait() {
				mu.Lock()
				waited = true
				mu.Unlock()
			}
		case req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/sha256:"):
			body, err := io.ReadAll(req.Body)
			if err != nil {
				t.Error(err)
				return
			}
			req.Body = io.NopCloser(strings.NewReader(string(body)))
			var m v1.Manifest
			if err := json.Unmarshal(body, &m); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
				if !blobsIn[d.Digest.String()] {
					early = append(early, req.URL.Path+" before "+d.Digest.String())
				}
			}
			mu.Unlock()
		}
	}, func(req *http.Request) {
		switch {
		case registrytest.RequestKey(req) == "PUT upload":
			mu.Lock()
			blobsIn[req.URL.Query().Get("digest")] = true
			mu.Unlock()
		case req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, "/manifests/"+smallManifest):
			smallIn.close()
		}
	}))
	a, err := newAssembler(client.WithInsecureRegistries([]string{src.host, dst.host}))
	if err != nil {
		t.Fatal(err)
	}
	sources := []plan.Ref{writeSource(t, src.host, "amd64", small), writeSource(t, src.host, "arm64", large)}
	as := joinAndPublish(t, a, sources, targets(t, dst.host+"/app:1"))
	mu.Lock()
	defer mu.Unlock()
	if waited {
		t.Error("the amd64 manifest waited for the arm64 layer")
	}
	for _, e := range early {
		t.Errorf("manifest pushed before its blob: %s", e)
	}
	checkIndex(t, dst.host+"/app:1", as.Digest)
}
