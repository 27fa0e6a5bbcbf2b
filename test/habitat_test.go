package test

// The image in its habitat: the action's image, built as a release builds
// it, run by podman exactly as GitHub's runner runs a docker action and as
// GitLab's docker executor runs a job image, against a registry on the
// host. What the container writes is checked from the host side.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// workspaceUID owns the workspace on the host, as the runner's user does.
const workspaceUID, workspaceGID = 1001, 127

// TestHabitatGitHubRunner runs the action's images as actions/runner runs
// a docker action (its ContainerActionHandler and DockerCommandManager):
// --workdir /github/workspace, the _github_home, _github_workflow,
// _runner_file_commands and workspace mounts, `-e NAME` for each variable
// with the value in podman's environment, every input of action.yml as
// INPUT_<NAME> with its hyphens kept and its default filled in.
func TestHabitatGitHubRunner(t *testing.T) {
	t.Parallel()
	h := needHabitat(t)
	for _, tc := range []struct {
		name, image string
		load        func() error
	}{
		{"scratch", imageAction, loadAction},
		{"busybox", imageBusyboxed, loadBusyboxed},
		{"dockerfile", imageDockerfile, loadDockerfile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.image == imageDockerfile {
				t.Skip("builds the repository's Dockerfile with podman: run without -short")
			}
			t.Parallel()
			if err := tc.load(); err != nil {
				t.Fatal(err)
			}
			runAsGitHubRunner(t, h, tc.image)
		})
	}
}

func runAsGitHubRunner(t *testing.T, h *habitatEnv, image string) {
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	tmpA := push(t, reg.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
	tmpB := push(t, reg.Host+"/o/app:tmp-arm64", platformImage(t, arm64))

	// The runner's directories: RUNNER/_work/_temp/... and the workspace.
	work := filepath.Join(t.TempDir(), "_work")
	temp, ws := filepath.Join(work, "_temp"), filepath.Join(work, "repo", "repo")
	home, workflow, files := filepath.Join(temp, "_github_home"), filepath.Join(temp, "_github_workflow"), filepath.Join(temp, "_runner_file_commands")
	for _, d := range []string{home, workflow, files, ws} {
		mkdirOwned(t, d)
	}
	writeFile(t, filepath.Join(workflow, "event.json"), "{}")
	const outputName, summaryName = "set_output_6c1d1d9a", "step_summary_6c1d1d9a"
	for _, f := range []string{outputName, summaryName, "add_path_6c1d1d9a", "set_env_6c1d1d9a", "save_state_6c1d1d9a"} {
		writeFile(t, filepath.Join(files, f), "")
	}

	const token = "ghs_habitatTokenThatMustNeverBePrinted0001"
	given := map[string]string{
		"images":              reg.Host + "/o/app:tmp-amd64\n" + reg.Host + "/o/app:tmp-arm64\n",
		"tags":                reg.Host + "/o/app:1.0\noci:out/app:1.0",
		"annotations":         "index:org.opencontainers.image.title=habitat\nindex:org.opencontainers.image.description=runs as the runner runs it",
		"insecure-registries": reg.Host,
		"delete-tags":         reg.Host + "/o/app:tmp-*",
		"github-token":        token,
	}
	env := runnerEnv(t, given, outputName, summaryName)
	args := []string{"--workdir", "/github/workspace", "--network", "host",
		"-v", home + ":/github/home", "-v", workflow + ":/github/workflow",
		"-v", files + ":/github/file_commands", "-v", ws + ":/github/workspace"}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		args = append(args, "-e", k)
	}
	args = append(args, image)
	stdout, stderr, code := h.podmanRunEnv(t, env, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// The one line that names the secret is the one that masks it: the
	// runner hides it from the log from then on.
	if strings.Contains(strings.ReplaceAll(stdout, "::add-mask::"+token, ""), token) || strings.Contains(stderr, token) {
		t.Errorf("the github-token input appears in the log:\n%s\n%s", stdout, stderr)
	}

	outputs := parseOutputFile(t, filepath.Join(files, outputName))
	idx, digest := readIndex(t, reg, "o/app", "1.0")
	if outputs["digest"] != digest {
		t.Errorf("output digest = %q, registry has %s", outputs["digest"], digest)
	}
	if got := platformsOf(idx); strings.Join(got, ",") != "linux/amd64,linux/arm64/v8" {
		t.Errorf("platforms = %v", got)
	}
	if idx.Annotations["org.opencontainers.image.title"] != "habitat" || idx.Manifests[0].Digest != tmpA.String() || idx.Manifests[1].Digest != tmpB.String() {
		t.Errorf("index = %+v", idx)
	}
	if tags := reg.Tags(t, "o/app"); strings.Join(tags, ",") != "1.0" {
		t.Errorf("tags after cleanup = %v, want only 1.0", tags)
	}
	if got := outputs["deleted-tags"]; strings.Count(got, "tmp-") != 2 {
		t.Errorf("deleted-tags output = %q", got)
	}
	sum, err := os.ReadFile(filepath.Join(files, summaryName))
	if err != nil || !strings.Contains(string(sum), digest) {
		t.Errorf("step summary lacks the digest (%v):\n%s", err, sum)
	}

	// The oci: target, on the host: readable by skopeo, the same index,
	// owned by the workspace's owner.
	out := filepath.Join(ws, "out", "app")
	raw, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+out+":1.0").Output()
	if err != nil {
		t.Fatalf("skopeo inspect of the oci: target: %v", err)
	}
	if got := "sha256:" + sha256Hex(raw); got != digest {
		t.Errorf("oci: target holds %s, registry %s", got, digest)
	}
	checkOwnedBy(t, filepath.Join(ws, "out"), workspaceUID, workspaceGID)
}

// runnerEnv is the environment the runner gives a docker action: its
// GITHUB_* and RUNNER_* variables with container paths, and every input
// of action.yml as INPUT_<NAME> (upper case, hyphens kept), given or
// defaulted.
func runnerEnv(t *testing.T, given map[string]string, outputName, summaryName string) []string {
	t.Helper()
	b, err := os.ReadFile("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(b, &action); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=/github/home", "GITHUB_ACTIONS=true", "CI=true",
		"GITHUB_WORKSPACE=/github/workspace", "GITHUB_EVENT_PATH=/github/workflow/event.json",
		"GITHUB_OUTPUT=/github/file_commands/" + outputName,
		"GITHUB_STEP_SUMMARY=/github/file_commands/" + summaryName,
		"GITHUB_ENV=/github/file_commands/set_env_6c1d1d9a", "GITHUB_PATH=/github/file_commands/add_path_6c1d1d9a",
		"GITHUB_STATE=/github/file_commands/save_state_6c1d1d9a",
		"GITHUB_SERVER_URL=https://github.com", "GITHUB_API_URL=https://api.github.com",
		"GITHUB_REPOSITORY=o/app", "GITHUB_REPOSITORY_OWNER=o", "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567",
		"GITHUB_REF=refs/heads/main", "GITHUB_REF_NAME=main", "GITHUB_EVENT_NAME=push", "GITHUB_ACTOR=octocat",
		"GITHUB_RUN_ID=1", "GITHUB_RUN_NUMBER=1", "GITHUB_JOB=image", "GITHUB_ACTION=__self",
		"RUNNER_OS=Linux", "RUNNER_ARCH=X64", "RUNNER_TEMP=/home/runner/work/_temp", "RUNNER_TOOL_CACHE=/opt/hostedtoolcache",
	}
	for name, in := range action.Inputs {
		v, ok := given[name]
		if !ok {
			v = in.Default
			if v == "${{ github.token }}" {
				v = ""
			}
		}
		env = append(env, "INPUT_"+strings.ToUpper(name)+"="+v)
	}
	for name := range given {
		if _, ok := action.Inputs[name]; !ok {
			t.Fatalf("input %q is not in action.yml", name)
		}
	}
	return env
}

// TestHabitatGitLabDockerExecutor runs the -busybox image as GitLab's docker
// executor runs a job image: entrypoint cleared, the job script given to
// the image's sh, the project directory mounted at /builds/GROUP/PROJECT
// and used as the working directory, GitLab's CI variables set.
func TestHabitatGitLabDockerExecutor(t *testing.T) {
	t.Parallel()
	h := needHabitat(t)
	if err := loadBusyboxed(); err != nil {
		t.Fatal(err)
	}
	tlsCfg := registrytest.NewTLS(t)
	const user, password = "gitlab-ci-token", "glcbt-habitatSecretNeverPrinted"
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3), registrytest.WithTLS(tlsCfg),
		registrytest.WithConfig(registrytest.HtpasswdConfig(t, user, password)))
	reg.SetBasicAuth(user, password)

	project := filepath.Join(t.TempDir(), "project")
	mkdirOwned(t, project)
	writeFile(t, filepath.Join(project, "dist", "linux-amd64", "hello"), "amd64 binary")
	writeFile(t, filepath.Join(project, "ca.pem"), string(mustRead(t, tlsCfg.CAFile)))
	const dir = "/builds/group/project"
	script := `oci-assemble --base scratch --platforms linux/amd64 ` +
		`--layers "$LAYERS" --entrypoint '["/usr/local/bin/hello"]' ` +
		`--tags "$CI_REGISTRY_IMAGE/hello,$CI_REGISTRY_IMAGE/hello:tmp-amd64,oci:out/hello:1"`
	env := map[string]string{
		"CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": dir, "CI_BUILDS_DIR": "/builds",
		"CI_REGISTRY": reg.Host, "CI_REGISTRY_IMAGE": reg.Host + "/group/project",
		"CI_REGISTRY_USER": user, "CI_REGISTRY_PASSWORD": password, "CI_JOB_TOKEN": password,
		"CI_API_V4_URL": "https://gitlab.example.com/api/v4", "CI_PROJECT_ID": "42",
		"SSL_CERT_FILE": dir + "/ca.pem",
		"LAYERS":        "- files:\n    - dist/{platform}/hello:/usr/local/bin/hello\n",
	}
	args := []string{"--entrypoint", "", "--network", "host", "-v", project + ":" + dir, "-w", dir}
	var penv []string
	for k, v := range env {
		args = append(args, "-e", k)
		penv = append(penv, k+"="+v)
	}
	args = append(args, imageBusyboxed, "sh", "-c", script)
	stdout, stderr, code := h.podmanRunEnv(t, penv, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, password) {
		t.Errorf("a secret appears in the job log")
	}
	if !strings.Contains(stdout, "section_start:") {
		t.Errorf("no GitLab log sections:\n%s", stdout)
	}
	vars := readDotenv(t, filepath.Join(project, "oci-assemble.env"))
	idx, digest := readIndex(t, reg, "group/project/hello", "tmp-amd64")
	if vars["OCI_ASSEMBLE_DIGEST"] != digest || len(idx.Manifests) != 1 || vars["OCI_ASSEMBLE_DIGEST_LINUX_AMD64"] != idx.Manifests[0].Digest {
		t.Errorf("dotenv %v, registry has index %s with %+v", vars, digest, idx.Manifests)
	}
	if vars["OCI_ASSEMBLE_IMAGE"] != reg.Host+"/group/project/hello@"+digest {
		t.Errorf("dotenv OCI_ASSEMBLE_IMAGE = %q", vars["OCI_ASSEMBLE_IMAGE"])
	}
	checkOwnedBy(t, filepath.Join(project, "oci-assemble.env"), workspaceUID, workspaceGID)
	checkOwnedBy(t, filepath.Join(project, "out"), workspaceUID, workspaceGID)
}

// podmanRunEnv is podmanRun with extra variables in podman's environment,
// for `-e NAME` to pass on.
func (h *habitatEnv) podmanRunEnv(t *testing.T, extra []string, args ...string) (string, string, int) {
	t.Helper()
	hh := *h
	hh.env = append(append([]string{}, h.env...), extra...)
	return hh.podmanRun(t, args...)
}

// mkdirOwned makes a directory owned by the workspace's non-root owner.
func mkdirOwned(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, workspaceUID, workspaceGID); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkOwnedBy checks that path and everything under it belong to uid:gid.
func checkOwnedBy(t *testing.T, path string, uid, gid int) {
	t.Helper()
	n := 0
	err := filepath.Walk(path, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s is owned by %d:%d, want the workspace's %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Errorf("walking %s: %v (%d entries)", path, err, n)
	}
}

func readDotenv(t *testing.T, path string) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(mustRead(t, path))), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("dotenv line %q is not KEY=value", line)
		}
		vars[k] = v
	}
	return vars
}

// imageDockerfile is the Dockerfile built by podman.
const imageDockerfile = "localhost/oci-assemble-test/action:habitat-dockerfile"

// loadDockerfile builds the repository's Dockerfile with podman, its
// GO_IMAGE pointing at the builder made from the installed toolchain (the
// pinned golang stage is then unused and not pulled); the other base is
// scratch. The host's module cache is mounted for the builder's file://
// module proxy, and the host's build cache for speed.
var loadDockerfile = sync.OnceValue(func() error {
	h := habitat()
	if err := loadGolang(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// The Dockerfile's `go mod download` fetches the whole module graph,
	// test-only modules included; the host's cache gets them first (from
	// the Go module proxy) so the file:// proxy in the build has them.
	download := exec.CommandContext(ctx, "go", "mod", "download")
	download.Dir = ".."
	if out, err := download.CombinedOutput(); err != nil {
		return fmt.Errorf("go mod download: %w\n%s", err, out)
	}
	modcache := strings.TrimSpace(runOut("go", "env", "GOMODCACHE"))
	gocache := strings.TrimSpace(runOut("go", "env", "GOCACHE"))
	if modcache == "" || gocache == "" {
		return fmt.Errorf("go env GOMODCACHE / GOCACHE: empty")
	}
	_, err := h.podman(ctx, "build", "--pull=never", "--network", "host",
		"--build-arg", "GO_IMAGE="+imageBuilder, "--build-arg", "VERSION=habitat",
		"-v", modcache+":/gomodcache:ro", "-v", gocache+":/root/.cache/go-build",
		"-t", imageDockerfile, "-f", "../Dockerfile", "..")
	if err != nil {
		return err
	}
	// Only what the Dockerfile says: the entrypoint, the binary and the CA
	// bundle on scratch.
	out, err := h.podman(ctx, "image", "inspect", "--format", "{{json .Config.Entrypoint}}", imageDockerfile)
	if err != nil {
		return err
	}
	var ep []string
	if err := json.Unmarshal([]byte(out), &ep); err != nil || strings.Join(ep, " ") != "/usr/local/bin/oci-assemble" {
		return fmt.Errorf("the Dockerfile's image has entrypoint %s", out)
	}
	return nil
})
