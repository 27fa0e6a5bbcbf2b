package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGitLabCleanupWithoutJobToken: a GitLab job's variables without
// CI_JOB_TOKEN (as gitlab-ci-local gives) used to skip the whole cleanup
// with "cleanup skipped: WithGitLab: ...". The registry's own tag DELETE
// needs no job token: the temp tag goes, and nothing warns.
func TestGitLabCleanupWithoutJobToken(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t, nil)
	pushTemp(t, reg.host+"/o/app:tmp-1")
	r := runAction(t, map[string]string{
		"GITLAB_CI": "true", "CI_REGISTRY": reg.host, "CI_API_V4_URL": "https://gitlab.example/api/v4", "CI_PROJECT_ID": "1217",
	},
		"--images", layoutSources(t), "--tags", reg.host+"/o/app:v1", "--insecure-registries", reg.host,
		"--delete-tags", reg.host+"/o/app:tmp-*", "--dotenv", filepath.Join(t.TempDir(), "oci-assemble.env"))
	if r.code != exitOK {
		t.Fatalf("exit code = %d, want 0", r.code)
	}
	if _, ok := reg.digest(t, "o/app:tmp-1"); ok {
		t.Error("o/app:tmp-1 survived the cleanup")
	}
	if strings.Contains(r.stdout+r.stderr, "warning:") || strings.Contains(r.stdout+r.stderr, "WithGitLab") {
		t.Errorf("the run warned:\n%s\n%s", r.stdout, r.stderr)
	}
}
