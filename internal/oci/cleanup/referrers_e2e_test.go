package cleanup

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// orasRun runs oras (an independent referrers client; .ci/run installs
// it); missing, the test is skipped locally and fails under CI.
func orasRun(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("oras")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "oras")
		if _, err := os.Stat(bin); err != nil {
			registrytest.MissingTool(t, "oras not found; .ci/run installs it")
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := os.WriteFile(filepath.Join(dir, "sbom.json"), []byte(`{"sbom":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("oras %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestCleanupKeepsReferrers: on distribution 2.8 (no referrers API, tag
// DELETE refused) a temp tag whose image has an SBOM in the fallback tag
// is deleted through a tombstone; the fallback tag is untouched and oras
// still finds the SBOM. delete-tags never reaches a referrers tag, by
// glob or by name.
func TestCleanupKeepsReferrers(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	const repo = "o/app"
	p := publish(t, reg.Host, repo)
	subject := p.children[0]
	sbom := strings.TrimSpace(orasRun(t, "attach", "--plain-http", "--artifact-type", "application/vnd.example.sbom.v1+json",
		"--format", "go-template", "--template", "{{.digest}}", reg.Host+"/"+repo+"@"+subject.String(), "sbom.json"))
	fallback := "sha256-" + subject.Hex
	before := reg.GetManifest(t, repo, fallback)

	d, err := New(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tags, kept, err := d.Expand(ctx, []string{reg.Host + "/" + repo + ":tmp-*", reg.Host + "/" + repo + ":sha256-*", reg.Host + "/" + repo + ":" + fallback})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tagStrings(tags), tagStrings(p.tmpTags); !slices.Equal(got, want) {
		t.Errorf("Expand = %v, want only the temp tags %v", got, want)
	}
	if len(kept) != 1 || !strings.Contains(kept[0].Reason, "referrers tag") {
		t.Errorf("Kept = %v, want the named fallback tag kept", kept)
	}
	protected := p.protected()
	res := d.Delete(ctx, tags, protected)
	if len(res.Kept) != 0 || len(res.Deleted) != len(p.tmpTags) {
		t.Fatalf("Delete: deleted %v, kept %v", res.Deleted, res.Kept)
	}
	after := reg.GetManifest(t, repo, fallback)
	if after.Digest != before.Digest {
		t.Errorf("fallback tag %s moved from %s to %s", fallback, before.Digest, after.Digest)
	}
	if got, want := reg.Tags(t, repo), []string{"latest", fallback}; !slices.Equal(got, want) {
		t.Errorf("tags after cleanup = %v, want %v", got, want)
	}
	out := orasRun(t, "discover", "--plain-http", "--format", "json", reg.Host+"/"+repo+"@"+subject.String())
	if !strings.Contains(out, sbom) {
		t.Errorf("oras discover after cleanup does not list the SBOM %s:\n%s", sbom, out)
	}
}
