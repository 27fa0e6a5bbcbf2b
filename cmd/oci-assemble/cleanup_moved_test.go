package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestDeleteSourceTagsKeepsAMovedTag: delete-source-tags deletes a
// source's tag only while it points at the digest this run read. Another
// run that pushes the same temp tag while this one publishes keeps its
// input, and the kept tag is a warning saying why.
func TestDeleteSourceTagsKeepsAMovedTag(t *testing.T) {
	t.Parallel()
	other := platformImage(t, v1.Platform{OS: "linux", Architecture: "arm64"})
	moved, err := other.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var (
		host   atomic.Value
		pushed atomic.Bool
	)
	reg := newRegistry(t, func(r *http.Request) bool {
		// The other run pushes tmp-arm64 while this one puts its index.
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/v1") && !pushed.Swap(true) {
			pushImage(t, host.Load().(string)+"/o/app:tmp-arm64", other)
		}
		return false
	})
	host.Store(reg.host)
	pushImage(t, reg.host+"/o/app:tmp-amd64", platformImage(t, v1.Platform{OS: "linux", Architecture: "amd64"}))
	pushImage(t, reg.host+"/o/app:tmp-arm64", platformImage(t, v1.Platform{OS: "linux", Architecture: "arm64"}))

	r := runAction(t, nil,
		"--images", reg.host+"/o/app:tmp-amd64,"+reg.host+"/o/app:tmp-arm64", "--tags", reg.host+"/o/app:v1",
		"--insecure-registries", reg.host, "--delete-source-tags", "true",
		"--dotenv", filepath.Join(t.TempDir(), "oci-assemble.env"))

	if r.code != exitOK {
		t.Fatalf("exit code = %d, want 0", r.code)
	}
	if _, ok := reg.digest(t, "o/app:tmp-amd64"); ok {
		t.Error("o/app:tmp-amd64 survived the cleanup")
	}
	if got, ok := reg.digest(t, "o/app:tmp-arm64"); !ok || got != moved {
		t.Errorf("o/app:tmp-arm64 = %v (present %v), want the other run's %v", got, ok, moved)
	}
	if !strings.Contains(r.stderr, "tmp-arm64 kept: ") || !strings.Contains(r.stderr, "another run pushed it") {
		t.Errorf("stderr lacks the kept tag's warning:\n%s", r.stderr)
	}
}

// pushImage writes img under ref with ggcr, not through the code under
// test; it may run on a registry handler's goroutine, so it never calls
// t.Fatal.
func pushImage(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref, name.Insecure)
	if err == nil {
		err = remote.Write(tag, img)
	}
	if err != nil {
		t.Errorf("pushing %s: %v", ref, err)
	}
}
