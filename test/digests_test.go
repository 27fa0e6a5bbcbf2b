package test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// runActionIn runs the binary as a GitHub docker action does: the working
// directory is the workspace, GITHUB_WORKSPACE names it, and
// RUNNER_TEMP names a runner folder the container does not see.
func runActionIn(t *testing.T, workspace string, inputs map[string]string) result {
	t.Helper()
	dir := t.TempDir()
	outFile, sumFile := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	for _, f := range []string{outFile, sumFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GITHUB_ACTIONS=true",
		"GITHUB_WORKSPACE=" + workspace, "RUNNER_TEMP=" + filepath.Join(dir, "runner-temp"),
		"GITHUB_OUTPUT=" + outFile, "GITHUB_STEP_SUMMARY=" + sumFile,
	}
	for k, v := range inputs {
		env = append(env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	r := execIn(t, workspace, env)
	r.outputs = parseOutputFile(t, outFile)
	sum, err := os.ReadFile(sumFile)
	if err != nil {
		t.Fatal(err)
	}
	r.summary = string(sum)
	return r
}

// touchDigests writes what Docker's recipe leaves in the merge job once
// actions/download-artifact has merged the digests-* artifacts: one empty
// file per platform image, named by its digest without "sha256:".
func touchDigests(t *testing.T, dir string, digests ...v1.Hash) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range digests {
		if err := os.WriteFile(filepath.Join(dir, d.Hex), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestJoinDockerRecipeDigests is the merge job of Docker's multi-runner
// recipe with `docker buildx imagetools create $(printf 'REPO@sha256:%s '
// *)` replaced by the digests input: the build jobs pushed each platform
// by digest only, and the folder holds their digests as file names.
func TestJoinDockerRecipeDigests(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	amdImg, armImg := platformImage(t, amd64), platformImage(t, arm64)
	dAMD := push(t, reg.Host+"/o/app@"+digestOf(t, amdImg).String(), amdImg)
	dARM := push(t, reg.Host+"/o/app@"+digestOf(t, armImg).String(), armImg)
	if tags := reg.Tags(t, "o/app"); len(tags) != 0 {
		t.Fatalf("setup: the build jobs' push by digest left tags %v", tags)
	}
	ws := t.TempDir()
	touchDigests(t, filepath.Join(ws, "digests"), dAMD, dARM)

	res := runActionIn(t, ws, map[string]string{
		"digests":             reg.Host + "/o/app=digests",
		"tags":                reg.Host + "/o/app:1.2.3\n" + reg.Host + "/o/app:latest",
		"insecure-registries": reg.Host,
	})
	if res.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	want := res.outputs["digest"]
	for _, tag := range []string{"1.2.3", "latest"} {
		idx, got := readIndex(t, reg, "o/app", tag)
		if got != want {
			t.Errorf("o/app:%s = %s, want the digest output %s", tag, got, want)
		}
		if got, want := platformsOf(idx), []string{"linux/amd64", "linux/arm64/v8"}; !slices.Equal(sortedCopy(got), want) {
			t.Errorf("o/app:%s platforms = %v, want %v", tag, got, want)
		}
		var children []string
		for _, m := range idx.Manifests {
			children = append(children, m.Digest)
		}
		// The platform manifests are the ones the build jobs pushed, with
		// their labels: nothing rewrites them.
		if got, want := sortedCopy(children), sortedCopy([]string{dAMD.String(), dARM.String()}); !slices.Equal(got, want) {
			t.Errorf("o/app:%s children = %v, want the pushed %v", tag, got, want)
		}
	}
	if got, want := sortedCopy(reg.Tags(t, "o/app")), []string{"1.2.3", "latest"}; !slices.Equal(got, want) {
		t.Errorf("tags = %v, want %v", got, want)
	}
	if !strings.Contains(res.summary, dAMD.String()) || !strings.Contains(res.summary, dARM.String()) {
		t.Errorf("step summary misses a platform digest:\n%s", res.summary)
	}
}

// TestDigestsInputErrors: every way the digests folder can be wrong is one
// ::error line naming the input, and nothing is pushed.
func TestDigestsInputErrors(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	img := platformImage(t, amd64)
	d := push(t, reg.Host+"/o/app@"+digestOf(t, img).String(), img)
	missing := digestOf(t, platformImage(t, arm64)) // never pushed
	runnerTemp := t.TempDir()
	touchDigests(t, filepath.Join(runnerTemp, "digests"), d)
	tests := []struct {
		name   string
		folder string
		setup  func(t *testing.T, ws string)
		want   string
	}{{
		name:   "empty folder",
		folder: "digests",
		setup:  func(t *testing.T, ws string) { touchDigests(t, filepath.Join(ws, "digests")) },
		want:   `input digests: folder "digests" holds no digest files; each build job writes one, named by the hex of the digest it pushed, and uploads it as an artifact`,
	}, {
		name:   "stray file",
		folder: "digests",
		setup: func(t *testing.T, ws string) {
			touchDigests(t, filepath.Join(ws, "digests"), d)
			if err := os.WriteFile(filepath.Join(ws, "digests", "notes.txt"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		want: `input digests: folder "digests" holds "notes.txt", not a file named by a sha256 digest's 64 lowercase hex digits; the folder must hold only the digest files`,
	}, {
		name:   "a folder per artifact",
		folder: "digests",
		setup: func(t *testing.T, ws string) {
			touchDigests(t, filepath.Join(ws, "digests", "digests-linux-amd64"), d)
		},
		want: `input digests: folder "digests" holds "digests-linux-amd64/", not a file named by a sha256 digest's 64 lowercase hex digits; the folder must hold only the digest files (a folder per artifact: set merge-multiple: true on actions/download-artifact)`,
	}, {
		// The build jobs pushed to another repository than the input
		// names, or one of them did not run.
		name:   "a digest the registry lacks",
		folder: "digests",
		setup:  func(t *testing.T, ws string) { touchDigests(t, filepath.Join(ws, "digests"), d, missing) },
		want: "input digests: " + reg.Host + "/o/app@" + missing.String() + `, from folder "digests", does not exist in its registry; check that ` +
			reg.Host + "/o/app is the repository the build jobs push to (the name in docker/build-push-action's outputs) and that they ran first",
	}, {
		name:   "missing folder",
		folder: "digests",
		want:   `input digests: folder "digests" not found; download the build jobs' digests into it first (actions/download-artifact with pattern: digests-*, merge-multiple: true and path: "digests")`,
	}, {
		// Docker's recipe downloads to ${{ runner.temp }}/digests, a host
		// path the action's container does not have: here it is a folder
		// of this machine, outside the workspace, and still refused.
		name:   "runner.temp",
		folder: filepath.Join(runnerTemp, "missing"),
		want:   `, the only folder of the runner the action's container sees; download the artifacts under the workspace (actions/download-artifact path: digests) and give that relative path`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, ws)
			}
			res := runActionIn(t, ws, map[string]string{
				"digests":             reg.Host + "/o/app=" + tt.folder,
				"tags":                reg.Host + "/o/app:1",
				"insecure-registries": reg.Host,
			})
			lines := errorLines(res.stdout)
			if res.code == 0 || len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Fatalf("exit %d, error lines %q; want one containing %q\nstdout:\n%s\nstderr:\n%s", res.code, lines, tt.want, res.stdout, res.stderr)
			}
			if tags := reg.Tags(t, "o/app"); len(tags) != 0 {
				t.Errorf("an input error pushed tags %v", tags)
			}
		})
	}
}
