package inputs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hexOf is a 64-digit lowercase hex name made of c.
func hexOf(c string) string { return strings.Repeat(c, 64) }

// digestsFolder makes dir/name and writes an empty file per entry of
// files, as Docker's recipe leaves the downloaded digests; a name ending
// in / is made a folder.
func digestsFolder(t *testing.T, dir, name string, files ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var err error
		if d, ok := strings.CutSuffix(f, "/"); ok {
			err = os.Mkdir(filepath.Join(p, d), 0o755)
		} else {
			err = os.WriteFile(filepath.Join(p, f), nil, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestParseDigests(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	two := digestsFolder(t, ws, "digests", hexOf("b"), hexOf("a"))
	vars := map[string]string{"GITHUB_WORKSPACE": ws, "GITHUB_ACTIONS": "true"}
	tests := []struct {
		name string
		raw  Raw
		want []string
	}{{
		name: "the recipe's folder, sorted as the shell sorts *",
		raw:  Raw{"digests": "ghcr.io/o/app=" + two},
		want: []string{"ghcr.io/o/app@sha256:" + hexOf("a"), "ghcr.io/o/app@sha256:" + hexOf("b")},
	}, {
		name: "after images, spaces trimmed",
		raw:  Raw{"images": "ghcr.io/o/app:tmp-s390x", "digests": " ghcr.io/o/app = " + two + " "},
		want: []string{"ghcr.io/o/app:tmp-s390x", "ghcr.io/o/app@sha256:" + hexOf("a"), "ghcr.io/o/app@sha256:" + hexOf("b")},
	}, {
		name: "two repositories",
		raw:  Raw{"digests": "ghcr.io/o/app=" + two + "\ndocker.io/o/app=" + two},
		want: []string{
			"ghcr.io/o/app@sha256:" + hexOf("a"), "ghcr.io/o/app@sha256:" + hexOf("b"),
			"docker.io/o/app@sha256:" + hexOf("a"), "docker.io/o/app@sha256:" + hexOf("b"),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.raw["push"] = "false"
			s, err := Parse(tt.raw, env(vars))
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			var got []string
			for _, r := range s.Images {
				got = append(got, r.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Images = %q, want %q", got, tt.want)
			}
			var fromFolder []string
			for _, f := range s.DigestFiles {
				if f.Folder != two {
					t.Errorf("DigestFile %s: Folder = %q, want %q", f.Ref, f.Folder, two)
				}
				fromFolder = append(fromFolder, f.Ref.String())
			}
			if got, want := len(fromFolder), len(tt.want)-len(splitList(tt.raw["images"])); got != want || !slices.Equal(fromFolder, tt.want[len(tt.want)-got:]) {
				t.Errorf("DigestFiles = %q, want the last %d of %q", fromFolder, want, tt.want)
			}
		})
	}
}

func TestParseDigestsInsecureRegistry(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	dir := digestsFolder(t, ws, "digests", hexOf("c"))
	s, err := Parse(Raw{"digests": "reg.example:5000/o/app=" + dir, "insecure-registries": "reg.example:5000", "push": "false"}, env(map[string]string{"GITHUB_WORKSPACE": ws}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(s.Images), 1; got != want {
		t.Fatalf("len(Images) = %d, want %d", got, want)
	}
	if got, want := s.Images[0].Repo.Scheme(), "http"; got != want {
		t.Errorf("scheme = %q, want %q", got, want)
	}
	if got, want := s.Images[0].Digest, "sha256:"+hexOf("c"); got != want {
		t.Errorf("Digest = %q, want %q", got, want)
	}
}

// TestParseDigestsErrors covers what goes wrong between Docker's upload
// and download steps; each is one line naming the digests input.
func TestParseDigestsErrors(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	outside := t.TempDir() // stands for ${{ runner.temp }}
	empty := digestsFolder(t, ws, "empty")
	stray := digestsFolder(t, ws, "stray", hexOf("a"), ".DS_Store", "sha256:"+hexOf("b"), strings.ToUpper(hexOf("c")), hexOf("d")+".txt")
	hostile := digestsFolder(t, ws, "hostile", hexOf("a"), "x\n::error::forged\r\x1b[31m")
	unmerged := digestsFolder(t, ws, "unmerged", "digests-linux-amd64/", "digests-linux-arm64/")
	var many []string
	for i := range maxDigestFiles + 1 {
		many = append(many, fmt.Sprintf("%064x", i))
	}
	tooMany := digestsFolder(t, ws, "many", many...)
	file := filepath.Join(ws, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	gh := map[string]string{"GITHUB_WORKSPACE": ws, "GITHUB_ACTIONS": "true"}
	cli := map[string]string{"GITHUB_WORKSPACE": ws}
	tests := []struct {
		name string
		raw  Raw
		vars map[string]string
		want string
	}{
		{name: "empty folder", raw: Raw{"digests": "ghcr.io/o/app=" + empty}, vars: gh,
			want: fmt.Sprintf("folder %q holds no digest files", empty)},
		{name: "stray files, each quoted", raw: Raw{"digests": "ghcr.io/o/app=" + stray}, vars: gh,
			want: fmt.Sprintf("folder %q holds %q, %q, %q, %q, not a file named by a sha256 digest's 64 lowercase hex digits", stray, ".DS_Store", strings.ToUpper(hexOf("c")), hexOf("d")+".txt", "sha256:"+hexOf("b"))},
		{name: "hostile name", raw: Raw{"digests": "ghcr.io/o/app=" + hostile}, vars: gh,
			want: `holds "x\n::error::forged\r\x1b[31m", not a file`},
		{name: "a folder per artifact", raw: Raw{"digests": "ghcr.io/o/app=" + unmerged}, vars: gh,
			want: `holds "digests-linux-amd64/", "digests-linux-arm64/", not a file named by a sha256 digest's 64 lowercase hex digits; the folder must hold only the digest files (a folder per artifact: set merge-multiple: true on actions/download-artifact)`},
		{name: "too many files", raw: Raw{"digests": "ghcr.io/o/app=" + tooMany}, vars: gh,
			want: fmt.Sprintf("folder %q holds more than %d files", tooMany, maxDigestFiles)},
		{name: "missing folder in the workspace", raw: Raw{"digests": "ghcr.io/o/app=" + filepath.Join(ws, "nope")}, vars: gh,
			want: fmt.Sprintf("folder %q not found; download the build jobs' digests into it first (actions/download-artifact with pattern: digests-*, merge-multiple: true and path: %q)", filepath.Join(ws, "nope"), filepath.Join(ws, "nope"))},
		{name: "runner.temp, outside the action's container", raw: Raw{"digests": "ghcr.io/o/app=" + filepath.Join(outside, "digests")}, vars: gh,
			want: fmt.Sprintf("folder %q is outside the workspace %q, the only folder of the runner the action's container sees; download the artifacts under the workspace (actions/download-artifact path: digests) and give that relative path", filepath.Join(outside, "digests"), ws)},
		{name: "missing folder outside GitHub", raw: Raw{"digests": "ghcr.io/o/app=" + filepath.Join(outside, "digests")}, vars: cli,
			want: fmt.Sprintf("folder %q not found; check the path", filepath.Join(outside, "digests"))},
		{name: "a file, not a folder", raw: Raw{"digests": "ghcr.io/o/app=" + file}, vars: gh,
			want: fmt.Sprintf("%q is not a folder", file)},
		{name: "no equals sign", raw: Raw{"digests": empty}, vars: gh,
			want: fmt.Sprintf("%q is not REPOSITORY=FOLDER", empty)},
		{name: "a tag, not a repository", raw: Raw{"digests": "ghcr.io/o/app:latest=digests"}, vars: gh,
			want: `"ghcr.io/o/app:latest" is not a repository`},
		{name: "a layout, not a repository", raw: Raw{"digests": "oci:x=digests"}, vars: gh,
			want: `"oci:x" is not a repository`},
		{name: "with base", raw: Raw{"digests": "ghcr.io/o/app=" + empty, "base": "scratch", "platforms": "linux/amd64"}, vars: gh,
			want: "joins the images the build jobs pushed; remove it or base (layer mode)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.raw["push"] = "false"
			_, err := Parse(tt.raw, env(tt.vars))
			var ie *Error
			if !errors.As(err, &ie) || ie.Input != "digests" {
				t.Fatalf("Parse() = %v, want an error naming digests", err)
			}
			if got := len(err.(interface{ Unwrap() []error }).Unwrap()); got != 1 {
				t.Errorf("Parse() gave %d errors, want 1: %v", got, err)
			}
			if !strings.Contains(ie.Msg, tt.want) {
				t.Errorf("message = %s\nwant containing %s", ie.Msg, tt.want)
			}
			if strings.ContainsAny(ie.Error(), "\n\r\x1b") {
				t.Errorf("message is not one inert line: %q", ie.Error())
			}
		})
	}
}

// TestParseDigestsRelativeToWorkingDirectory: in a docker action the
// working directory is the workspace, and `path: digests` of
// actions/download-artifact is the relative folder the input names.
func TestParseDigestsRelativeToWorkingDirectory(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(Raw{"digests": "ghcr.io/o/app=testdata-absent", "push": "false"}, env(map[string]string{"GITHUB_WORKSPACE": wd, "GITHUB_ACTIONS": "true"}))
	var ie *Error
	if !errors.As(err, &ie) || !strings.Contains(ie.Msg, `folder "testdata-absent" not found; download`) {
		t.Errorf("Parse() = %v, want the relative folder found missing in the workspace", err)
	}
}

// FuzzDigestsFolder puts one file of any name into a digests folder, as an
// artifact can: only a 64-digit lowercase hex name is joined, any other
// is refused on one line that quotes it.
func FuzzDigestsFolder(f *testing.F) {
	for _, s := range []string{hexOf("a"), strings.ToUpper(hexOf("a")), "sha256:" + hexOf("a"), hexOf("a") + "\n", ".DS_Store", "x\r\n::error::y", "%0A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 255 {
			return // not a file name
		}
		ws := t.TempDir()
		if err := os.WriteFile(filepath.Join(ws, name), nil, 0o644); err != nil {
			return
		}
		s, err := Parse(Raw{"digests": "reg.example/o/app=" + ws, "push": "false"}, env(map[string]string{"GITHUB_WORKSPACE": ws}))
		if isHexDigest(name) {
			if err != nil || len(s.Images) != 1 || s.Images[0].Digest != "sha256:"+name {
				t.Fatalf("Parse() = %v, %v; want the image of digest %s", s, err, name)
			}
			return
		}
		var ie *Error
		if !errors.As(err, &ie) || ie.Input != "digests" || !strings.Contains(ie.Msg, fmt.Sprintf("%q", name)) {
			t.Fatalf("Parse() error = %v, want one naming digests and quoting %q", err, name)
		}
		if strings.ContainsAny(ie.Error(), "\n\r") {
			t.Fatalf("message is not one line: %q", ie.Error())
		}
	})
}
