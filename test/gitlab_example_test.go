package test

// The shipped GitLab example, run as GitLab runs it: gitlab-ci-local
// executes examples/gitlab/.gitlab-ci.yml, unmodified, with podman as its
// docker executor (parallel matrix, needs, dotenv reports passed between
// jobs, variable expansion), against a TLS registry with htpasswd auth
// standing in for the project's CI_REGISTRY.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// gitlabExample is the example users copy, at its path in this repository.
const gitlabExample = "examples/gitlab/.gitlab-ci.yml"

// needGitLabCILocal finds gitlab-ci-local, and rsync and git, which it runs
// on the host; .ci/run installs them.
func needGitLabCILocal(t *testing.T) string {
	t.Helper()
	var missing []string
	for _, tool := range []string{"gitlab-ci-local", "rsync", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		msg := strings.Join(missing, ", ") + " not installed (.ci/run installs them: npm install -g gitlab-ci-local, apt-get install rsync git)"
		registrytest.MissingTool(t, msg)
	}
	p, _ := exec.LookPath("gitlab-ci-local")
	return p
}

// exampleProject makes a git repository holding what the example's jobs
// read: the example file itself (byte for byte), the hello program its
// compile job builds, and the module files. Its remote names the GitLab
// project group/project, from which the emulator derives CI_PROJECT_PATH
// and CI_REGISTRY_IMAGE.
func exampleProject(t *testing.T) (dir, sha string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "project")
	files, err := filepath.Glob("../examples/github-matrix/hello/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("hello sources: %v", err)
	}
	for _, f := range append(files, "../go.mod", "../go.sum", "../"+gitlabExample) {
		rel := strings.TrimPrefix(f, "../")
		if err := copyFile(f, filepath.Join(dir, rel), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://gitlab.example.com/group/project.git")
	git("add", ".")
	git("commit", "-q", "-m", "example")
	return dir, git("rev-parse", "HEAD")
}

// TestGitLabExampleUnderGitLabCILocal runs the example pipeline end to end.
// The emulator differs from GitLab on purpose in a few variables; the run
// gives the jobs what GitLab gives them: GITLAB_CI=true (the emulator says
// false), a CI_JOB_TOKEN (it sets none), and the registry's credentials
// and CA as a project's CI/CD variables would.
func TestGitLabExampleUnderGitLabCILocal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole example pipeline in containers, compile jobs included: run without -short")
	}
	t.Parallel()
	h := needHabitat(t)
	gcl := needGitLabCILocal(t)
	for _, load := range []func() error{loadBusyboxed, loadGolang, loadGCLUtil} {
		if err := load(); err != nil {
			t.Fatal(err)
		}
	}
	tlsCfg := registrytest.NewTLS(t)
	const user, password, jobToken = "ci-registry-user", "ciRegistryPasswordNeverPrinted", "glcbt-jobTokenNeverPrinted"
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3), registrytest.WithTLS(tlsCfg),
		registrytest.WithConfig(registrytest.HtpasswdConfig(t, user, password)))
	reg.SetBasicAuth(user, password)
	project, sha := exampleProject(t)

	const ca = "/etc/oci-assemble-test/ca.pem"
	gocache := strings.TrimSpace(runOut("go", "env", "GOCACHE"))
	args := []string{
		"--file", gitlabExample, "--container-executable", "podman", "--network", "host",
		"--home", t.TempDir(), "--color=false", "--timestamps=false",
		"--volume", tlsCfg.CAFile + ":" + ca + ":ro",
		// A runner-configured volume for the Go build cache, as a runner's
		// cache would be: the compile jobs then reuse this machine's.
		"--volume", gocache + ":/root/.cache/go-build",
		"--variable", "CI_REGISTRY=" + reg.Host,
		"--variable", "CI_REGISTRY_USER=" + user,
		"--variable", "CI_REGISTRY_PASSWORD=" + password,
		"--variable", "SSL_CERT_FILE=" + ca,
		"--variable", "GITLAB_CI=true",
		"--variable", "CI_JOB_TOKEN=" + jobToken,
	}
	podmanSlots <- struct{}{} // the pipeline's containers count as one
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gcl, args...)
	cmd.Dir = project
	cmd.Env = h.env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	err := cmd.Run()
	<-podmanSlots
	log := logs.String()
	if err != nil {
		t.Fatalf("gitlab-ci-local: %v\n%s", err, log)
	}
	t.Logf("pipeline log:\n%s", log)
	for _, secret := range []string{password, jobToken} {
		if strings.Contains(log, secret) {
			t.Errorf("a secret (%.6s...) appears in the job logs", secret)
		}
	}
	if strings.Contains(log, "warning:") {
		t.Errorf("the pipeline warned:\n%s", grepLines(log, "warning:"))
	}

	// The joined index under both tags, both platforms, the annotations
	// the join job expanded from GitLab's variables.
	repo := "group/project/hello"
	idx, digest := readIndex(t, reg, repo, "main")
	if _, d2 := readIndex(t, reg, repo, sha[:8]); d2 != digest {
		t.Errorf("tag %s is %s, main is %s", sha[:8], d2, digest)
	}
	if got := platformsOf(idx); strings.Join(got, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms = %v, want linux/amd64,linux/arm64", got)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   "https://gitlab.example.com/group/project",
		"org.opencontainers.image.revision": sha,
	} {
		if got := idx.Annotations[k]; got != want {
			t.Errorf("annotation %s = %q, want %q", k, got, want)
		}
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(idx.Annotations["org.opencontainers.image.created"]) {
		t.Errorf("annotation created = %q", idx.Annotations["org.opencontainers.image.created"])
	}

	// The dotenv reports: each build job's per-platform digest is the
	// index's child, and the join job's report names the index.
	reports := dotenvReports(t, project)
	for _, m := range idx.Manifests {
		key := "OCI_ASSEMBLE_DIGEST_LINUX_" + strings.ToUpper(m.Platform.Architecture)
		if !slices.ContainsFunc(reports, func(r map[string]string) bool { return r[key] == m.Digest }) {
			t.Errorf("no build job's dotenv report has %s=%s: %v", key, m.Digest, reports)
		}
	}
	if !slices.ContainsFunc(reports, func(r map[string]string) bool {
		return r["OCI_ASSEMBLE_DIGEST"] == digest && r["OCI_ASSEMBLE_IMAGE"] == reg.Host+"/"+repo+"@"+digest
	}) {
		t.Errorf("no dotenv report names the joined index %s: %v", digest, reports)
	}

	// The temp tags are gone; only the join job's tags are left.
	if tags := reg.Tags(t, repo); strings.Join(tags, ",") != strings.Join(sortedCopy([]string{"main", sha[:8]}), ",") {
		t.Errorf("tags = %v, want only main and %s", tags, sha[:8])
	}
}

// dotenvReports reads every dotenv report the emulator kept.
func dotenvReports(t *testing.T, project string) []map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(project, ".gitlab-ci-local", "artifacts", "*", ".gitlab-ci-reports", "dotenv", "oci-assemble.env"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dotenv reports under .gitlab-ci-local/artifacts (%v)", err)
	}
	var out []map[string]string
	for _, p := range paths {
		out = append(out, readDotenv(t, p))
	}
	return out
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
