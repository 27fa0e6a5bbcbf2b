package oci

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestTargetBytes: a target reports the blob bytes it got by upload, by
// a mount from another repository of its registry, and by holding them
// already. Against the distribution registry: the first repository of
// the target registry gets every blob uploaded, the second mounts them,
// and a re-run finds them all there. The total is read from the sources'
// manifests through go-containerregistry, not through this code.
func TestTargetBytes(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	dst := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	sources := pushPlatforms(t, src.Host, "amd64", "arm64")
	var total int64
	for _, s := range sources {
		ref, err := name.ParseReference(s.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		total += m.Config.Size
		for _, l := range m.Layers {
			total += l.Size
		}
	}
	tgts := targets(t, dst.Host+"/app:1", dst.Host+"/mirror:1")
	type bytes struct{ uploaded, mounted, reused int64 }
	for _, run := range []struct {
		name string
		want []bytes // by target
	}{
		{"first", []bytes{{total, 0, 0}, {0, total, 0}}},
		{"re-run", []bytes{{0, 0, total}, {0, 0, total}}},
	} {
		// An Assembler per run, as each run of the program has one.
		a, err := newAssembler(client.WithInsecureRegistries([]string{src.Host, dst.Host}))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		as, err := a.Assemble(ctx, Plan{Sources: sources, Targets: tgts})
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.Publish(ctx, as)
		if err != nil {
			t.Fatalf("%s: Publish: %v", run.name, err)
		}
		if len(res.Targets) != 2 {
			t.Fatalf("%s: %d targets, want 2", run.name, len(res.Targets))
		}
		for i, tg := range res.Targets {
			got := bytes{tg.BytesUploaded, tg.BytesMounted, tg.BytesReused}
			if got != run.want[i] {
				t.Errorf("%s: %s got %+v bytes (uploaded, mounted, reused), want %+v", run.name, tg.Ref, got, run.want[i])
			}
		}
	}
}
