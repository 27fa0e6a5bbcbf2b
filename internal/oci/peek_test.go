package oci

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// A join that will publish reads the target's first tag while it reads
// the sources: the source holds its manifests until the target has been
// asked. That read is the one before writing, not one more.
func TestJoinReadsTheTargetWhileReadingSources(t *testing.T) {
	t.Parallel()
	asked := newOnce()
	var mu sync.Mutex
	var waited bool
	var heads int
	dst := newRecorder(t, registrytest.WithHooks(func(req *http.Request) {
		if req.Method == http.MethodHead && strings.HasSuffix(req.URL.Path, "/manifests/1") {
			mu.Lock()
			heads++
			mu.Unlock()
			asked.close()
		}
	}, nil))
	held := false
	src := newRecorder(t, registrytest.WithHooks(func(req *http.Request) {
		mu.Lock()
		hold := held && registrytest.Kind(req.URL.EscapedPath(), nil) == "manifest"
		mu.Unlock()
		if hold && !asked.wait() {
			mu.Lock()
			waited = true
			mu.Unlock()
		}
	}, nil))
	sources := []plan.Ref{
		writeSource(t, src.host, "amd64", randomImage(t, "amd64")),
		writeSource(t, src.host, "arm64", randomImage(t, "arm64")),
	}
	mu.Lock()
	held = true
	mu.Unlock()
	a, err := newAssembler(client.WithInsecureRegistries([]string{src.host, dst.host}))
	if err != nil {
		t.Fatal(err)
	}
	tgts := targets(t, dst.host+"/app:1")
	ctx := context.Background()
	as, err := a.Assemble(ctx, Plan{Sources: sources, Targets: tgts, Stage: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, as); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if waited {
		t.Error("the sources were read before the target was asked")
	}
	if heads != 2 {
		t.Errorf("%d HEADs of the tag, want 2: one before writing, one reading it back", heads)
	}
	checkIndex(t, dst.host+"/app:1", as.Digest)
}

// A join that will not publish (a dry run) asks the target nothing.
func TestDryJoinAsksTheTargetNothing(t *testing.T) {
	t.Parallel()
	src, dst := newRecorder(t), newRecorder(t)
	sources := pushPlatforms(t, src.host, "amd64", "arm64")
	a, err := newAssembler(client.WithInsecureRegistries([]string{src.host, dst.host}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Assemble(context.Background(), Plan{Sources: sources, Targets: targets(t, dst.host+"/app:1")}); err != nil {
		t.Fatal(err)
	}
	if got := dst.take(); len(got) > 0 {
		t.Errorf("the target was asked %v", got)
	}
}
