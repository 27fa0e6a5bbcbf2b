package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetadataListsNeverNull decodes the metadata output of a dry run
// and of a run by digest without referrers or cleanup: every list is a
// JSON array, [] when empty, never null.
func TestMetadataListsNeverNull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, push, tags string
	}{
		{"dry run", "false", "/o/app:v1"},
		{"by digest, no referrers", "true", "/o/app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistry(t, nil)
			dir := t.TempDir()
			r := runAction(t, githubVars(dir, map[string]string{
				"images": layoutSources(t), "tags": reg.host + tt.tags, "insecure-registries": reg.host, "push": tt.push,
			}))
			if r.code != exitOK {
				t.Fatalf("exit code = %d, want 0", r.code)
			}
			var md map[string]any
			out := fileCommands(t, readFile(t, filepath.Join(dir, "output")))
			if err := json.Unmarshal([]byte(out["metadata"]), &md); err != nil {
				t.Fatalf("metadata %q: %v", out["metadata"], err)
			}
			for _, key := range []string{"manifests", "targets", "deletedTags", "wouldDeleteTags", "keptTags", "reusedLayers"} {
				if _, ok := md[key].([]any); !ok {
					t.Errorf("metadata %s = %#v, want a JSON array", key, md[key])
				}
			}
			for _, m := range md["manifests"].([]any) {
				if _, ok := m.(map[string]any)["referrers"].([]any); !ok {
					t.Errorf("manifest %v: referrers is not a JSON array", m)
				}
			}
			targets, _ := md["targets"].([]any)
			if len(targets) != 1 {
				t.Fatalf("metadata targets = %v, want one", md["targets"])
			}
			for _, key := range []string{"tags", "skippedReferrers"} {
				if _, ok := targets[0].(map[string]any)[key].([]any); !ok {
					t.Errorf("target %v: %s is not a JSON array", targets[0], key)
				}
			}
		})
	}
}

// TestSilentNoOpsReported: a delete-tags glob that matches no tag and an
// annotation for a platform the index does not have change nothing; the
// run says so in a line and in the summary.
func TestSilentNoOpsReported(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t, nil)
	dir := t.TempDir()
	r := runAction(t, githubVars(dir, map[string]string{
		"images": layoutSources(t), "tags": reg.host + "/o/app:v1", "insecure-registries": reg.host,
		"delete-tags": reg.host + "/o/app:nightly-*",
		"annotations": "manifest-descriptor[linux/s390x]:org.example.note=x\nmanifest[linux/amd64]:org.example.ok=y",
	}))
	if r.code != exitOK {
		t.Fatalf("exit code = %d, want 0", r.code)
	}
	glob := "delete-tags: " + reg.host + "/o/app:nightly-* matches no tag; nothing was deleted for it"
	annotation := "annotation manifest-descriptor[linux/s390x]:org.example.note matches no platform of the index (linux/amd64, linux/arm64); it was not written"
	for _, want := range []string{"::notice::" + glob, "::warning::" + annotation} {
		if n := strings.Count(r.stdout, want); n != 1 {
			t.Errorf("stdout has %d lines %q, want 1", n, want)
		}
	}
	if strings.Contains(r.stdout, "linux/amd64]:org.example.ok matches") {
		t.Error("an annotation that matched a platform was reported as matching none")
	}
	summary := readFile(t, filepath.Join(dir, "summary"))
	for _, want := range []string{"Notes:", mdText(glob), mdText(annotation)} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
}

// TestProgressOutsideFoldedGroups: GitHub folds every ::group:: shut and
// GitLab's collapsed sections too, so the lines of the phases that upload
// are printed outside them: a user waiting on a long upload sees it move.
func TestProgressOutsideFoldedGroups(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars func(dir, host string) map[string]string
		args func(host string) []string
	}{
		{"GitHub", func(dir, host string) map[string]string {
			return githubVars(dir, map[string]string{"images": layoutSources(t), "tags": host + "/o/app:v1", "insecure-registries": host})
		}, func(string) []string { return nil }},
		{"GitLab", func(string, string) map[string]string { return map[string]string{"GITLAB_CI": "true"} },
			func(host string) []string {
				return []string{"--images", layoutSources(t), "--tags", host + "/o/app:v1", "--insecure-registries", host,
					"--dotenv", filepath.Join(t.TempDir(), "build.env")}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistry(t, nil)
			r := runAction(t, tt.vars(t.TempDir(), reg.host), tt.args(reg.host)...)
			if r.code != exitOK {
				t.Fatalf("exit code = %d, want 0", r.code)
			}
			folded, uploads := false, 0
			for _, line := range strings.Split(r.stdout, "\n") {
				switch {
				case strings.HasPrefix(line, "::group::"), strings.Contains(line, "[collapsed=true]"):
					folded = true
				case strings.HasPrefix(line, "::endgroup::"), strings.Contains(line, "section_end:"):
					folded = false
				case strings.HasPrefix(line, "blob uploaded"):
					uploads++
					if folded {
						t.Errorf("%q is inside a folded group", line)
					}
				}
			}
			if uploads == 0 {
				t.Error("no blob uploaded line")
			}
		})
	}
}

// TestCleanupLinesOnce: a deleted tag is one line, and a kept tag's
// reason is said once, in its warning, not again in a log line.
func TestCleanupLinesOnce(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t, func(r *http.Request) bool {
		return r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/manifests/tmp-kept")
	})
	pushTemp(t, reg.host+"/o/app:tmp-gone")
	pushTemp(t, reg.host+"/o/app:tmp-kept")
	r := runAction(t, githubVars(t.TempDir(), map[string]string{
		"images": layoutSources(t), "tags": reg.host + "/o/app:v1", "insecure-registries": reg.host,
		"delete-tags": reg.host + "/o/app:tmp-*",
	}))
	if r.code != exitOK {
		t.Fatalf("exit code = %d, want 0", r.code)
	}
	for _, tt := range []struct{ text, why string }{
		{"/o/app:tmp-gone", "the deleted tag"},
		{"requested access to the resource is denied", "the kept tag's reason"},
	} {
		if n := strings.Count(r.stdout+r.stderr, tt.text); n != 1 {
			t.Errorf("%s (%q) is in %d lines, want 1", tt.why, tt.text, n)
		}
	}
}
