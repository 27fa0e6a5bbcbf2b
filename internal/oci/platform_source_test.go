package oci

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// imageOf is a random image whose config carries platform p as it is,
// without the checks a typed platform gets.
func imageOf(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	img := randomImageOf(t, "amd64", 64, 1)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion, cf.OSFeatures = p.OS, p.Architecture, p.Variant, p.OSVersion, p.OSFeatures
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// indexOf is an index of img described by platform desc.
func indexOf(img v1.Image, desc *v1.Platform) v1.ImageIndex {
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: desc}})
}

func layoutOf(t *testing.T, img v1.Image) plan.Ref {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	// AppendImage would give the descriptor an artifactType (the config's
	// media type), which marks a referrer.
	if err := p.WriteImage(img); err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	size, err := img.Size()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendDescriptor(v1.Descriptor{MediaType: mt, Size: size, Digest: d}); err != nil {
		t.Fatal(err)
	}
	return targets(t, "oci:"+dir)[0]
}

func archiveOf(t *testing.T, img v1.Image) plan.Ref {
	t.Helper()
	tag, err := name.NewTag("example.com/base:1")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "base.tar")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return targets(t, "docker-archive:"+p)[0]
}

func pushedIndex(t *testing.T, host, tag string, idx v1.ImageIndex) plan.Ref {
	t.Helper()
	ref, err := name.ParseReference(host + "/src:" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	return targets(t, ref.String())[0]
}

// climbWorkspace makes root/ws, the workspace, with dist/linux-amd64/app,
// and root/outside beside it, holding a secret a variant of
// "x/../../../outside" in dist/{platform}/ would reach.
func climbWorkspace(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	ws, outside := filepath.Join(root, "ws"), filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(ws, "dist/linux-amd64"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "config"), []byte("token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "dist/linux-amd64/app"), []byte("app\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestPlatformFromSourceIsChecked: a platform read from a source (an
// image config, an index descriptor, a layout, a docker-archive) is held
// to the rules of a typed one before it fills a layer's SRC, a log line
// or an output. A base whose variant climbs out of the workspace must not
// copy the directory beside it into the image; real platforms (BuildKit's
// unknown/unknown attestations, Windows os.version and os.features) pass.
func TestPlatformFromSourceIsChecked(t *testing.T) {
	t.Parallel()
	ws := climbWorkspace(t)
	specs, err := layer.ParseSpecs("- files: ['dist/{platform}/:/app/']\n")
	if err != nil {
		t.Fatal(err)
	}
	reg := newRecorder(t)
	a, err := newAssembler(client.WithInsecureRegistries([]string{reg.host}))
	if err != nil {
		t.Fatal(err)
	}
	climbs := v1.Platform{OS: "linux", Architecture: "amd64", Variant: "x/../../../outside"}
	command := v1.Platform{OS: "linux\n::error::from the image", Architecture: "amd64"}
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	windows := v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234", OSFeatures: []string{"win32k"}}
	subject := imageOf(t, amd64)
	attested := mutate.AppendManifests(indexOf(subject, &amd64), mutate.IndexAddendum{
		Add: imageOf(t, v1.Platform{}),
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}, Annotations: map[string]string{
			source.RefTypeAnnotation: source.AttestationManifest, source.RefDigestAnnotation: digestOf(t, subject),
		}},
	})
	tests := []struct {
		name   string
		base   plan.Ref // layer mode on this base
		source plan.Ref // or a join of this source
		bad    string   // the value an error must name, quoted; "" when it passes
	}{
		{name: "layout config variant climbs", base: layoutOf(t, imageOf(t, climbs)), bad: climbs.Variant},
		{name: "registry config variant climbs", base: pushedIndex(t, reg.host, "climbs", indexOf(imageOf(t, climbs), nil)), bad: climbs.Variant},
		{name: "descriptor variant climbs", base: pushedIndex(t, reg.host, "desc", indexOf(imageOf(t, v1.Platform{}), &climbs)), bad: climbs.Variant},
		{name: "descriptor beside a good config", base: pushedIndex(t, reg.host, "beside", indexOf(imageOf(t, amd64), &climbs)), bad: climbs.Variant},
		{name: "docker-archive config variant climbs", base: archiveOf(t, imageOf(t, climbs)), bad: climbs.Variant},
		{name: "workflow command in the os of a source", source: pushedIndex(t, reg.host, "command", indexOf(imageOf(t, command), nil)), bad: command.OS},
		{name: "layout os.feature with a slash", source: layoutOf(t, imageOf(t, v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"../x"}})), bad: "../x"},
		{name: "plain base", base: layoutOf(t, imageOf(t, amd64))},
		{name: "BuildKit attestation unknown/unknown", source: pushedIndex(t, reg.host, "attested", attested)},
		{name: "windows os.version and os.features", source: pushedIndex(t, reg.host, "windows", indexOf(imageOf(t, windows), &windows))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Plan{Sources: []plan.Ref{tt.source}}
			if tt.source == (plan.Ref{}) {
				p = Plan{Build: &plan.Build{Base: tt.base, Layers: specs, Compression: layer.Gzip, Workspace: ws}}
			}
			as, err := a.Assemble(context.Background(), p)
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("Assemble() = %v, want no error", err)
				}
				return
			}
			if !errors.Is(err, plan.ErrSource) || !errors.Is(err, platform.ErrInvalid) {
				var got []assembly.Manifest
				if as != nil {
					got = as.Manifests
				}
				t.Fatalf("Assemble() = %+v, %v; want an error matching ErrSource and platform.ErrInvalid", got, err)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, strconv.Quote(tt.bad)) {
				t.Errorf("Assemble() error = %q, want one line that quotes %q", msg, tt.bad)
			}
		})
	}
}
