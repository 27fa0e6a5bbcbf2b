package layer

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParseSpecs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    []Spec
		wantErr string // substring; empty means success
	}{
		{name: "empty", in: "", want: nil},
		{name: "null", in: "~\n", want: nil},
		{
			name: "two layers",
			in:   testSpecs + "  platforms: [linux/amd64, linux/arm64/v8]\n",
			want: []Spec{
				{Files: []File{
					{Src: "dist/{platform}/app", Dest: "/usr/local/bin/app"},
					{Src: "bin/suid", Dest: "/usr/local/bin/"},
					{Src: "bin/applink", Dest: "/usr/local/bin/applink"},
				}, pos: 1},
				{Files: []File{{Src: "static/", Dest: "/srv/static/"}}, Platforms: []v1.Platform{
					{OS: "linux", Architecture: "amd64"},
					{OS: "linux", Architecture: "arm64", Variant: "v8"},
				}, pos: 2},
			},
		},
		{name: "malformed yaml", in: "- files: [a:/b\n", wantErr: "layers: yaml:"},
		{name: "not a list", in: "files: [a:/b]\n", wantErr: "want a YAML list"},
		{name: "item not a mapping", in: "- a:/b\n", wantErr: "layers[0]: want a mapping"},
		{name: "unknown key", in: "- files: [a:/b]\n  platform: [linux/amd64]\n", wantErr: `layers[0]: unknown key "platform"`},
		{name: "duplicate key", in: "- files: [a:/b]\n  files: [c:/d]\n", wantErr: `duplicate key "files"`},
		{name: "no files", in: "- platforms: [linux/amd64]\n", wantErr: "layers[0]: files is missing or empty"},
		{name: "files not a list", in: "- files: a:/b\n", wantErr: "layers[0].files: want a list"},
		{name: "file not a string", in: "- files: [{a: b}]\n", wantErr: "layers[0].files[0]: want a string"},
		{name: "no colon", in: "- files: [a]\n", wantErr: `layers[0].files[0]: "a": want SRC:DEST`},
		{name: "empty src", in: "- files: [':/b']\n", wantErr: "SRC is empty"},
		{name: "relative dest", in: "- files: [a:/b, 'c:d/e']\n", wantErr: `layers[0].files[1]: "c:d/e": DEST "d/e" must be an absolute path`},
		{name: "dotdot dest", in: "- files: [a:/b]\n- files: ['a:/b/../../etc']\n", wantErr: `layers[1].files[0]: "a:/b/../../etc": DEST "/b/../../etc" must not contain ..`},
		{name: "unknown placeholder", in: "- files: ['dist/{archh}/app:/app']\n", wantErr: "unknown placeholder {archh}"},
		{name: "placeholder in dest", in: "- files: ['a:/opt/{arch}/app']\n", wantErr: "placeholders are expanded only in SRC"},
		{name: "bad platform", in: "- files: [a:/b]\n  platforms: [linux]\n", wantErr: "layers[0].platforms[0]"},
		{name: "platform with os.version", in: "- files: [a:/b]\n  platforms: [linux/amd64, 'windows/amd64:10.0.17763']\n", wantErr: `layers[0].platforms[1]: platform "windows/amd64:10.0.17763" is not os/arch[/variant]`},
		{name: "platform with empty variant", in: "- files: [a:/b]\n  platforms: [linux/amd64/]\n", wantErr: `layers[0].platforms[0]: platform "linux/amd64/" is not os/arch[/variant]`},
		{name: "alias", in: "- files: &f [a:/b]\n- files: *f\n", wantErr: "layers[1].files: want a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSpecs(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseSpecs() error = %v, want one containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrInput) {
					t.Errorf("ParseSpecs() error %v is not ErrInput", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpecs() = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseSpecs() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	if err := os.Mkdir(filepath.Join(ws, "sock"), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(ws, "sock", "s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) //nolint:errcheck // test cleanup
	specs, err := ParseSpecs(`
- files: ['dist/{os}-{arch}{variant}/app:/app']
- files: [static/:/srv/]
  platforms: [linux/arm64]
- files: [dist/linux-amd64/app:/opt/, static:/srv/, static/:/]
- files: [sock/:/x/]
- files: [sock/s:/x]
- files: ['dist/{platform}/app:/app']
- files: [dist/:/a/, static/index.html:/a/linux-amd64]
- files: [static/index.html:/srv/page, static/:/srv/page/]
- files: [static/index.html:/]
- files: [static/index.html/:/x/]
`)
	if err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string { return filepath.Join(ws, p) }
	for _, tc := range []struct {
		name     string
		spec     int
		p        v1.Platform
		want     []File
		filtered bool
		wantErr  string
		notExist bool
	}{
		{name: "arch placeholder", spec: 0, p: v1.Platform{OS: "linux", Architecture: "amd64"},
			want: []File{{Src: abs("dist/linux-amd64/app"), Dest: "/app"}}},
		{name: "missing src names the expansion", spec: 0, p: arm64, notExist: true,
			wantErr: `layers[0].files[0]: SRC "dist/linux-arm64v8/app" (from "dist/{os}-{arch}{variant}/app" for linux/arm64/v8) does not exist`},
		{name: "platform filter excludes", spec: 1, p: amd64, filtered: true},
		{name: "platform filter without variant matches v8", spec: 1, p: arm64,
			want: []File{{Src: abs("static") + "/", Dest: "/srv"}}},
		{name: "platform filter matches arm64 without variant", spec: 1, p: v1.Platform{OS: "linux", Architecture: "arm64"},
			want: []File{{Src: abs("static") + "/", Dest: "/srv"}}},
		{name: "trailing slash dest takes the base name", spec: 2, p: amd64, want: []File{
			{Src: abs("dist/linux-amd64/app"), Dest: "/opt/app"},
			{Src: abs("static"), Dest: "/srv/static"},
			{Src: abs("static") + "/", Dest: "/"},
		}},
		{name: "socket inside a directory", spec: 3, p: amd64, wantErr: "is a socket"},
		{name: "socket as src", spec: 4, p: amd64, wantErr: "is a socket"},
		{name: "platform placeholder with variant", spec: 5, p: arm64,
			want: []File{{Src: abs("dist/linux-arm64-v8/app"), Dest: "/app"}}},
		{name: "directory and file at one path", spec: 6, p: amd64, wantErr: "is written twice"},
		{name: "path below a file", spec: 7, p: amd64, wantErr: "needs /srv/page to be a directory"},
		{name: "file to root takes the base name", spec: 8, p: amd64,
			want: []File{{Src: abs("static/index.html"), Dest: "/index.html"}}},
		{name: "contents of a file", spec: 9, p: amd64, wantErr: "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, ok, err := Expand(specs[tc.spec], tc.p, ws)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Expand() error = %v, want one containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrInput) {
					t.Errorf("Expand() error %v is not ErrInput", err)
				}
				if tc.notExist && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Expand() error %v is not fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Expand() = %v", err)
			}
			if ok == tc.filtered {
				t.Fatalf("Expand() selected = %v, want %v", ok, !tc.filtered)
			}
			if !reflect.DeepEqual(r.Files, tc.want) {
				t.Errorf("Expand().Files = %+v, want %+v", r.Files, tc.want)
			}
		})
	}
}

func TestExpandRelativeWorkspace(t *testing.T) {
	t.Parallel()
	if _, _, err := Expand(Spec{Files: []File{{Src: "a", Dest: "/a"}}}, amd64, "rel"); err == nil {
		t.Error("Expand() with a relative workspace succeeded, want an error")
	}
}

func TestKeyAndHistory(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	makeTree(t, ws)
	specs, err := ParseSpecs(`
- files: ['dist/{platform}/app:/usr/local/bin/app', static/:/srv/]
- files: ['static/:/srv/']
`)
	if err != nil {
		t.Fatal(err)
	}
	expand := func(s Spec, p v1.Platform) Resolved {
		t.Helper()
		r, _, err := Expand(s, p, ws)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	shared := Spec{Files: specs[1].Files}
	if a, b := expand(specs[1], amd64).Key(), expand(shared, arm64).Key(); a != b {
		t.Errorf("Key() differs for the same files on two platforms: %s, %s", a, b)
	}
	if a, b := expand(specs[0], amd64).Key(), expand(specs[0], arm64).Key(); a == b {
		t.Errorf("Key() is equal for different apps: %s", a)
	}
	r := expand(specs[0], amd64)
	if got, want := r.CreatedBy(), "oci-assemble: COPY dist/linux-amd64/app -> /usr/local/bin/app, static/ -> /srv"; got != want {
		t.Errorf("CreatedBy() = %q, want %q", got, want)
	}
	if strings.Contains(r.History(testCreated).CreatedBy, ws) {
		t.Errorf("history names the machine's workspace path %s", ws)
	}
	// Builder.Key adds the options that change the bytes.
	bk := func(opts ...Option) string {
		b, err := NewBuilder(r, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return b.Key()
	}
	if bk(WithCompression(Gzip, 0)) == bk(WithCompression(Zstd, 0)) {
		t.Error("Builder.Key() ignores compression")
	}
	if bk() != bk(WithCompression(Gzip, DefaultLevel(Gzip))) {
		t.Error("Builder.Key() differs for the default gzip level and its number")
	}
	if bk() == bk(WithCompression(Gzip, 6)) {
		t.Error("Builder.Key() ignores the level")
	}
}
