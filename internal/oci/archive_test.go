package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// nixArchiveLayers are the files of each layer of writeNixArchive's image.
var nixArchiveLayers = []map[string]string{
	{"etc/os-release": "ID=test\n"},
	{"nix/store/aaa-hello/bin/hello": "#!/bin/sh\necho hello\n"},
	{"nix/store/bbb-data/share/data.txt": "data\n"},
}

func tarOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeNixArchive writes a docker archive laid out as nix's
// streamLayeredImage writes it: uncompressed layer tars first, then the
// config and manifest.json last; gzipped when gz.
func writeNixArchive(t *testing.T, gz bool) string {
	t.Helper()
	var diffIDs []string
	var layerNames []string
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, files := range nixArchiveLayers {
		lt := tarOf(t, files)
		sum := fmt.Sprintf("%x", sha256.Sum256(lt))
		diffIDs = append(diffIDs, "sha256:"+sum)
		layerNames = append(layerNames, sum+"/layer.tar")
		add(sum+"/layer.tar", lt)
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"/nix/store/aaa-hello/bin/hello"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfg))
	add(cfgName, cfg)
	man, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"hello:latest"}, "Layers": layerNames}})
	if err != nil {
		t.Fatal(err)
	}
	add("manifest.json", man)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := out.Bytes()
	p := filepath.Join(t.TempDir(), "image.tar")
	if gz {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data, p = zb.Bytes(), p+".gz"
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestArchiveLayersCompressedOnce: each uncompressed layer of an archive
// is uploaded once, as one stream (POST, PATCH, PUT), and not again when
// the index is published; the result is the same image as a dry run
// computes, from a plain and from a gzipped archive, and reads back whole.
func TestArchiveLayersCompressedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var digests []v1.Hash
	for _, gz := range []bool{false, true} {
		reg := newRecorder(t)
		a, err := newAssembler(client.WithInsecureRegistries([]string{reg.host}))
		if err != nil {
			t.Fatal(err)
		}
		src := []plan.Ref{{Transport: plan.DockerArchive, Path: writeNixArchive(t, gz)}}
		tgts := targets(t, reg.host+"/nix:1")
		dry, err := a.Assemble(ctx, Plan{Sources: src, Targets: tgts})
		if err != nil {
			t.Fatal(err)
		}
		if got := reg.take(); len(got) != 0 {
			t.Errorf("gz=%v: a dry run sent %v", gz, got)
		}
		as, err := a.Assemble(ctx, Plan{Sources: src, Targets: tgts, Stage: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Publish(ctx, as); err != nil {
			t.Fatal(err)
		}
		got := reg.take()
		count := func(s string) int {
			return len(slices.DeleteFunc(slices.Clone(got), func(x string) bool { return x != s }))
		}
		if n := count("PATCH upload"); n != len(nixArchiveLayers) {
			t.Errorf("gz=%v: %d streamed uploads, want one per layer (%d): %v", gz, n, len(nixArchiveLayers), got)
		}
		if n := count("PUT upload"); n != len(nixArchiveLayers)+1 {
			t.Errorf("gz=%v: %d blobs stored, want the layers and the config (%d): %v", gz, n, len(nixArchiveLayers)+1, got)
		}
		if as.Digest != dry.Digest {
			t.Errorf("gz=%v: pushed %s, the dry run computed %s", gz, as.Digest, dry.Digest)
		}
		checkIndex(t, reg.host+"/nix:1", as.Digest)
		digests = append(digests, as.Digest)
	}
	if digests[0] != digests[1] {
		t.Errorf("plain archive gave %s, gzipped %s", digests[0], digests[1])
	}
}

// TestArchiveToRegistryUnpacks pushes a nix-style archive to a real
// registry and unpacks it with independent tools (skopeo, umoci).
func TestArchiveToRegistryUnpacks(t *testing.T) {
	t.Parallel()
	needTools(t, "skopeo", "umoci")
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	a := insecureAssembler(t, reg)
	ctx := context.Background()
	tgts := targets(t, reg.Host+"/nix:1")
	as, err := a.Assemble(ctx, Plan{Sources: []plan.Ref{{Transport: plan.DockerArchive, Path: writeNixArchive(t, true)}}, Targets: tgts, Stage: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, as); err != nil {
		t.Fatal(err)
	}
	unpackAndCheck(t, reg.Host+"/nix:1", nixArchiveLayers)
}

// unpackAndCheck copies ref to an OCI layout with skopeo, unpacks it with
// umoci and compares the files of every layer.
func unpackAndCheck(t *testing.T, ref string, layers []map[string]string) {
	t.Helper()
	dir := t.TempDir()
	lay := filepath.Join(dir, "layout")
	if b, err := exec.Command("skopeo", "copy", "--src-tls-verify=false", "--override-arch", "amd64", "--override-os", "linux",
		"docker://"+ref, "oci:"+lay+":x").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy %s: %v\n%s", ref, err, b)
	}
	bundle := filepath.Join(dir, "bundle")
	if b, err := exec.Command("umoci", "unpack", "--rootless", "--image", lay+":x", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, b)
	}
	for _, files := range layers {
		for n, want := range files {
			got, err := os.ReadFile(filepath.Join(bundle, "rootfs", n))
			if err != nil {
				t.Errorf("unpacked image: %v", err)
				continue
			}
			if string(got) != want {
				t.Errorf("/%s = %q, want %q", n, got, want)
			}
		}
	}
}
