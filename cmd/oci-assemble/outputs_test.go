package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// githubVars is the environment of a GitHub docker action with the given
// inputs, its output and summary files under dir.
func githubVars(dir string, inputs map[string]string) map[string]string {
	vars := map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
	}
	for k, v := range inputs {
		vars["INPUT_"+strings.ToUpper(k)] = v
	}
	return vars
}

// TestGitHubOutputs checks the step outputs, the step summary and the
// final notice of a published index and of a dry run.
func TestGitHubOutputs(t *testing.T) {
	t.Parallel()
	for _, push := range []bool{true, false} {
		name := "published"
		if !push {
			name = "dry run"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistry(t, nil)
			dir := t.TempDir()
			pushInput := "true"
			if !push {
				pushInput = "false"
			}
			r := runAction(t, githubVars(dir, map[string]string{
				"images": layoutSources(t), "tags": reg.host + "/o/app:v1",
				"insecure-registries": reg.host, "push": pushInput,
			}))
			if r.code != exitOK {
				t.Fatalf("exit code = %d, want 0", r.code)
			}
			out := fileCommands(t, readFile(t, filepath.Join(dir, "output")))
			checkMetadata(t, out, push, reg.host+"/o/app")
			if push {
				d, ok := reg.digest(t, "o/app:v1")
				if !ok {
					t.Fatal("o/app:v1 is not in the registry")
				}
				if got, want := out["digest"], d.String(); got != want {
					t.Errorf("output digest = %q, want the registry's %q", got, want)
				}
				if got, want := out["image"], reg.host+"/o/app@"+d.String(); got != want {
					t.Errorf("output image = %q, want %q", got, want)
				}
				if want := "::notice::published " + out["image"]; !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q", want)
				}
			}
			summary := readFile(t, filepath.Join(dir, "summary"))
			wants := []string{"### oci-assemble", "Index `" + out["digest"] + "`", "| linux/amd64 | 1.0 KiB | `sha256:", "| linux/arm64 | 1.0 KiB | `sha256:",
				"```sh\ndocker pull " + out["image"] + "\n```", "```mermaid\nflowchart LR\n"}
			if push {
				wants = append(wants, "| `"+reg.host+"/o/app` | `v1` | 2.0 KiB | 0 B | 0 B |", ", published in ")
			} else {
				wants = append(wants, "Dry run: nothing was pushed (", "| Would publish to | Tags |\n| --- | --- |\n| `"+reg.host+"/o/app` | `v1` |")
			}
			for _, want := range wants {
				if !strings.Contains(summary, want) {
					t.Errorf("step summary lacks %q:\n%s", want, summary)
				}
			}
			if strings.Contains(r.stdout, "\ndigest=") || strings.HasPrefix(r.stdout, "digest=") {
				t.Error("stdout has the command line's digest= line under GitHub")
			}
		})
	}
}

// checkMetadata checks the manifests and metadata outputs against each
// other and against the digest output.
func checkMetadata(t *testing.T, out map[string]string, pushed bool, repo string) {
	t.Helper()
	var mans []manifestOutput
	if err := json.Unmarshal([]byte(out["manifests"]), &mans); err != nil {
		t.Fatalf("manifests output %q: %v", out["manifests"], err)
	}
	var platforms []string
	for _, m := range mans {
		platforms = append(platforms, m.Platform)
		if _, err := v1.NewHash(m.Digest); err != nil || m.Size <= 0 {
			t.Errorf("manifest %+v: want a digest and a size", m)
		}
	}
	if got, want := strings.Join(platforms, ","), "linux/amd64,linux/arm64"; got != want {
		t.Errorf("manifests platforms = %s, want %s", got, want)
	}
	var md metadata
	if err := json.Unmarshal([]byte(out["metadata"]), &md); err != nil {
		t.Fatalf("metadata output %q: %v", out["metadata"], err)
	}
	if md.Digest != out["digest"] || md.Pushed != pushed || len(md.Manifests) != 2 {
		t.Errorf("metadata = %+v, want digest %s, pushed %v, 2 manifests", md, out["digest"], pushed)
	}
	// A dry run lists the target it would publish to, and its image.
	if want := repo + "@" + out["digest"]; len(md.Targets) != 1 || md.Targets[0].Ref != repo || out["image"] != want || md.Image != want {
		t.Errorf("metadata targets = %+v, image output %q, metadata image %q, want one target %s and image %q", md.Targets, out["image"], md.Image, repo, want)
	}
}

// TestGitLabDotenv checks the dotenv report and GitLab's log sections.
func TestGitLabDotenv(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t, nil)
	path := filepath.Join(t.TempDir(), "build.env")
	r := runAction(t, map[string]string{"GITLAB_CI": "true"},
		"--images", layoutSources(t), "--tags", reg.host+"/o/app:v1",
		"--insecure-registries", reg.host, "--dotenv", path)
	if r.code != exitOK {
		t.Fatalf("exit code = %d, want 0", r.code)
	}
	d, ok := reg.digest(t, "o/app:v1")
	if !ok {
		t.Fatal("o/app:v1 is not in the registry")
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(readFile(t, path), "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(v, `"'`) {
			t.Errorf("dotenv line %q is not KEY=value", line)
		}
		got[k] = v
	}
	if got["OCI_ASSEMBLE_DIGEST"] != d.String() || got["OCI_ASSEMBLE_IMAGE"] != reg.host+"/o/app@"+d.String() {
		t.Errorf("dotenv = %v, want digest %s and its image", got, d)
	}
	for _, k := range []string{"OCI_ASSEMBLE_DIGEST_LINUX_AMD64", "OCI_ASSEMBLE_DIGEST_LINUX_ARM64"} {
		if _, err := v1.NewHash(got[k]); err != nil {
			t.Errorf("dotenv %s = %q, want a digest", k, got[k])
		}
	}
	for _, want := range []string{"section_start:", ":resolving_sources[collapsed=true]", "section_end:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks GitLab section marker %q", want)
		}
	}
	if strings.Contains(r.stdout, "::") {
		t.Error("stdout has GitHub workflow commands in GitLab")
	}
}

// TestCleanupWiring deletes a temp tag matched by a delete-tags glob and
// keeps the tag this run published, with a warning naming the reason.
func TestCleanupWiring(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t, nil)
	tmp := pushTemp(t, reg.host+"/o/app:tmp-1")
	dir := t.TempDir()
	r := runAction(t, githubVars(dir, map[string]string{
		"images": layoutSources(t), "tags": reg.host + "/o/app:v1", "insecure-registries": reg.host,
		"delete-tags": reg.host + "/o/app:tmp-*\n" + reg.host + "/o/app:v1",
	}))
	if r.code != exitOK {
		t.Fatalf("exit code = %d, want 0", r.code)
	}
	if _, ok := reg.digest(t, "o/app:tmp-1"); ok {
		t.Error("o/app:tmp-1 survived the cleanup")
	}
	if _, ok := reg.digest(t, "o/app:v1"); !ok {
		t.Error("the published o/app:v1 was deleted")
	}
	out := fileCommands(t, readFile(t, filepath.Join(dir, "output")))
	if got, want := out["deleted-tags"], tmp.String(); got != want {
		t.Errorf("deleted-tags output = %q, want %q", got, want)
	}
	kept := reg.host + "/o/app:v1 kept: this run published it; remove it from delete-tags or tags"
	if got := out["kept-tags"]; got != kept {
		t.Errorf("kept-tags output = %q, want %q", got, kept)
	}
	if want := "::warning::tag " + kept; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q", want)
	}
}

// pushTemp pushes a small random image to ref, as a matrix job leaves a
// temp tag.
func pushTemp(t *testing.T, ref string) name.Tag {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	return tag
}
