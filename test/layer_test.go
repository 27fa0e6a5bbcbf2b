package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// workspace writes files (path → content; a "->" prefix makes a symlink)
// with modes under a new directory, standing in for GITHUB_WORKSPACE.
func workspace(t *testing.T, files map[string]string, modes map[string]os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, m := range modes {
		if err := os.Chmod(filepath.Join(dir, p), m); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// unpack copies one platform of ref out with skopeo and unpacks it with
// umoci, returning the root filesystem and the runtime config umoci
// generated from the image config.
func unpack(t *testing.T, ref, arch string) (rootfs string, cfg map[string]any) {
	t.Helper()
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	// umoci 0.4 reads gzip layers only: skopeo decompresses zstd (or gzip)
	// and writes gzip, leaving the tar streams as they were.
	cp := exec.Command("skopeo", "copy", "-q", "--src-tls-verify=false", "--override-arch", arch,
		"--dest-compress-format", "gzip", ref, "oci:"+layout+":img")
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy %s (%s): %v\n%s", ref, arch, err, out)
	}
	args := []string{"unpack", "--image", layout + ":img", filepath.Join(dir, "bundle")}
	if os.Geteuid() != 0 {
		args = slices.Insert(args, 1, "--rootless")
	}
	if out, err := exec.Command("umoci", args...).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bundle", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "bundle", "rootfs"), cfg
}

// imageConfig reads one platform's image config with skopeo.
func imageConfig(t *testing.T, ref, arch string) v1.ConfigFile {
	t.Helper()
	out, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--override-arch", arch, "--config", ref).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --config %s: %v", ref, err)
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(out, &cf); err != nil {
		t.Fatal(err)
	}
	return cf
}

const layersYAML = `- files:
    - dist/{os}-{arch}/app:/usr/local/bin/app
- files:
    - static/:/srv/static/
`

// TestLayerModeFromScratch builds two platforms from scratch, per-arch
// binaries through a placeholder and a shared static layer, and checks
// the unpacked result with umoci: content, modes, owners, mtimes and
// symlinks. A second build into another repository gives the same digest.
func TestLayerModeFromScratch(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	ws := workspace(t, map[string]string{
		"dist/linux-amd64/app":   "amd64 binary",
		"dist/linux-arm64/app":   "arm64 binary",
		"static/index.html":      "<h1>hi</h1>",
		"static/css/site.css":    "body{}",
		"static/secret.txt":      "kept 0600",
		"static/current":         "->index.html",
		"static/css/../keep.txt": "x",
	}, map[string]os.FileMode{"dist/linux-amd64/app": 0o755, "dist/linux-arm64/app": 0o755, "static/secret.txt": 0o600})
	const epoch = 1700000000
	in := map[string]string{
		"base":                "scratch",
		"platforms":           "linux/amd64,linux/arm64",
		"layers":              layersYAML,
		"entrypoint":          `["/usr/local/bin/app"]`,
		"env":                 "GREETING=hello world\nMODE=prod",
		"labels":              "org.opencontainers.image.source=https://example.com/app",
		"workdir":             "/srv",
		"user":                "65532:65532",
		"annotations":         "index:org.opencontainers.image.description=built from files",
		"tags":                reg.Host + "/o/app:1",
		"insecure-registries": reg.Host,
	}
	res := runAction(t, in, "GITHUB_WORKSPACE="+ws, "SOURCE_DATE_EPOCH=1700000000")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	idx, digest := readIndex(t, reg, "o/app", "1")
	if digest != res.outputs["digest"] {
		t.Errorf("tag reads back as %s, output digest %s", digest, res.outputs["digest"])
	}
	if got := platformsOf(idx); !slices.Equal(got, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms = %v", got)
	}
	if idx.Annotations["org.opencontainers.image.description"] != "built from files" {
		t.Errorf("index annotations = %v", idx.Annotations)
	}
	// The static layer is the same for both platforms: one blob.
	var static []string
	for _, c := range idx.Manifests {
		var mj manifestJSON
		if err := json.Unmarshal(reg.GetManifest(t, "o/app", c.Digest).Body, &mj); err != nil {
			t.Fatal(err)
		}
		if len(mj.Layers) != 2 {
			t.Fatalf("%s has %d layers, want 2", c.Digest, len(mj.Layers))
		}
		static = append(static, mj.Layers[1].Digest)
	}
	if static[0] != static[1] {
		t.Errorf("static layer differs between platforms: %v", static)
	}
	if n := strings.Count(res.stdout, "blob uploaded"); n != 3+2 { // 2 app layers, 1 static, 2 configs
		t.Errorf("%d blobs uploaded, want 5 (each layer once):\n%s", n, res.stdout)
	}

	ref := "docker://" + reg.Host + "/o/app:1"
	for _, arch := range []string{"amd64", "arm64"} {
		rootfs, rt := unpack(t, ref, arch)
		checkFile(t, rootfs, "usr/local/bin/app", arch+" binary", 0o755)
		checkFile(t, rootfs, "srv/static/index.html", "<h1>hi</h1>", 0o644)
		checkFile(t, rootfs, "srv/static/css/site.css", "body{}", 0o644)
		checkFile(t, rootfs, "srv/static/secret.txt", "kept 0600", 0o600)
		checkFile(t, rootfs, "srv/static/keep.txt", "x", 0o644)
		if target, err := os.Readlink(filepath.Join(rootfs, "srv/static/current")); err != nil || target != "index.html" {
			t.Errorf("srv/static/current: link to %q (%v), want index.html", target, err)
		}
		for _, dir := range []string{"usr", "usr/local/bin", "srv", "srv/static/css"} {
			fi, err := os.Lstat(filepath.Join(rootfs, dir))
			if err != nil || fi.Mode().Perm() != 0o755 || !fi.IsDir() {
				t.Errorf("%s: %v %v, want a 0755 directory", dir, fi.Mode(), err)
			}
		}
		for _, p := range []string{"usr/local/bin/app", "srv/static/secret.txt", "srv/static/css"} {
			fi, err := os.Lstat(filepath.Join(rootfs, p))
			if err != nil {
				t.Fatal(err)
			}
			if !fi.ModTime().Equal(time.Unix(epoch, 0)) {
				t.Errorf("%s: mtime %v, want SOURCE_DATE_EPOCH", p, fi.ModTime().UTC())
			}
			if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 0 || st.Gid != 0) {
				t.Errorf("%s: owner %d:%d, want 0:0", p, st.Uid, st.Gid)
			}
		}
		proc := rt["process"].(map[string]any)
		if got := proc["cwd"]; got != "/srv" {
			t.Errorf("%s: cwd %v, want /srv", arch, got)
		}
		cf := imageConfig(t, ref, arch)
		if cf.Architecture != arch || cf.OS != "linux" {
			t.Errorf("config platform %s/%s, want linux/%s", cf.OS, cf.Architecture, arch)
		}
		if !slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/app"}) || cf.Config.User != "65532:65532" {
			t.Errorf("config = %+v", cf.Config)
		}
		if !slices.Equal(cf.Config.Env, []string{"GREETING=hello world", "MODE=prod"}) {
			t.Errorf("env = %q", cf.Config.Env)
		}
		if cf.Config.Labels["org.opencontainers.image.source"] != "https://example.com/app" {
			t.Errorf("labels = %v", cf.Config.Labels)
		}
		if !cf.Created.Time.Equal(time.Unix(epoch, 0)) || len(cf.History) != 2 || !strings.Contains(cf.History[0].CreatedBy, "dist/linux-"+arch+"/app") {
			t.Errorf("created %v, history %+v", cf.Created, cf.History)
		}
	}

	// Reproducible: the same inputs elsewhere give the same index digest.
	in["tags"] = reg.Host + "/other/app:1"
	again := runAction(t, in, "GITHUB_WORKSPACE="+ws, "SOURCE_DATE_EPOCH=1700000000")
	if again.code != 0 || again.outputs["digest"] != res.outputs["digest"] {
		t.Errorf("second build: exit %d, digest %s, want %s\n%s", again.code, again.outputs["digest"], res.outputs["digest"], again.stdout)
	}

	// A re-push onto the tag that holds it reuses every layer: nothing
	// compressed or uploaded, the same digest, the layers in metadata.
	in["tags"] = reg.Host + "/o/app:1"
	rerun := runAction(t, in, "GITHUB_WORKSPACE="+ws, "SOURCE_DATE_EPOCH=1700000000")
	if rerun.code != 0 || rerun.outputs["digest"] != res.outputs["digest"] {
		t.Errorf("re-push: exit %d, digest %s, want %s\n%s", rerun.code, rerun.outputs["digest"], res.outputs["digest"], rerun.stdout)
	}
	if n := strings.Count(rerun.stdout, "blob uploaded"); n != 0 {
		t.Errorf("re-push uploaded %d blobs, want none:\n%s", n, rerun.stdout)
	}
	var md struct {
		Reused []struct{ DiffID, Digest, From string } `json:"reusedLayers"`
	}
	if err := json.Unmarshal([]byte(rerun.outputs["metadata"]), &md); err != nil {
		t.Fatalf("metadata output: %v", err)
	}
	if len(md.Reused) != 3 || !strings.Contains(rerun.stdout, "layer reused") {
		t.Errorf("reusedLayers = %+v, want the 3 layers, logged\n%s", md.Reused, rerun.stdout)
	}
}

func checkFile(t *testing.T, root, p, content string, mode os.FileMode) {
	t.Helper()
	full := filepath.Join(root, p)
	b, err := os.ReadFile(full)
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if string(b) != content {
		t.Errorf("%s = %q, want %q", p, b, content)
	}
	if fi, err := os.Lstat(full); err != nil || fi.Mode() != mode {
		t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
	}
}

// TestLayerModeOnAnIndexBase builds onto a two-platform base index with a
// PATH: the env overlay replaces PATH in place and keeps the base's other
// variables, the base's layers are mounted rather than uploaded, and
// zstd layers unpack.
func TestLayerModeOnAnIndexBase(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	var adds []mutate.IndexAddendum
	for _, p := range []v1.Platform{amd64, arm64} {
		img := platformImage(t, p)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
		cf.Config.Cmd = []string{"/bin/sh"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	pushIndex(t, reg.Host+"/base/os:1", mutate.AppendManifests(empty.Index, adds...))

	ws := workspace(t, map[string]string{"bin/tool": "tool"}, map[string]os.FileMode{"bin/tool": 0o755})
	res := runAction(t, map[string]string{
		"base":                reg.Host + "/base/os:1",
		"platforms":           "linux/arm64",
		"layers":              "- files: [bin/tool:/app/bin/tool]",
		"env":                 "PATH=/app/bin:/usr/bin:/bin",
		"compression":         "zstd",
		"tags":                reg.Host + "/o/tool:1",
		"insecure-registries": reg.Host,
	}, "GITHUB_WORKSPACE="+ws)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	idx, _ := readIndex(t, reg, "o/tool", "1")
	if got := platformsOf(idx); !slices.Equal(got, []string{"linux/arm64/v8"}) {
		t.Errorf("platforms = %v, want the base's linux/arm64/v8 only", got)
	}
	if !strings.Contains(res.stdout, "blob mounted") {
		t.Errorf("the base's layer was not mounted from base/os:\n%s", res.stdout)
	}
	ref := "docker://" + reg.Host + "/o/tool:1"
	cf := imageConfig(t, ref, "arm64")
	if !slices.Equal(cf.Config.Env, []string{"PATH=/app/bin:/usr/bin:/bin", "LANG=C.UTF-8"}) {
		t.Errorf("env = %q, want PATH replaced in place and LANG kept", cf.Config.Env)
	}
	if !slices.Equal(cf.Config.Cmd, []string{"/bin/sh"}) {
		t.Errorf("cmd = %q, want the base's", cf.Config.Cmd)
	}
	var mj manifestJSON
	if err := json.Unmarshal(reg.GetManifest(t, "o/tool", idx.Manifests[0].Digest).Body, &mj); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Layers []struct{ MediaType string } `json:"layers"`
	}
	_ = json.Unmarshal(reg.GetManifest(t, "o/tool", idx.Manifests[0].Digest).Body, &raw)
	if n := len(raw.Layers); n < 2 || raw.Layers[n-1].MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
		t.Errorf("layers = %+v, want the new one zstd", raw.Layers)
	}
	rootfs, _ := unpack(t, ref, "arm64")
	checkFile(t, rootfs, "app/bin/tool", "tool", 0o755)
}

// TestLayerModePerArchMatrix is the matrix flow: two per-arch jobs build
// and push by digest only (no tag), and the join job assembles their
// manifests output into one tagged index.
func TestLayerModePerArchMatrix(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	ws := workspace(t, map[string]string{
		"dist/linux-amd64/app": "amd64 binary", "dist/linux-arm64/app": "arm64 binary",
		"static/index.html": "hi",
	}, nil)
	var images []string
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		res := runAction(t, map[string]string{
			"base": "scratch", "platforms": p, "layers": layersYAML,
			"tags": reg.Host + "/o/app", "insecure-registries": reg.Host,
		}, "GITHUB_WORKSPACE="+ws)
		if res.code != 0 {
			t.Fatalf("%s: exit %d\n%s", p, res.code, res.stdout)
		}
		var mans []struct{ Platform, Digest string }
		if err := json.Unmarshal([]byte(res.outputs["manifests"]), &mans); err != nil || len(mans) != 1 || mans[0].Platform != p {
			t.Fatalf("%s: manifests output %q (%v)", p, res.outputs["manifests"], err)
		}
		images = append(images, reg.Host+"/o/app@"+mans[0].Digest)
	}
	if tags := reg.Tags(t, "o/app"); len(tags) != 0 {
		t.Errorf("per-arch jobs created tags %v; they push by digest only", tags)
	}
	join := runAction(t, map[string]string{
		"images": strings.Join(images, "\n"), "tags": reg.Host + "/o/app:1.0",
		"insecure-registries": reg.Host,
	})
	if join.code != 0 {
		t.Fatalf("join: exit %d\n%s", join.code, join.stdout)
	}
	idx, _ := readIndex(t, reg, "o/app", "1.0")
	if got := platformsOf(idx); !slices.Equal(got, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms = %v", got)
	}
	for i, c := range idx.Manifests {
		if want := strings.SplitN(images[i], "@", 2)[1]; c.Digest != want {
			t.Errorf("child %d = %s, want the per-arch job's %s", i, c.Digest, want)
		}
	}
}

// TestLayerModeToTwoRegistries publishes one build to two registries and
// a layout: the new layers are streamed once, to the first registry, and
// copied from there to the others.
func TestLayerModeToTwoRegistries(t *testing.T) {
	t.Parallel()
	a := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	b := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	ws := workspace(t, map[string]string{"dist/linux-amd64/app": "amd64 binary", "dist/linux-arm64/app": "arm64 binary", "static/index.html": "hi"}, nil)
	out := filepath.Join(t.TempDir(), "layout")
	res := runAction(t, map[string]string{
		"base": "scratch", "platforms": "linux/amd64,linux/arm64", "layers": layersYAML,
		"tags":                a.Host + "/o/app:1\n" + b.Host + "/mirror/app:1\noci:" + out + ":1",
		"insecure-registries": a.Host + "," + b.Host,
	}, "GITHUB_WORKSPACE="+ws)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	_, da := readIndex(t, a, "o/app", "1")
	_, db := readIndex(t, b, "mirror/app", "1")
	if da != res.outputs["digest"] || db != da {
		t.Errorf("digests %s, %s, want %s", da, db, res.outputs["digest"])
	}
	raw, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+out+":1").Output()
	if err != nil || sha256Hex(raw) != strings.TrimPrefix(da, "sha256:") {
		t.Errorf("layout index (%v) is not %s", err, da)
	}
}
