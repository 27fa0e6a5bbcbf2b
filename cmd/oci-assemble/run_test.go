package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
)

// TestExitCodes runs the program against a registry and checks each exit
// code the package documentation promises, with what the registry holds
// afterwards.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		refuse func(r *http.Request) bool
		args   func(host string) []string
		want   int
		check  func(t *testing.T, reg *testRegistry, r result)
	}{{
		name:  "published",
		args:  func(host string) []string { return []string{"--tags", host + "/o/app:v1"} },
		want:  exitOK,
		check: checkPublished,
	}, {
		name:  "dry run",
		args:  func(host string) []string { return []string{"--tags", host + "/o/app:v1", "--push", "false"} },
		want:  exitOK,
		check: checkDryRun,
	}, {
		name:   "registry refuses every upload",
		refuse: func(r *http.Request) bool { return r.Method == http.MethodPost },
		args:   func(host string) []string { return []string{"--tags", host + "/o/app:v1"} },
		want:   exitFailed,
		check:  checkFailedBeforeTags,
	}, {
		name: "registry refuses every tag",
		refuse: func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/v")
		},
		args: func(host string) []string { return []string{"--tags", host + "/o/app:v1," + host + "/o/app:v2"} },
		want: exitFailed,
		check: func(t *testing.T, reg *testRegistry, r result) {
			if !strings.Contains(r.stderr, "; no tag was moved") {
				t.Errorf("stderr = %q, want it to say no tag was moved", r.stderr)
			}
		},
	}, {
		name: "one tag refused, the other moved",
		refuse: func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/v2")
		},
		args:  func(host string) []string { return []string{"--tags", host + "/o/app:v1," + host + "/o/app:v2"} },
		want:  exitPartial,
		check: checkPartial,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistry(t, tt.refuse)
			args := append([]string{"--images", layoutSources(t), "--insecure-registries", reg.host}, tt.args(reg.host)...)
			r := runAction(t, map[string]string{}, args...)
			if r.code != tt.want {
				t.Fatalf("exit code = %d, want %d", r.code, tt.want)
			}
			tt.check(t, reg, r)
		})
	}
}

// checkPublished: the tag is in the registry, and stdout gives its digest
// and the published image, as the command line prints them.
func checkPublished(t *testing.T, reg *testRegistry, r result) {
	t.Helper()
	d, ok := reg.digest(t, "o/app:v1")
	if !ok {
		t.Fatal("o/app:v1 is not in the registry")
	}
	if want := "digest=" + d.String() + "\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q", want)
	}
	if want := "published " + reg.host + "/o/app@" + d.String() + "\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q", want)
	}
}

// checkDryRun: nothing reached the registry.
func checkDryRun(t *testing.T, reg *testRegistry, r result) {
	t.Helper()
	if n := reg.writeCount(); n != 0 {
		t.Errorf("dry run sent %d writes to the registry, want 0", n)
	}
	if want := "dry run: nothing written (push: false)"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q", want)
	}
}

// checkFailedBeforeTags: no tag exists, and one error line names the
// registry.
func checkFailedBeforeTags(t *testing.T, reg *testRegistry, r result) {
	t.Helper()
	if _, ok := reg.digest(t, "o/app:v1"); ok {
		t.Error("o/app:v1 exists after a failed run")
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], reg.host) {
		t.Errorf("stderr = %q, want one error line naming the registry", r.stderr)
	}
}

// checkPartial: v1 moved, v2 did not, and the error says both.
func checkPartial(t *testing.T, reg *testRegistry, r result) {
	t.Helper()
	if _, ok := reg.digest(t, "o/app:v1"); !ok {
		t.Error("o/app:v1 did not move")
	}
	if _, ok := reg.digest(t, "o/app:v2"); ok {
		t.Error("o/app:v2 exists though the registry refused it")
	}
	for _, want := range []string{"tagging failed for " + reg.host + "/o/app:v2", "these tags already point at the new index: " + reg.host + "/o/app:v1"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
}

// TestBadInput checks exit code 1: one line per invalid input, naming it,
// as an ::error annotation in GitHub, and nothing written anywhere.
func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		github     bool
		inputs     map[string]string
		wantLines  []string
		wantStdout bool // the lines are annotations on stdout
	}{{
		name:      "command line",
		inputs:    map[string]string{"push": "nope"},
		wantLines: []string{`error: input push: "nope" is not true or false`},
	}, {
		name:      "every bad input, one line each",
		inputs:    map[string]string{"push": "nope", "media-type": "zip"},
		wantLines: []string{`error: input push: "nope" is not true or false`, `error: input media-type: "zip" is not oci or docker`},
	}, {
		name:       "GitHub",
		github:     true,
		inputs:     map[string]string{"push": "nope"},
		wantLines:  []string{`::error::input push: "nope" is not true or false`},
		wantStdout: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistry(t, nil)
			dir := t.TempDir()
			inputs := map[string]string{"images": layoutSources(t), "tags": reg.host + "/o/app:v1", "insecure-registries": reg.host}
			for k, v := range tt.inputs {
				inputs[k] = v
			}
			vars := map[string]string{"GITHUB_OUTPUT": dir + "/output", "GITHUB_STEP_SUMMARY": dir + "/summary"}
			var args []string
			for k, v := range inputs {
				if tt.github {
					vars["INPUT_"+strings.ToUpper(k)] = v
				} else {
					args = append(args, "--"+k, v)
				}
			}
			if tt.github {
				vars["GITHUB_ACTIONS"] = "true"
			}
			r := runAction(t, vars, args...)
			if r.code != exitInput {
				t.Fatalf("exit code = %d, want %d", r.code, exitInput)
			}
			got, quiet := r.stderr, r.stdout
			if tt.wantStdout {
				got, quiet = r.stdout, r.stderr
			}
			if want := strings.Join(tt.wantLines, "\n") + "\n"; got != want {
				t.Errorf("output = %q, want %q", got, want)
			}
			if quiet != "" {
				t.Errorf("the other stream = %q, want nothing", quiet)
			}
			if n := reg.writeCount(); n != 0 {
				t.Errorf("%d writes reached the registry, want 0", n)
			}
			for _, f := range []string{"output", "summary"} {
				if s := readFile(t, dir+"/"+f); s != "" {
					t.Errorf("%s file = %q, want nothing", f, s)
				}
			}
		})
	}
}

// TestGitHubTokenFromEnvironment: a token only in GITHUB_TOKEN is offered
// to ghcr.io and to GitHub's API, and a refusal names GITHUB_TOKEN as its
// source, never the github-token input.
func TestGitHubTokenFromEnvironment(t *testing.T) {
	t.Parallel()
	const token = "ght-env-only-5b2"
	var stdout, stderr syncBuffer
	u := newUI(env{
		getenv: func(k string) string { return map[string]string{"GITHUB_TOKEN": token}[k] },
		stdout: &stdout, stderr: &stderr,
		args: []string{"--images", layoutSources(t), "--push", "false"},
	})
	spec, code := u.readSpec()
	if spec == nil {
		t.Fatalf("readSpec: exit %d, stderr %q", code, stderr.String())
	}
	kc, err := u.keychain(spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := kc.GitHubToken(); got != token {
		t.Errorf("GitHubToken() = %q, want the GITHUB_TOKEN value", got)
	}
	ref := name.MustParseReference("ghcr.io/o/app:v1")
	u.fail(&plan.RefError{Op: "pushing", Ref: ref, Err: &transport.Error{StatusCode: http.StatusUnauthorized}})
	msg := stderr.String()
	if want := "credential from GITHUB_TOKEN"; !strings.Contains(msg, want) {
		t.Errorf("error = %q, want it to contain %q", msg, want)
	}
	if bad := "credential from github-token input"; strings.Contains(msg, bad) {
		t.Errorf("error = %q names the input as the source", msg)
	}
	if strings.Contains(msg+stdout.String(), token) {
		t.Error("the token was printed")
	}
}
