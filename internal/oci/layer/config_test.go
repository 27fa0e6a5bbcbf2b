package layer

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/oci-assemble/oci-assemble/internal/platform"
)

func TestParseEnvLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "lines", in: "A=1\n\n  # comment\nB = x=y \r\nC=\n", want: []string{"A=1", "B= x=y ", "C="}},
		{name: "duplicates kept in order", in: "A=1\nA=2", want: []string{"A=1", "A=2"}},
		{name: "no equals", in: "A=1\nB\n", wantErr: `env line 2: "B": want KEY=VALUE`},
		{name: "empty key", in: "=x", wantErr: "env line 1: \"=x\": KEY is empty"},
		{name: "space in key", in: "A B=x", wantErr: "env line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEnvLines(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInput) {
					t.Fatalf("ParseEnvLines() error = %v, want ErrInput containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseEnvLines() = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseLabelLines(t *testing.T) {
	t.Parallel()
	got, err := ParseLabelLines("org.opencontainers.image.source=https://example.com/x\na=1\na=2\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"org.opencontainers.image.source": "https://example.com/x", "a": "2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLabelLines() = %v, want %v", got, want)
	}
	if _, err := ParseLabelLines("ok=1\nbad"); err == nil || !strings.Contains(err.Error(), "labels line 2") {
		t.Errorf("ParseLabelLines() error = %v, want one naming labels line 2", err)
	}
}

func TestParseJSONArray(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{name: "unset", in: "  \n", want: nil},
		{name: "clear", in: "[]", want: []string{}},
		{name: "array", in: ` ["/app", "--flag=a b"] `, want: []string{"/app", "--flag=a b"}},
		{name: "shell form", in: "/app --flag", wantErr: true},
		{name: "numbers", in: "[1]", wantErr: true},
		{name: "null", in: "null", wantErr: true},
		{name: "two values", in: `["a"] ["b"]`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseJSONArray("entrypoint", tc.in)
			if tc.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), "entrypoint: want a JSON array") || !errors.Is(err, ErrInput) {
					t.Fatalf("ParseJSONArray() error = %v, want ErrInput naming entrypoint", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseJSONArray() = %#v, %v, want %#v", got, err, tc.want)
			}
		})
	}
}

func TestBuildConfig(t *testing.T) {
	t.Parallel()
	base, err := mutate.Config(empty.Image, v1.Config{
		Env:        []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/root"},
		Entrypoint: []string{"/bin/sh"},
		Cmd:        []string{"-c", "echo base"},
		Labels:     map[string]string{"base": "yes", "over": "base"},
		WorkingDir: "/",
	})
	if err != nil {
		t.Fatal(err)
	}
	base = mutate.MediaType(base, types.OCIManifestSchema1)
	for _, tc := range []struct {
		name    string
		cc      ConfigChanges
		check   func(*testing.T, v1.Config)
		wantErr string
	}{
		{
			name: "env overlay, last wins, base kept",
			cc:   ConfigChanges{Env: []string{"PATH=/app/bin:/usr/bin", "NEW=1", "PATH=/last:/usr/bin"}},
			check: func(t *testing.T, c v1.Config) {
				if want := []string{"PATH=/last:/usr/bin", "LANG=C.UTF-8", "HOME=/root", "NEW=1"}; !reflect.DeepEqual(c.Env, want) {
					t.Errorf("Env = %q, want %q", c.Env, want)
				}
				if !reflect.DeepEqual(c.Cmd, []string{"-c", "echo base"}) {
					t.Errorf("Cmd = %q, want the base's", c.Cmd)
				}
			},
		},
		{
			name: "entrypoint resets the base cmd",
			cc:   ConfigChanges{Entrypoint: []string{"/app"}, EntrypointSet: true},
			check: func(t *testing.T, c v1.Config) {
				if !reflect.DeepEqual(c.Entrypoint, []string{"/app"}) || c.Cmd != nil {
					t.Errorf("Entrypoint, Cmd = %q, %q, want [/app], nil", c.Entrypoint, c.Cmd)
				}
			},
		},
		{
			name: "entrypoint, cmd, workdir, user, labels",
			cc: ConfigChanges{Entrypoint: []string{"/app"}, EntrypointSet: true, Cmd: []string{"serve"}, CmdSet: true,
				Workdir: "/srv/", User: "65532:65532", Labels: map[string]string{"over": "new", "add": "1"}},
			check: func(t *testing.T, c v1.Config) {
				if !reflect.DeepEqual(c.Cmd, []string{"serve"}) || c.WorkingDir != "/srv" || c.User != "65532:65532" {
					t.Errorf("Cmd, WorkingDir, User = %q, %q, %q", c.Cmd, c.WorkingDir, c.User)
				}
				if want := map[string]string{"base": "yes", "over": "new", "add": "1"}; !reflect.DeepEqual(c.Labels, want) {
					t.Errorf("Labels = %v, want %v", c.Labels, want)
				}
			},
		},
		{name: "relative workdir", cc: ConfigChanges{Workdir: "srv"}, wantErr: `workdir "srv" must be an absolute path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img, err := Build(base, amd64, nil, nil, tc.cc, testCreated)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Build() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cf.Config)
			if !cf.Created.Equal(testCreated) {
				t.Errorf("Created = %v, want %v", cf.Created, testCreated)
			}
			bcf, err := base.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if len(bcf.Config.Env) != 3 || bcf.Config.Labels["over"] != "base" {
				t.Errorf("Build() changed the base's config: %+v", bcf.Config)
			}
		})
	}
}

func TestBuildScratchTwoPlatforms(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	for _, tc := range []struct {
		name string
		p    v1.Platform
		c    Compression
	}{
		{name: "amd64 gzip", p: amd64, c: Gzip},
		{name: "arm64 gzip", p: arm64, c: Gzip},
		{name: "amd64 zstd", p: amd64, c: Zstd},
		{name: "arm64 zstd", p: arm64, c: Zstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.p
			bs, hs := buildLayers(t, testSpecs, ws, p, WithCompression(tc.c, 0))
			ls := layersOf(t, bs)
			img, err := Build(empty.Image, p, ls, hs, ConfigChanges{}, testCreated)
			if err != nil {
				t.Fatal(err)
			}
			validateImage(t, img, ls)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != p.OS || cf.Architecture != p.Architecture || cf.Variant != p.Variant {
				t.Errorf("config platform = %s/%s/%s, want %s", cf.OS, cf.Architecture, cf.Variant, platform.String(p))
			}
			if got, want := len(cf.History), 2; got != want {
				t.Fatalf("history entries = %d, want %d", got, want)
			}
			if got, want := cf.History[0].CreatedBy, "oci-assemble: COPY dist/"+strings.ReplaceAll(platform.String(p), "/", "-")+"/app -> /usr/local/bin/app"; !strings.HasPrefix(got, want) {
				t.Errorf("history[0] = %q, want it to start with %q", got, want)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
				t.Errorf("manifest, config media types = %s, %s, want OCI", m.MediaType, m.Config.MediaType)
			}
			for _, l := range m.Layers {
				if l.MediaType != tc.c.MediaType() {
					t.Errorf("layer media type = %s, want %s", l.MediaType, tc.c.MediaType())
				}
			}
		})
	}
}

func TestBuildDockerBase(t *testing.T) {
	t.Parallel()
	base, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if mt, err := base.MediaType(); err != nil || mt != types.DockerManifestSchema2 {
		t.Fatalf("random.Image() media type = %v, %v, want Docker", mt, err)
	}
	ws := t.TempDir()
	makeTree(t, ws)
	bs, hs := buildLayers(t, testSpecs, ws, amd64)
	img, err := Build(base, amd64, layersOf(t, bs), hs, ConfigChanges{Env: []string{"A=1"}}, testCreated)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image() = %v", err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	bm, err := base.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(m.Layers), len(bm.Layers)+2; got != want {
		t.Fatalf("layers = %d, want %d", got, want)
	}
	for i, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %d media type = %s, want %s", i, l.MediaType, types.OCILayer)
		}
		if i < len(bm.Layers) && l.Digest != bm.Layers[i].Digest {
			t.Errorf("base layer %d digest = %s, want %s", i, l.Digest, bm.Layers[i].Digest)
		}
	}
	if m.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type = %s, want OCI", m.MediaType)
	}
}

func TestBuildHistoryCount(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	bs, _ := buildLayers(t, testSpecs, ws, amd64)
	if _, err := Build(empty.Image, amd64, layersOf(t, bs), []v1.History{{}}, ConfigChanges{}, testCreated); err == nil {
		t.Error("Build() with 1 history entry for 2 layers succeeded, want an error")
	}
}

// validateImage checks img with ggcr's validate. validate decompresses only
// gzip, so for zstd the layers are read here first (which also computes
// their digests) and checked against the config's diffIDs, and validate
// checks the rest.
func validateImage(t *testing.T, img v1.Image, ls []v1.Layer) {
	t.Helper()
	var opts []validate.Option
	for _, l := range ls {
		if mt, err := l.MediaType(); err != nil || mt != types.OCILayerZStd {
			continue
		}
		tarball := readLayerTar(t, l)
		diffID, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256Hash(tarball); got != diffID {
			t.Errorf("DiffID() = %s, want sha256 of the zstd-decoded tar %s", diffID, got)
		}
		opts = []validate.Option{validate.Fast}
	}
	if err := validate.Image(img, opts...); err != nil {
		t.Fatalf("validate.Image() = %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		if got := cf.RootFS.DiffIDs[len(cf.RootFS.DiffIDs)-len(ls)+i]; got != d {
			t.Errorf("config diffID %d = %s, want %s", i, got, d)
		}
	}
}
