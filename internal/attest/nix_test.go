package attest

import (
	"strings"
	"testing"
)

func TestParseDrvName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, wantName, wantVersion string
	}{
		{name: "plain", in: "hello-2.12.1", wantName: "hello", wantVersion: "2.12.1"},
		{name: "suffix after version", in: "python3-3.11.9-env", wantName: "python3", wantVersion: "3.11.9-env"},
		{name: "release number", in: "glibc-2.39-52", wantName: "glibc", wantVersion: "2.39-52"},
		{name: "output name stays in version", in: "openssl-3.0.14-bin", wantName: "openssl", wantVersion: "3.0.14-bin"},
		{name: "no version", in: "hello", wantName: "hello", wantVersion: ""},
		{name: "dashes before letters are name", in: "xf86-video-i810-1.7.4", wantName: "xf86-video-i810", wantVersion: "1.7.4"},
		{name: "name starting with digit", in: "915resolution-0.5.2", wantName: "915resolution", wantVersion: "0.5.2"},
		{name: "double dash", in: "bash--1-2", wantName: "bash", wantVersion: "-1-2"},
		{name: "non-letter non-digit starts version", in: "xvidtune-?1-2", wantName: "xvidtune", wantVersion: "?1-2"},
		{name: "unstable is part of name", in: "mpv-unstable-2021-05-03", wantName: "mpv-unstable", wantVersion: "2021-05-03"},
		{name: "trailing dash", in: "foo-", wantName: "foo-", wantVersion: ""},
		{name: "empty", in: "", wantName: "", wantVersion: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, v := ParseDrvName(tt.in)
			if n != tt.wantName || v != tt.wantVersion {
				t.Errorf("ParseDrvName(%q) = %q, %q, want %q, %q", tt.in, n, v, tt.wantName, tt.wantVersion)
			}
		})
	}
}

const nixHash = "0c4g9b5hw4xdl0p2y9a3d8b2kc0vxm2r" // 32 characters of nix base32

func TestParseStorePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     StorePath
		ok       bool
	}{
		{name: "file in entry", in: "/nix/store/" + nixHash + "-hello-2.12.1/bin/hello", ok: true,
			want: StorePath{Dir: "/nix/store/" + nixHash + "-hello-2.12.1", Hash: nixHash, Name: "hello", Version: "2.12.1"}},
		{name: "entry itself", in: "/nix/store/" + nixHash + "-glibc-2.39-52", ok: true,
			want: StorePath{Dir: "/nix/store/" + nixHash + "-glibc-2.39-52", Hash: nixHash, Name: "glibc", Version: "2.39-52"}},
		{name: "no version", in: "/nix/store/" + nixHash + "-etc/passwd", ok: true,
			want: StorePath{Dir: "/nix/store/" + nixHash + "-etc", Hash: nixHash, Name: "etc"}},
		{name: "name without name part", in: "/nix/store/" + nixHash + "--1.0/x", ok: true,
			want: StorePath{Dir: "/nix/store/" + nixHash + "--1.0", Hash: nixHash, Name: "-1.0"}},
		{name: "outside the store", in: "/usr/bin/hello"},
		{name: "store itself", in: "/nix/store/"},
		{name: "short hash", in: "/nix/store/abc-hello-1.0/bin/hello"},
		{name: "hash with e (not nix base32)", in: "/nix/store/" + strings.Repeat("e", 32) + "-hello-1.0"},
		{name: "upper-case hash", in: "/nix/store/" + strings.ToUpper(nixHash) + "-hello-1.0"},
		{name: "no dash after hash", in: "/nix/store/" + nixHash + "_hello-1.0"},
		{name: "empty name", in: "/nix/store/" + nixHash + "-/x"},
		{name: "name starting with dot", in: "/nix/store/" + nixHash + "-.hidden"},
		{name: "forbidden character in name", in: "/nix/store/" + nixHash + "-a b-1.0/x"},
		{name: "name too long", in: "/nix/store/" + nixHash + "-" + strings.Repeat("a", 212)},
		{name: "relative", in: "nix/store/" + nixHash + "-hello-1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseStorePath(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseStorePath(%q) = %+v, %v, want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNixPURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, version, want string }{
		{"hello", "2.12.1", "pkg:nix/hello@2.12.1"},
		{"hello", "", "pkg:nix/hello"},
		{"gtk+3", "3.24.41", "pkg:nix/gtk%2B3@3.24.41"},
		{"a?b=c", "1_2~3", "pkg:nix/a%3Fb%3Dc@1_2~3"},
	} {
		if got := NixPURL(StorePath{Name: tt.name, Version: tt.version}); got != tt.want {
			t.Errorf("NixPURL(%q, %q) = %q, want %q", tt.name, tt.version, got, tt.want)
		}
	}
}

// FuzzParseStorePath checks that whatever a path holds, a store entry
// found in it is a prefix of the path, is made of characters nix allows,
// and splits back into its name.
func FuzzParseStorePath(f *testing.F) {
	for _, s := range []string{
		"/nix/store/" + nixHash + "-hello-2.12.1/bin/hello",
		"/nix/store/" + nixHash + "-openssl-3.0.14-bin",
		"/usr/lib/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		sp, ok := ParseStorePath(p)
		if !ok {
			if sp != (StorePath{}) {
				t.Fatalf("ParseStorePath(%q) = %+v with ok false", p, sp)
			}
			return
		}
		if !strings.HasPrefix(p, sp.Dir) || (len(p) > len(sp.Dir) && p[len(sp.Dir)] != '/') {
			t.Fatalf("ParseStorePath(%q).Dir = %q, not the path's entry", p, sp.Dir)
		}
		full := strings.TrimPrefix(sp.Dir, NixStore+sp.Hash+"-")
		if strings.Trim(full, nixNameChars) != "" || strings.Trim(sp.Hash, nixBase32) != "" || len(sp.Hash) != 32 {
			t.Fatalf("ParseStorePath(%q) = %+v: characters nix refuses", p, sp)
		}
		if sp.Name == "" {
			t.Fatalf("ParseStorePath(%q) has no name", p)
		}
		if joined := sp.Name + "-" + sp.Version; sp.Version != "" && joined != full {
			t.Fatalf("ParseStorePath(%q): %q-%q does not join back to %q", p, sp.Name, sp.Version, full)
		}
		if purl := NixPURL(sp); strings.ContainsAny(purl[len("pkg:nix/"):], "/+?#= ") {
			t.Fatalf("NixPURL(%+v) = %q: unescaped character", sp, purl)
		}
	})
}
