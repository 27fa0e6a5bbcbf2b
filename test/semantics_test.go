package test

import (
	"encoding/json"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestAttestationsTravelWithTheirManifest joins two BuildKit-style indexes
// (image + attestation each). Attestations stay in the index, are not
// platforms, and are repointed when a manifest annotation changes their
// subject's digest.
func TestAttestationsTravelWithTheirManifest(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	idxA, _, attA := buildxIndex(t, amd64)
	idxB, _, _ := buildxIndex(t, arm64)
	pushIndex(t, reg.Host+"/o/app:tmp-amd64", idxA)
	pushIndex(t, reg.Host+"/o/app:tmp-arm64", idxB)

	res := runAction(t, map[string]string{
		"images":              reg.Host + "/o/app:tmp-amd64," + reg.Host + "/o/app:tmp-arm64",
		"tags":                reg.Host + "/o/app:1",
		"annotations":         "manifest[linux/amd64]:org.opencontainers.image.version=1",
		"insecure-registries": reg.Host,
	})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	idx, _ := readIndex(t, reg, "o/app", "1")
	if got := len(idx.Manifests); got != 4 {
		t.Fatalf("index has %d manifests, want 2 images + 2 attestations", got)
	}
	var mans []map[string]any
	if err := json.Unmarshal([]byte(res.outputs["manifests"]), &mans); err != nil || len(mans) != 2 {
		t.Errorf("manifests output lists %d entries (%v), want the 2 platforms only", len(mans), err)
	}
	subjects := map[string]string{}
	var amdDigest string
	for _, m := range idx.Manifests {
		if m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			subjects[m.Digest] = m.Annotations["vnd.docker.reference.digest"]
			continue
		}
		if m.Platform.Architecture == "amd64" {
			amdDigest = m.Digest
		}
	}
	if len(subjects) != 2 {
		t.Fatalf("attestations = %v, want 2", subjects)
	}
	if got := subjects[digestOf(t, attA).String()]; got != amdDigest {
		t.Errorf("amd64 attestation points at %s, want the annotated manifest %s", got, amdDigest)
	}
	var mj manifestJSON
	if err := json.Unmarshal(reg.GetManifest(t, "o/app", amdDigest).Body, &mj); err != nil {
		t.Fatal(err)
	}
	if mj.Annotations["org.opencontainers.image.version"] != "1" {
		t.Errorf("amd64 manifest annotations = %v", mj.Annotations)
	}
}

// TestConflictingPlatformsWriteNothing gives two different amd64 images:
// an error naming both sources, and no tag anywhere.
func TestConflictingPlatformsWriteNothing(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	push(t, reg.Host+"/o/app:a", platformImage(t, amd64))
	push(t, reg.Host+"/o/app:b", platformImage(t, amd64))
	res := runAction(t, map[string]string{
		"images":              reg.Host + "/o/app:a," + reg.Host + "/o/app:b",
		"tags":                reg.Host + "/o/final:1",
		"insecure-registries": reg.Host,
	})
	if res.code == 0 {
		t.Fatalf("exit 0, want failure:\n%s", res.stdout)
	}
	errLines := errorLines(res.stdout)
	if len(errLines) != 1 || !strings.Contains(errLines[0], "/o/app:a") || !strings.Contains(errLines[0], "/o/app:b") {
		t.Errorf("error lines = %q, want one naming both sources", errLines)
	}
	if tags := reg.Tags(t, "o/final"); len(tags) != 0 {
		t.Errorf("o/final tags = %v, want none", tags)
	}
}

// TestBadInputWritesNothing: every bad input is one ::error line naming
// it, exit 1, and the registry is untouched.
func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	push(t, reg.Host+"/o/app:tmp", platformImage(t, amd64))
	before := reg.Catalog(t)
	files := storageFiles(t, reg.Dir)
	tests := []struct {
		name   string
		inputs map[string]string
		input  string
	}{
		{"missing images", map[string]string{"tags": reg.Host + "/o/x:1"}, "images"},
		{"malformed reference", map[string]string{"images": reg.Host + "/O/App:tmp", "tags": reg.Host + "/o/x:1"}, "images"},
		{"source without tag", map[string]string{"images": reg.Host + "/o/app", "tags": reg.Host + "/o/x:1"}, "images"},
		{"missing layout", map[string]string{"images": "oci:/does/not/exist", "tags": reg.Host + "/o/x:1"}, "images"},
		{"target digest", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x@sha256:" + strings.Repeat("a", 64)}, "tags"},
		{"annotation without =", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "annotations": "index:k=v\nmanifest:novalue"}, "annotations"},
		{"unknown level", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "annotations": "manifests:k=v"}, "annotations"},
		{"bad platform filter", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "annotations": "manifest[linux]:k=v"}, "annotations"},
		{"docker with annotations", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "annotations": "k=v", "media-type": "docker"}, "annotations"},
		{"unknown media type", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "media-type": "oci-ish"}, "media-type"},
		{"bad boolean", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "push": "maybe"}, "push"},
		{"bad insecure registry", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "insecure-registries": "http://x/y"}, "insecure-registries"},
		{"no tags", map[string]string{"images": reg.Host + "/o/app:tmp"}, "tags"},
		{"malformed registry-auth", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "registry-auth": "- registry: [x"}, "registry-auth"},
		{"bad timeout", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "timeout": "soon"}, "timeout"},
		{"bad delete-source-tags", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "delete-source-tags": "si"}, "delete-source-tags"},
		{"delete-tags without tag", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "delete-tags": reg.Host + "/o/app"}, "delete-tags"},
		{"env without base", map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/x:1", "env": "A=1"}, "env"},
		{"images and base", map[string]string{"images": reg.Host + "/o/app:tmp", "base": "scratch", "platforms": "linux/amd64", "tags": reg.Host + "/o/x:1"}, "base"},
		{"scratch without platforms", map[string]string{"base": "scratch", "tags": reg.Host + "/o/x:1"}, "platforms"},
		{"bad platform", map[string]string{"base": "scratch", "platforms": "linux", "tags": reg.Host + "/o/x:1"}, "platforms"},
		{"duplicate platform", map[string]string{"base": "scratch", "platforms": "linux/amd64,linux/amd64", "tags": reg.Host + "/o/x:1"}, "platforms"},
		{"malformed layers", map[string]string{"base": "scratch", "platforms": "linux/amd64", "layers": "- files: [a:/b", "tags": reg.Host + "/o/x:1"}, "layers"},
		{"missing layer file", map[string]string{"base": "scratch", "platforms": "linux/amd64", "layers": "- files: [dist/{arch}/nope:/app]", "tags": reg.Host + "/o/x:1"}, "layers"},
		{"dest escaping", map[string]string{"base": "scratch", "platforms": "linux/amd64", "layers": "- files: [main_test.go:/app/../../etc/x]", "tags": reg.Host + "/o/x:1"}, "layers"},
		{"bad entrypoint", map[string]string{"base": "scratch", "platforms": "linux/amd64", "entrypoint": "/app", "tags": reg.Host + "/o/x:1"}, "entrypoint"},
		{"bad cmd", map[string]string{"base": "scratch", "platforms": "linux/amd64", "cmd": `["a", 1]`, "tags": reg.Host + "/o/x:1"}, "cmd"},
		{"env line without =", map[string]string{"base": "scratch", "platforms": "linux/amd64", "env": "A=1\nB", "tags": reg.Host + "/o/x:1"}, "env"},
		{"labels line without =", map[string]string{"base": "scratch", "platforms": "linux/amd64", "labels": "x", "tags": reg.Host + "/o/x:1"}, "labels"},
		{"relative workdir", map[string]string{"base": "scratch", "platforms": "linux/amd64", "workdir": "app", "tags": reg.Host + "/o/x:1"}, "workdir"},
		{"unknown compression", map[string]string{"base": "scratch", "platforms": "linux/amd64", "compression": "xz", "tags": reg.Host + "/o/x:1"}, "compression"},
		{"bad compression level", map[string]string{"base": "scratch", "platforms": "linux/amd64", "compression-level": "12", "tags": reg.Host + "/o/x:1"}, "compression-level"},
		{"bad created", map[string]string{"base": "scratch", "platforms": "linux/amd64", "created": "yesterday", "tags": reg.Host + "/o/x:1"}, "created"},
		{"docker list of zstd layers", map[string]string{"base": "scratch", "platforms": "linux/amd64", "media-type": "docker", "compression": "zstd", "tags": reg.Host + "/o/x:1"}, "compression"},
		{"missing source image", map[string]string{"images": reg.Host + "/o/app:gone", "tags": reg.Host + "/o/x:1"}, "images"},
		{"missing base image", map[string]string{"base": reg.Host + "/o/base:gone", "tags": reg.Host + "/o/x:1"}, "base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, ok := tt.inputs["insecure-registries"]; !ok {
				tt.inputs["insecure-registries"] = reg.Host
			}
			res := runAction(t, tt.inputs)
			if res.code != 1 {
				t.Errorf("exit %d, want 1\n%s", res.code, res.stdout)
			}
			lines := errorLines(res.stdout)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "input "+tt.input+":") {
				t.Errorf("error lines = %q, want one naming input %s", lines, tt.input)
			}
			if !strings.HasSuffix(tt.name, " image") && (strings.Contains(res.stdout, "Resolving sources") || strings.Contains(res.stdout, "Building layers")) {
				t.Errorf("work started despite bad input:\n%s", res.stdout)
			}
		})
	}
	t.Cleanup(func() {
		if got := storageFiles(t, reg.Dir); !slices.Equal(got, files) {
			t.Errorf("registry storage changed: %d files before, %d after", len(files), len(got))
		}
		if got := reg.Catalog(t); !slices.Equal(got, before) {
			t.Errorf("catalog = %v, want unchanged %v", got, before)
		}
		if got := reg.Tags(t, "o/app"); !slices.Equal(got, []string{"tmp"}) {
			t.Errorf("o/app tags = %v, want [tmp]", got)
		}
	})
}

// TestDryRunWritesNothing: push false resolves, prints the index and sets
// outputs, writing nothing.
func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	push(t, reg.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
	push(t, reg.Host+"/o/app:tmp-arm64", platformImage(t, arm64))
	res := runAction(t, map[string]string{
		"images":              reg.Host + "/o/app:tmp-amd64," + reg.Host + "/o/app:tmp-arm64",
		"tags":                reg.Host + "/o/app:1," + reg.Host + "/other/app:1",
		"push":                "false",
		"insecure-registries": reg.Host,
	})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if !strings.HasPrefix(res.outputs["digest"], "sha256:") || !strings.Contains(res.stdout, `"mediaType": "application/vnd.oci.image.index.v1+json"`) {
		t.Errorf("dry run printed no index or set no digest:\n%s\noutputs %v", res.stdout, res.outputs)
	}
	if got := slices.Sorted(slices.Values(reg.Tags(t, "o/app"))); !slices.Equal(got, []string{"tmp-amd64", "tmp-arm64"}) {
		t.Errorf("o/app tags = %v, want only the temp tags", got)
	}
	if got := reg.Tags(t, "other/app"); len(got) != 0 {
		t.Errorf("other/app tags = %v, want none", got)
	}
	if _, status := reg.TryManifest(t, "o/app", res.outputs["digest"]); status != 404 {
		t.Errorf("index by digest: status %d, want 404", status)
	}
}

// TestPlainHTTPNeedsInsecureRegistries: a loopback registry without TLS is
// refused unless listed, with a message saying what to do.
func TestPlainHTTPNeedsInsecureRegistries(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	push(t, reg.Host+"/o/app:tmp", platformImage(t, amd64))
	res := runAction(t, map[string]string{"images": reg.Host + "/o/app:tmp", "tags": reg.Host + "/o/app:1"})
	if res.code != 2 {
		t.Errorf("exit %d, want 2", res.code)
	}
	if lines := errorLines(res.stdout); len(lines) != 1 || !strings.Contains(lines[0], "insecure-registries") {
		t.Errorf("error lines = %q, want one pointing at insecure-registries", lines)
	}
	if got := reg.Tags(t, "o/app"); !slices.Equal(got, []string{"tmp"}) {
		t.Errorf("tags = %v, want [tmp]", got)
	}
}

// TestDockerManifestList publishes a Docker manifest list when asked.
func TestDockerManifestList(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	push(t, reg.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
	push(t, reg.Host+"/o/app:tmp-arm", platformImage(t, v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}))
	res := runCLI(t, []string{"--images", reg.Host + "/o/app:tmp-amd64," + reg.Host + "/o/app:tmp-arm",
		"--tags", reg.Host + "/o/app:list", "--media-type", "docker", "--insecure-registries", reg.Host})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	m := reg.GetManifest(t, "o/app", "list")
	if got, want := m.MediaType, "application/vnd.docker.distribution.manifest.list.v2+json"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	idx, _ := readIndex(t, reg, "o/app", "list")
	if got, want := platformsOf(idx), []string{"linux/amd64", "linux/arm/v7"}; !slices.Equal(got, want) {
		t.Errorf("platforms = %v, want %v", got, want)
	}
}

// TestRerunIsANoOp runs the same join twice: the second run, watched by
// a proxy, writes nothing at all (no blob, manifest or tag request) and
// gives the same digest.
func TestRerunIsANoOp(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	push(t, reg.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
	push(t, reg.Host+"/o/app:tmp-arm64", platformImage(t, arm64))
	in := func(host string) map[string]string {
		return map[string]string{
			"images":              host + "/o/app:tmp-amd64," + host + "/o/app:tmp-arm64",
			"tags":                host + "/o/released:1," + host + "/o/released:latest",
			"insecure-registries": host,
		}
	}
	firstWatch := registrytest.NewFaultProxy(t, upstreamURL(t, reg), registrytest.FaultConfig{Rate: 0})
	first := runAction(t, in(firstWatch.Host))
	watch := registrytest.NewFaultProxy(t, upstreamURL(t, reg), registrytest.FaultConfig{Rate: 0})
	second := runAction(t, in(watch.Host))
	if first.code != 0 || second.code != 0 {
		t.Fatalf("exits %d, %d\n%s\n%s", first.code, second.code, first.stdout, second.stdout)
	}
	if first.outputs["digest"] != second.outputs["digest"] {
		t.Errorf("digests differ: %s vs %s", first.outputs["digest"], second.outputs["digest"])
	}
	if !strings.Contains(first.stdout, "blob mounted") {
		t.Errorf("first run mounted no blob across repositories:\n%s", first.stdout)
	}
	// The first run reads the first tag once before it writes, and then
	// only writes: no blob HEAD (the mount POST is the existence check),
	// no PATCH (each blob is one PUT), no HEAD before a manifest PUT.
	var before []string
	for _, r := range firstWatch.Seen() {
		if strings.HasPrefix(r, "PUT /v2/o/released/manifests/1") {
			break // read-back HEADs come after the tags
		}
		if strings.Contains(r, "/o/released/") && (strings.HasPrefix(r, "HEAD ") || strings.HasPrefix(r, "GET ") || strings.HasPrefix(r, "PATCH ")) {
			before = append(before, r)
		}
	}
	if want := []string{"HEAD /v2/o/released/manifests/1"}; !slices.Equal(before, want) {
		t.Errorf("before tagging the first run sent %v to o/released besides uploads, want %v; all: %v", before, want, firstWatch.Seen())
	}
	var heads []string
	for _, r := range watch.Seen() {
		if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("second run sent %s; a re-run should only read", r)
		}
		if strings.Contains(r, "/o/released/") {
			heads = append(heads, r)
		}
	}
	// A re-run reads each tag once, and nothing else of the target.
	slices.Sort(heads)
	if want := []string{"HEAD /v2/o/released/manifests/1", "HEAD /v2/o/released/manifests/latest"}; !slices.Equal(heads, want) {
		t.Errorf("second run read %v of the target, want %v", heads, want)
	}
	// No credentials: nothing to learn from go-containerregistry's ping.
	for _, seen := range [][]string{firstWatch.Seen(), watch.Seen()} {
		if slices.Contains(seen, "GET /v2/") {
			t.Errorf("a run without credentials pinged the registry: %v", seen)
		}
	}
	t.Logf("re-run requests: %v", watch.Seen())
}

// storageFiles lists every file under a registry's storage root: blobs,
// links, upload sessions. Nothing written means nothing new here.
func storageFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// errorLines are the ::error:: annotations of a run.
func errorLines(stdout string) []string { return commandLines(stdout, "::error::") }

// warningLines are the ::warning:: annotations of a run.
func warningLines(stdout string) []string { return commandLines(stdout, "::warning::") }

// commandLines are the values of the lines of stdout that start with
// the workflow command prefix.
func commandLines(stdout, prefix string) []string {
	var out []string
	for _, l := range strings.Split(stdout, "\n") {
		if s, ok := strings.CutPrefix(l, prefix); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestSourcesAreReadOnce joins from one registry to two repositories of
// another, watching the source: each manifest, config and layer is
// fetched once, however many steps and targets need it (the second
// repository mounts from the first).
func TestSourcesAreReadOnce(t *testing.T) {
	t.Parallel()
	a := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	b := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	push(t, a.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
	push(t, a.Host+"/o/app:tmp-arm64", platformImage(t, arm64))
	watch := registrytest.NewFaultProxy(t, upstreamURL(t, a), registrytest.FaultConfig{Rate: 0})
	res := runAction(t, map[string]string{
		"images":              watch.Host + "/o/app:tmp-amd64," + watch.Host + "/o/app:tmp-arm64",
		"tags":                b.Host + "/rel/app:1," + b.Host + "/rel/app:latest," + b.Host + "/mirror/app:1",
		"insecure-registries": watch.Host + "," + b.Host,
	})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	readIndex(t, b, "rel/app", "1")
	readIndex(t, b, "mirror/app", "1")
	gets := map[string]int{}
	for _, r := range watch.Seen() {
		if strings.HasPrefix(r, "GET /v2/o/app/") {
			gets[r]++
		}
	}
	blobs := 0
	for r, n := range gets {
		if n != 1 {
			t.Errorf("%s sent %d times, want once", r, n)
		}
		if strings.Contains(r, "/blobs/") {
			blobs++
		}
	}
	if blobs != 2*(1+2) { // two images, each a config and two layers
		t.Errorf("%d distinct blobs read from the source, want 6: %v", blobs, watch.Seen())
	}
}
