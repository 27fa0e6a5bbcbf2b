package oci

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// releaseTree writes four directories, one layer each; release changes
// the content of the last one only.
func releaseTree(t *testing.T, ws string, release int) []map[string]string {
	t.Helper()
	var layers []map[string]string
	for i := range 4 {
		content := fmt.Sprintf("part %d\n", i)
		if i == 3 {
			content = fmt.Sprintf("release %d\n", release)
		}
		rel := fmt.Sprintf("part%d/file.txt", i)
		p := filepath.Join(ws, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, map[string]string{fmt.Sprintf("opt/part%d/file.txt", i): content})
	}
	return layers
}

func releaseBuild(t *testing.T, ws string) *plan.Build {
	t.Helper()
	specs, err := layer.ParseSpecs(`
- files: [part0/:/opt/part0/]
- files: [part1/:/opt/part1/]
- files: [part2/:/opt/part2/]
- files: [part3/:/opt/part3/]
`)
	if err != nil {
		t.Fatal(err)
	}
	return &plan.Build{Scratch: true, Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}},
		Layers: specs, Compression: layer.Gzip, Workspace: ws}
}

func assembleAndPublish(t *testing.T, a *Assembler, plan Plan) *assembly.Assembly {
	t.Helper()
	ctx := context.Background()
	plan.Stage = true
	as, err := a.Assemble(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, as); err != nil {
		t.Fatal(err)
	}
	return as
}

func countOf(got []string, s string) int {
	return len(slices.DeleteFunc(slices.Clone(got), func(x string) bool { return x != s }))
}

// TestNextReleaseReusesLayers: the tag holds release 1; release 2 changes
// one layer of four. Only that layer is uploaded, the three others are
// reported as reused, and the index is the one a fresh push of release 2
// gives. A target repository that lacks the blobs mounts them from the
// one that has them.
func TestNextReleaseReusesLayers(t *testing.T) {
	t.Parallel()
	reg := newRecorder(t)
	a, err := newAssembler(client.WithInsecureRegistries([]string{reg.host}))
	if err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	releaseTree(t, ws, 1)
	tgts := targets(t, reg.host+"/app:latest")
	first := assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
	if len(first.Reused) != 0 {
		t.Errorf("first release reused %v, want nothing", first.Reused)
	}

	releaseTree(t, ws, 2)
	reg.take()
	second := assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
	got := reg.take()
	if n := countOf(got, "PATCH upload"); n != 1 {
		t.Errorf("%d layers streamed, want 1 (the changed one): %v", n, got)
	}
	if n := len(second.Reused); n != 3 {
		t.Errorf("reused %d layers, want 3: %+v", n, second.Reused)
	}
	for _, r := range second.Reused {
		if r.From != reg.host+"/app" {
			t.Errorf("reused %s from %s, want %s/app", r.Digest, r.From, reg.host)
		}
	}
	checkIndex(t, reg.host+"/app:latest", second.Digest)

	// A fresh push of release 2 where nothing is held gives the same
	// digests: the reused blobs are the bytes a fresh build makes.
	fresh := assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: targets(t, reg.host+"/fresh:latest")})
	if len(fresh.Reused) != 0 {
		t.Errorf("fresh push reused %v", fresh.Reused)
	}
	if fresh.Digest != second.Digest {
		t.Errorf("re-push gave %s, a fresh push %s", second.Digest, fresh.Digest)
	}

	// Another repository, listed first, has nothing: the blobs are
	// mounted from the one that does.
	reg.take()
	both := targets(t, reg.host+"/other:v2", reg.host+"/app:latest")
	third := assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: both})
	got = reg.take()
	if n := countOf(got, "PATCH upload"); n != 0 {
		t.Errorf("%d layers streamed, want none (all four are in app): %v", n, got)
	}
	if n := len(third.Reused); n != 4 {
		t.Errorf("reused %d layers, want 4: %+v", n, third.Reused)
	}
	checkIndex(t, reg.host+"/other:v2", second.Digest)
}

// TestReusedLayersUnpack pushes two releases to a real registry and
// unpacks the second with skopeo and umoci; a zstd build does not reuse
// the gzip blobs.
func TestReusedLayersUnpack(t *testing.T) {
	t.Parallel()
	needTools(t, "skopeo", "umoci")
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	a := insecureAssembler(t, reg)
	ws := t.TempDir()
	releaseTree(t, ws, 1)
	tgts := targets(t, reg.Host+"/app:latest")
	assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
	want := releaseTree(t, ws, 2)
	as := assembleAndPublish(t, a, Plan{Build: releaseBuild(t, ws), Targets: tgts})
	if len(as.Reused) != 3 {
		t.Errorf("reused %d layers, want 3", len(as.Reused))
	}
	unpackAndCheck(t, reg.Host+"/app:latest", want)

	b := releaseBuild(t, ws)
	b.Compression = layer.Zstd
	zs := assembleAndPublish(t, a, Plan{Build: b, Targets: tgts})
	if len(zs.Reused) != 0 {
		t.Errorf("a zstd build reused %+v, want no gzip blob", zs.Reused)
	}
}

// TestNextReleaseFromArchive: the uncompressed layers of an archive whose
// diffIDs the target already holds are neither compressed nor uploaded,
// from a plain archive (diffIDs from its config) and from a gzipped one
// (whose layers are staged while it is decompressed: hashed, then found).
func TestNextReleaseFromArchive(t *testing.T) {
	t.Parallel()
	for _, gz := range []bool{false, true} {
		reg := newRecorder(t)
		a, err := newAssembler(client.WithInsecureRegistries([]string{reg.host}))
		if err != nil {
			t.Fatal(err)
		}
		tgts := targets(t, reg.host+"/nix:latest")
		src := []plan.Ref{{Transport: plan.DockerArchive, Path: writeNixArchive(t, gz)}}
		first := assembleAndPublish(t, a, Plan{Sources: src, Targets: tgts, Stage: true})
		reg.take()
		second := assembleAndPublish(t, a, Plan{Sources: src, Targets: tgts, Stage: true})
		got := reg.take()
		// A re-push reads the tag, its image manifest and config, and each
		// layer's blob once to prove it is that layer, and sends nothing:
		// not even the tag's HEAD, which that read answered.
		want := []string{"GET manifest", "GET manifest", "GET blob"}
		for range nixArchiveLayers {
			want = append(want, "GET blob")
		}
		if !slices.Equal(got, want) {
			t.Errorf("gz=%v: a re-push sent %v, want only %v", gz, got, want)
		}
		if n := len(second.Reused); n != len(nixArchiveLayers) {
			t.Errorf("gz=%v: reused %d layers, want %d", gz, n, len(nixArchiveLayers))
		}
		if second.Digest != first.Digest {
			t.Errorf("gz=%v: re-push gave %s, first push %s", gz, second.Digest, first.Digest)
		}
	}
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			registrytest.MissingTool(t, fmt.Sprintf("%s not installed: %v", tool, err))
		}
	}
}
