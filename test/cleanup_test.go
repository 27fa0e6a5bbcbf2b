package test

import (
	"slices"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestCleanupDeletesTempTags publishes from two temp tags, deletes them
// (delete-source-tags) and a glob of scratch tags (delete-tags), on
// distribution 2.8, which refuses the tag DELETE (tombstone path), and on
// v3, which accepts it. The temp tags are gone; the index and every
// child, config and layer still read back.
func TestCleanupDeletesTempTags(t *testing.T) {
	t.Parallel()
	for _, v := range []registrytest.Version{registrytest.V2, registrytest.V3} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, registrytest.WithVersion(v))
			push(t, reg.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
			push(t, reg.Host+"/o/app:tmp-arm64", platformImage(t, arm64))
			push(t, reg.Host+"/o/app:scratch-1", platformImage(t, amd64))
			push(t, reg.Host+"/o/app:scratch-2", platformImage(t, arm64))
			res := runAction(t, map[string]string{
				"images":              reg.Host + "/o/app:tmp-amd64\n" + reg.Host + "/o/app:tmp-arm64",
				"tags":                reg.Host + "/o/app:1.0\n" + reg.Host + "/o/app:latest",
				"delete-source-tags":  "true",
				"delete-tags":         reg.Host + "/o/app:scratch-*",
				"insecure-registries": reg.Host,
			})
			if res.code != 0 {
				t.Fatalf("exit %d\n%s", res.code, res.stdout)
			}
			checkCleanedUp(t, reg, res, []string{reg.Host + "/o/app:scratch-1", reg.Host + "/o/app:scratch-2", reg.Host + "/o/app:tmp-amd64", reg.Host + "/o/app:tmp-arm64"})
			if !strings.Contains(res.summary, "deleted") {
				t.Errorf("step summary does not list the deleted tags:\n%s", res.summary)
			}
		})
	}
}

// TestCleanupNeverDeletesWhatItPublished: a glob that also matches a tag
// this run published keeps that tag, with a warning, and the run still
// succeeds.
func TestCleanupNeverDeletesWhatItPublished(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	push(t, reg.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
	res := runAction(t, map[string]string{
		"images":              reg.Host + "/o/app:tmp-amd64",
		"tags":                reg.Host + "/o/app:tmp-release",
		"delete-tags":         reg.Host + "/o/app:tmp-*",
		"insecure-registries": reg.Host,
	})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if got := reg.Tags(t, "o/app"); !slices.Equal(got, []string{"tmp-release"}) {
		t.Errorf("tags = %v, want [tmp-release]", got)
	}
	if !strings.Contains(res.outputs["kept-tags"], reg.Host+"/o/app:tmp-release kept: this run published it") {
		t.Errorf("kept-tags = %q", res.outputs["kept-tags"])
	}
	if n := strings.Count(res.stdout, "::warning::"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, res.stdout)
	}
	readIndex(t, reg, "o/app", "tmp-release")
}

// TestCleanupDryRun lists what would be deleted and deletes nothing.
func TestCleanupDryRun(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	push(t, reg.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
	push(t, reg.Host+"/o/app:tmp-arm64", platformImage(t, arm64))
	res := runAction(t, map[string]string{
		"images":              reg.Host + "/o/app:tmp-amd64," + reg.Host + "/o/app:tmp-arm64",
		"tags":                reg.Host + "/o/app:1",
		"push":                "false",
		"delete-source-tags":  "true",
		"insecure-registries": reg.Host,
	})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if n := strings.Count(res.stdout, "dry run: would delete"); n != 2 {
		t.Errorf("%d would-delete lines, want 2:\n%s", n, res.stdout)
	}
	if got := reg.Tags(t, "o/app"); !slices.Equal(got, []string{"tmp-amd64", "tmp-arm64"}) {
		t.Errorf("tags = %v, want both temp tags untouched", got)
	}
}

// checkCleanedUp checks a run that published o/app:1.0 and :latest from
// temp tags and deleted them: no warning, only the published tags left,
// exactly wantDeleted reported deleted and nothing kept, and both tags
// read back whole (children, configs and layers).
func checkCleanedUp(t *testing.T, reg *registrytest.Registry, res result, wantDeleted []string) {
	t.Helper()
	if strings.Contains(res.stdout, "::warning") {
		t.Errorf("warnings:\n%s", res.stdout)
	}
	got := reg.Tags(t, "o/app")
	slices.Sort(got) // distribution 2.8 lists in storage order
	if want := []string{"1.0", "latest"}; !slices.Equal(got, want) {
		t.Errorf("tags = %v, want %v", got, want)
	}
	deleted := strings.Split(res.outputs["deleted-tags"], "\n")
	slices.Sort(deleted)
	if !slices.Equal(deleted, wantDeleted) {
		t.Errorf("deleted-tags = %q, want %q", deleted, wantDeleted)
	}
	if res.outputs["kept-tags"] != "" {
		t.Errorf("kept-tags = %q", res.outputs["kept-tags"])
	}
	for _, tag := range []string{"1.0", "latest"} {
		idx, _ := readIndex(t, reg, "o/app", tag)
		if len(idx.Manifests) != 2 {
			t.Errorf("%s has %d manifests", tag, len(idx.Manifests))
		}
	}
}
