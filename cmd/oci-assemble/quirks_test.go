package main

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestQuirkLines: a public registry's refusal that has no way round ends
// the job with one line naming the registry and what to do, and moves no
// tag. The registry is a real one behind a proxy answering as the named
// registry is documented to (see package registrytest).
func TestQuirkLines(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		quirk registrytest.Quirk
		args  []string
		// existing: o/app:v1 points at another image before the run.
		existing bool
		want     []string
	}{{
		name:  "artifact registry refuses the oci index",
		quirk: registrytest.OCIIndexRefused(),
		want:  []string{"does not accept this OCI image index", "set media-type: docker"},
	}, {
		name:  "oci index refused, annotations asked for",
		quirk: registrytest.OCIIndexRefused(),
		args:  []string{"--annotations", "index:org.opencontainers.image.title=app"},
		want:  []string{"does not accept this OCI image index", "cannot carry the annotations input"},
	}, {
		name:  "access denied",
		quirk: registrytest.PushDenied(),
		args:  []string{"--registry-auth", "- registry: HOST\n  username: u\n  password: pw-quirk-lines-3"},
		want:  []string{"denied the credential from registry-auth input access to repository"},
	}, {
		name:     "ecr immutable tag",
		quirk:    registrytest.ImmutableTags(),
		existing: true,
		want:     []string{"tags are immutable", "publish under a new tag", "no tag was moved"},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t)
			proxy := registrytest.StartQuirkProxy(t, reg, tt.quirk)
			if tt.existing {
				ref, err := name.ParseReference(reg.Host+"/o/app:v1", name.Insecure)
				if err != nil {
					t.Fatal(err)
				}
				img, err := random.Image(64, 1)
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.Write(ref, img, remote.WithAuth(authn.Anonymous)); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"--images", layoutSources(t), "--tags", proxy.Host + "/o/app:v1", "--insecure-registries", proxy.Host}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "HOST", proxy.Host))
			}
			r := runAction(t, map[string]string{}, args...)
			if r.code != exitFailed {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", r.code, exitFailed, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], proxy.Host) {
				t.Fatalf("stderr = %q, want one error line naming the registry", r.stderr)
			}
			t.Log(lines[0])
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("error line lacks %q:\n%s", w, lines[0])
				}
			}
			m, status := reg.TryManifest(t, "o/app", "v1")
			if moved := status == 200 && !tt.existing || tt.existing && strings.Contains(string(m.Body), "manifests"); moved {
				t.Error("o/app:v1 moved")
			}
		})
	}
}
