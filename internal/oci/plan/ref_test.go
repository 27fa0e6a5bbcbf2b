package plan

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParseRef(t *testing.T) {
	t.Parallel()
	d := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		in                      string
		transport               Transport
		repo, path, tag, digest string
		wantErr                 bool
		empty                   bool // the tag or digest is empty: ErrEmptyPart
	}{
		{in: "ghcr.io/o/app:1", transport: Registry, repo: "ghcr.io/o/app", tag: "1"},
		{in: "ghcr.io/o/app", transport: Registry, repo: "ghcr.io/o/app"},
		{in: "docker://alpine:3", transport: Registry, repo: "index.docker.io/library/alpine", tag: "3"},
		{in: "ghcr.io/o/app@" + d, transport: Registry, repo: "ghcr.io/o/app", digest: d},
		{in: "localhost:5000/a/b:t", transport: Registry, repo: "localhost:5000/a/b", tag: "t"},
		{in: "oci:dir", transport: Layout, path: "dir"},
		{in: "oci:./a/b:v1", transport: Layout, path: "./a/b", tag: "v1"},
		{in: "oci:/abs/dir@" + d, transport: Layout, path: "/abs/dir", digest: d},
		{in: "oci:c:/x", transport: Layout, path: "c:/x"},
		{in: "docker-archive:img.tar.gz", transport: DockerArchive, path: "img.tar.gz"},
		{in: "", wantErr: true},
		{in: "oci:", wantErr: true},
		{in: "oci:dir:", wantErr: true, empty: true},
		{in: "oci:dir@sha256:short", wantErr: true},
		{in: "docker-archive:", wantErr: true},
		{in: "Upper/Case:1", wantErr: true},
		{in: "ghcr.io/o/app:", wantErr: true, empty: true},
		{in: "ghcr.io/o/app@", wantErr: true, empty: true},
		{in: "ghcr.io/o/app@sha256:", wantErr: true, empty: true},
		{in: "localhost:5000/app:", wantErr: true, empty: true},
		{in: "oci:dir@", wantErr: true, empty: true},
		{in: "oci:dir@sha256:", wantErr: true, empty: true},
		{in: "ghcr.io/o/app@sha256:short", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRef(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidReference) {
					t.Fatalf("ParseRef(%q) error = %v, want ErrInvalidReference", tt.in, err)
				}
				if got := errors.Is(err, ErrEmptyPart); got != tt.empty {
					t.Errorf("errors.Is(ParseRef(%q), ErrEmptyPart) = %v, want %v", tt.in, got, tt.empty)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRef(%q) = %v", tt.in, err)
			}
			repo := ""
			if r.Transport == Registry {
				repo = r.Repo.String()
			}
			if r.Transport != tt.transport || repo != tt.repo || r.Path != tt.path || r.Tag != tt.tag || r.Digest != tt.digest {
				t.Errorf("ParseRef(%q) = %v %q %q %q %q, want %v %q %q %q %q", tt.in, r.Transport, repo, r.Path, r.Tag, r.Digest, tt.transport, tt.repo, tt.path, tt.tag, tt.digest)
			}
		})
	}
}

func TestAnnotationMatches(t *testing.T) {
	t.Parallel()
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	arm64v8 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	armv6 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}
	tests := []struct {
		name   string
		filter *v1.Platform
		p      v1.Platform
		want   bool
	}{
		{"no filter", nil, armv6, true},
		{"arm64 matches arm64/v8", &arm64, arm64v8, true},
		{"arm64/v8 matches arm64", &arm64v8, arm64, true},
		{"arch differs", &arm64, v1.Platform{OS: "linux", Architecture: "amd64"}, false},
		{"variant differs", &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, armv6, false},
		{"no variant matches any", &v1.Platform{OS: "linux", Architecture: "arm"}, armv6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (Annotation{Platform: tt.filter}).Matches(tt.p); got != tt.want {
				t.Errorf("Matches(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"ghcr.io/o/app:1", "oci:dir:tag", "oci:d@sha256:" + strings.Repeat("0", 64), "docker-archive:x", "docker://a", "a@b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("ParseRef(%q) error %v does not wrap ErrInvalidReference", s, err)
			}
			return
		}
		if r.Tag != "" && r.Digest != "" {
			t.Fatalf("ParseRef(%q) has both tag and digest", s)
		}
		if r.Transport != Registry && r.Path == "" {
			t.Fatalf("ParseRef(%q) has no path", s)
		}
		if r.String() == "" {
			t.Fatalf("ParseRef(%q).String() is empty", s)
		}
	})
}
