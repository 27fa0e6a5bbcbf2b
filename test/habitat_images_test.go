package test

// The images the habitat tests run, all made on this machine: nothing is
// pulled. The action's image and its -busybox variant are built the way
// .github/workflows/release.yml builds them, with oci-assemble's own layer
// mode; the busybox base comes from Debian's busybox-static, the golang
// stand-in from the installed Go toolchain, and the helper image
// gitlab-ci-local asks for from the host's bash and rsync. Each image is
// built once per test run (sync.OnceValues) under the run's temporary
// directory and loaded into podman's storage.

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// Image names in podman's storage. gitlab-ci-local names its helper image
// itself; the pipeline's images are tagged with the names the example
// .gitlab-ci.yml uses, so the example runs unmodified.
const (
	imageAction    = "localhost/oci-assemble-test/action:habitat"
	imageBusyboxed = "localhost/oci-assemble-test/action:habitat-busybox"
	imageGolang    = "localhost/oci-assemble-test/golang:habitat"
	imageBuilder   = "localhost/oci-assemble-test/go-builder:habitat"
	imageExampleOA = "ghcr.io/oci-assemble/oci-assemble:v1-busybox"
	imageExampleGo = "docker.io/library/golang:1.26-bookworm"
	imageGCLUtil   = "docker.io/firecow/gitlab-ci-local-util:latest"
)

// habitatEnv is podman's environment for this run.
type habitatEnv struct {
	dir      string   // cache of this test run: layouts, rootfs trees, binaries
	env      []string // os.Environ plus CONTAINERS_CONF
	platform string   // linux/GOARCH: the host's, the only one podman runs
}

var (
	habitatSetup = sync.OnceValues(setupHabitat)
	// Images, each built on first use.
	layoutBusybox = sync.OnceValues(func() (string, error) { return buildBusyboxLayout(habitat()) })
	loadAction    = sync.OnceValue(func() error { return buildActionImage(habitat()) })
	loadBusyboxed = sync.OnceValue(func() error { return buildBusyboxedImage(habitat()) })
	loadGolang    = sync.OnceValue(func() error { return buildGolangImage(habitat()) })
	loadGCLUtil   = sync.OnceValue(func() error { return buildGCLUtilImage(habitat()) })
	habitatUsed   atomic.Bool
	// podmanSlots bounds concurrent container runs: two cores are shared.
	podmanSlots = make(chan struct{}, 2)
)

// habitat returns the environment set up by needHabitat.
func habitat() *habitatEnv {
	h, _ := habitatSetup()
	return h
}

// needHabitat skips the test (fails it under CI) unless podman can run
// containers here: root, podman, runc and skopeo. .ci/run installs them.
func needHabitat(t *testing.T) *habitatEnv {
	t.Helper()
	habitatUsed.Store(true)
	h, err := habitatSetup()
	if err != nil {
		registrytest.MissingTool(t, fmt.Sprintf("habitat: %v", err))
	}
	return h
}

func setupHabitat() (*habitatEnv, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("podman runs as root in these tests; run as root (.ci/run does)")
	}
	for _, tool := range []string{"podman", "runc", "skopeo", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not installed (.ci/run installs podman, runc, skopeo and busybox-static)", tool)
		}
	}
	dir := filepath.Join(e2eDir, "habitat")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	h := &habitatEnv{dir: dir, env: os.Environ(), platform: "linux/" + runtime.GOARCH}
	if os.Getenv("CONTAINERS_CONF") == "" {
		conf, err := writeContainersConf(dir)
		if err != nil {
			return nil, err
		}
		h.env = append(h.env, "CONTAINERS_CONF="+conf)
	}
	return h, nil
}

// writeContainersConf writes the podman configuration .ci/run also writes:
// runc (crun fails on this kind of machine's cgroups), default ulimits
// within this process's hard limits (podman's defaults exceed them, and
// the runtime then fails to set them), cgroupfs and a file event log
// where systemd does not run.
func writeContainersConf(dir string) (string, error) {
	var nofile, nproc syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile); err != nil {
		return "", err
	}
	const rlimitNproc = 6 // RLIMIT_NPROC on Linux
	if err := syscall.Getrlimit(rlimitNproc, &nproc); err != nil {
		return "", err
	}
	nf, np := min(nofile.Max/2, 65536), min(nproc.Max, 4096)
	conf := fmt.Sprintf("[containers]\ndefault_ulimits=[\"nofile=%d:%d\",\"nproc=%d:%d\"]\n[engine]\nruntime=\"runc\"\n", nf, nf, np, np)
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		conf += "cgroup_manager=\"cgroupfs\"\nevents_logger=\"file\"\n"
	}
	path := filepath.Join(dir, "containers.conf")
	return path, os.WriteFile(path, []byte(conf), 0o644)
}

// podman runs podman with the habitat's configuration and returns its
// standard output; an error carries standard error.
func (h *habitatEnv) podman(ctx context.Context, args ...string) (string, error) {
	return h.command(ctx, "podman", args...)
}

func (h *habitatEnv) command(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = h.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// assembleLayout runs oci-assemble (the binary under test) in layer mode as
// release.yml does and returns the OCI layout it wrote.
func (h *habitatEnv) assembleLayout(name string, inputs map[string]string) (string, error) {
	out := filepath.Join(h.dir, "layouts", name)
	inputs["tags"] = "oci:" + out + ":" + name
	inputs["platforms"] = h.platform
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir, "GITHUB_WORKSPACE=" + h.dir}
	for k, v := range inputs {
		env = append(env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	cmd := exec.Command(binary)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s with oci-assemble: %w\n%s", name, err, b)
	}
	return out, nil
}

// load copies an OCI layout's image for this platform into podman's
// storage under each name.
func (h *habitatEnv) load(layoutDir, tag string, names ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := h.command(ctx, "skopeo", "copy", "--quiet", "oci:"+layoutDir+":"+tag, "containers-storage:"+names[0]); err != nil {
		return err
	}
	for _, n := range names[1:] {
		if _, err := h.podman(ctx, "tag", names[0], n); err != nil {
			return err
		}
	}
	return nil
}

// distDir lays out what release.yml's "Cross-compile static binaries" step
// leaves for the image steps: dist/{os}-{arch}/oci-assemble (the static
// binary under test, built by TestMain with CGO disabled) and
// dist/ca-certificates.crt.
func (h *habitatEnv) distDir() (string, error) {
	dist := filepath.Join(h.dir, "dist")
	bin := filepath.Join(dist, strings.ReplaceAll(h.platform, "/", "-"), "oci-assemble")
	if err := copyFile(binary, bin, 0o755); err != nil {
		return "", err
	}
	return dist, copyFile("/etc/ssl/certs/ca-certificates.crt", filepath.Join(dist, "ca-certificates.crt"), 0o644)
}

// releaseInputs are release.yml's layer-mode inputs for the image on base.
func releaseInputs(base string) map[string]string {
	return map[string]string{
		"base": base,
		"layers": "- files:\n    - dist/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt\n" +
			"- files:\n    - dist/{os}-{arch}/oci-assemble:/usr/local/bin/oci-assemble\n",
		"entrypoint":  `["/usr/local/bin/oci-assemble"]`,
		"created":     "1700000000",
		"labels":      "org.opencontainers.image.source=https://github.com/oci-assemble/oci-assemble\norg.opencontainers.image.version=habitat",
		"annotations": "index:org.opencontainers.image.version=habitat",
	}
}

func buildActionImage(h *habitatEnv) error {
	if _, err := h.distDir(); err != nil {
		return err
	}
	dir, err := h.assembleLayout("action", releaseInputs("scratch"))
	if err != nil {
		return err
	}
	return h.load(dir, "action", imageAction)
}

func buildBusyboxedImage(h *habitatEnv) error {
	base, err := layoutBusybox()
	if err != nil {
		return err
	}
	if _, err := h.distDir(); err != nil {
		return err
	}
	dir, err := h.assembleLayout("busyboxed", releaseInputs("oci:"+base+":busybox"))
	if err != nil {
		return err
	}
	return h.load(dir, "busyboxed", imageBusyboxed, imageExampleOA)
}

// buildBusyboxLayout is the stand-in for busybox:1.37: Debian's static
// busybox at /bin/busybox with a symlink per applet, built from scratch
// with layer mode, with busybox's default PATH and cmd.
func buildBusyboxLayout(h *habitatEnv) (string, error) {
	root := filepath.Join(h.dir, "rootfs", "busybox")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "", err
	}
	if f, err := elf.Open(bb); err != nil {
		return "", err
	} else {
		interp := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
		f.Close()
		if interp {
			return "", fmt.Errorf("%s is dynamically linked; install busybox-static (.ci/run does)", bb)
		}
	}
	if err := copyFile(bb, filepath.Join(root, "bin", "busybox"), 0o755); err != nil {
		return "", err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	for _, d := range []string{"tmp", "root", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return "", err
	}
	return h.assembleLayout("busybox", map[string]string{
		"base":   "scratch",
		"layers": "- files:\n    - " + root + "/:/\n",
		"env":    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"cmd":    `["sh"]`,
	})
}

// hostBinaries copies host executables and the shared libraries ldd
// names for them into root, at their host paths.
func hostBinaries(root string, bins ...string) error {
	files := map[string]bool{}
	for _, b := range bins {
		p, err := exec.LookPath(b)
		if err != nil {
			return err
		}
		files[p] = true
		out, err := exec.Command("ldd", p).Output()
		if err != nil {
			return fmt.Errorf("ldd %s: %w", p, err)
		}
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "/") {
				files[f] = true
			}
		}
	}
	paths := make([]string, 0, len(files))
	for f := range files {
		paths = append(paths, f)
	}
	sort.Strings(paths)
	for _, f := range paths {
		if err := copyFile(f, filepath.Join(root, f), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// buildGolangImage is the stand-in for golang:1.26-bookworm: busybox, bash
// (gitlab-ci-local runs bash when an image has it, as the real image does),
// the CA bundle and the installed Go toolchain at /usr/local/go with the
// official image's PATH and GOPATH. The stand-in has no git, so VCS
// stamping is off. From it, the builder GO_IMAGE names in the podman build
// of the Dockerfile adds a module proxy read from a mounted module cache,
// since a build container reaches no proxy.
func buildGolangImage(h *habitatEnv) error {
	base, err := layoutBusybox()
	if err != nil {
		return err
	}
	extra := filepath.Join(h.dir, "rootfs", "golang")
	if err := hostBinaries(extra, "bash"); err != nil {
		return err
	}
	if err := copyFile("/etc/ssl/certs/ca-certificates.crt", filepath.Join(extra, "etc/ssl/certs/ca-certificates.crt"), 0o644); err != nil {
		return err
	}
	goroot := strings.TrimSpace(runOut("go", "env", "GOROOT"))
	var files []string
	for _, d := range []string{"bin", "pkg", "src", "lib", "VERSION", "go.env"} {
		if _, err := os.Stat(filepath.Join(goroot, d)); err == nil {
			src := filepath.Join(goroot, d)
			dest := "/usr/local/go/" + d
			if fi, _ := os.Stat(src); fi.IsDir() {
				src, dest = src+"/", dest+"/"
			}
			files = append(files, "    - "+src+":"+dest)
		}
	}
	dir, err := h.assembleLayout("golang", map[string]string{
		"base":              "oci:" + base + ":busybox",
		"layers":            "- files:\n    - " + extra + "/:/\n- files:\n" + strings.Join(files, "\n") + "\n",
		"compression-level": "1",
		"env":               "PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nGOPATH=/go\nGOTOOLCHAIN=local\nGOFLAGS=-buildvcs=false",
		"workdir":           "/go",
		"cmd":               `["bash"]`,
	})
	if err != nil {
		return err
	}
	if err := h.load(dir, "golang", imageGolang, imageExampleGo); err != nil {
		return err
	}
	// The builder: modules from the host's module cache, mounted at
	// /gomodcache by the podman build, through a file:// proxy.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctxDir := filepath.Join(h.dir, "builder")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return err
	}
	containerfile := "FROM " + imageGolang + "\nENV GOPROXY=file:///gomodcache/cache/download GOSUMDB=off GONOSUMDB=* GOFLAGS=-buildvcs=false\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		return err
	}
	_, err = h.podman(ctx, "build", "--pull=never", "-t", imageBuilder, ctxDir)
	return err
}

// buildGCLUtilImage is the stand-in for gitlab-ci-local's helper image
// (docker.io/firecow/gitlab-ci-local-util): busybox with bash and rsync,
// which the emulator runs to copy files in and out of job volumes.
func buildGCLUtilImage(h *habitatEnv) error {
	base, err := layoutBusybox()
	if err != nil {
		return err
	}
	extra := filepath.Join(h.dir, "rootfs", "gclutil")
	if err := hostBinaries(extra, "bash", "rsync"); err != nil {
		return err
	}
	dir, err := h.assembleLayout("gclutil", map[string]string{
		"base":   "oci:" + base + ":busybox",
		"layers": "- files:\n    - " + extra + "/:/\n",
	})
	if err != nil {
		return err
	}
	return h.load(dir, "gclutil", imageGCLUtil)
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

func runOut(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	return string(out)
}

// podmanRun runs one container, holding one of podmanSlots.
func (h *habitatEnv) podmanRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	podmanSlots <- struct{}{}
	defer func() { <-podmanSlots }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", append([]string{"run", "--rm", "--pull=never"}, args...)...)
	cmd.Env = h.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("podman run: %v\n%s", err, e.String())
	}
	return o.String(), e.String(), code
}

// removeHabitatImages drops the images this run tagged (called by TestMain).
func removeHabitatImages() {
	if !habitatUsed.Load() {
		return
	}
	h, err := habitatSetup()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, img := range []string{imageAction, imageBusyboxed, imageExampleOA, imageGolang, imageExampleGo, imageBuilder, imageGCLUtil, imageDockerfile} {
		_, _ = h.podman(ctx, "rmi", "--ignore", img)
	}
}
