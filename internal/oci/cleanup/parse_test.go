package cleanup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

func TestParsePattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantRepo string
		wantTag  string // literal tag, full reference
		wantGlob string
		digest   bool
		wantErr  bool
	}{
		{name: "literal", in: "reg.example/o/app:tmp-amd64", wantRepo: "reg.example/o/app", wantTag: "reg.example/o/app:tmp-amd64"},
		{name: "port and glob", in: "127.0.0.1:5000/o/app:tmp-*", wantRepo: "127.0.0.1:5000/o/app", wantGlob: "tmp-*"},
		{name: "class glob", in: "ghcr.io/o/app:[ab]?-tmp", wantRepo: "ghcr.io/o/app", wantGlob: "[ab]?-tmp"},
		{name: "docker hub short", in: "app:tmp", wantRepo: "index.docker.io/library/app", wantTag: "index.docker.io/library/app:tmp"},
		{name: "spaces trimmed", in: "  reg.example/o/app:x  ", wantRepo: "reg.example/o/app", wantTag: "reg.example/o/app:x"},
		{name: "digest", in: "reg.example/o/app@sha256:" + strings.Repeat("a", 64), wantRepo: "reg.example/o/app", digest: true},
		{name: "empty", in: " ", wantErr: true},
		{name: "no tag", in: "reg.example/o/app", wantErr: true},
		{name: "port but no tag", in: "reg.example:5000/o/app", wantErr: true},
		{name: "bad glob", in: "reg.example/o/app:tmp-[", wantErr: true},
		{name: "bad tag char", in: "reg.example/o/app:tmp+x", wantErr: true},
		{name: "bad glob char", in: "reg.example/o/app:tmp+*", wantErr: true},
		{name: "bad digest", in: "reg.example/o/app@sha256:abc", wantErr: true},
		{name: "bad repo", in: "reg.example/O/App:x", wantErr: true},
		{name: "too long glob", in: "reg.example/o/app:*" + strings.Repeat("a", 128), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := parsePattern(tc.in, hosts.Insecure{})
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidPattern) {
					t.Fatalf("parsePattern(%q) error = %v, want ErrInvalidPattern", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePattern(%q) error = %v", tc.in, err)
			}
			if got := p.repo.String(); got != tc.wantRepo {
				t.Errorf("repo = %q, want %q", got, tc.wantRepo)
			}
			if p.digest != tc.digest {
				t.Errorf("digest = %v, want %v", p.digest, tc.digest)
			}
			if p.glob != tc.wantGlob {
				t.Errorf("glob = %q, want %q", p.glob, tc.wantGlob)
			}
			if tc.wantTag != "" && p.tag.Name() != tc.wantTag {
				t.Errorf("tag = %q, want %q", p.tag.Name(), tc.wantTag)
			}
		})
	}
}

// TestParsePatternInsecure: every reference parsed from an entry on a host
// listed insecure is plain HTTP, a DNS name included (go-containerregistry
// would speak HTTPS alone to it); other hosts keep their scheme.
func TestParsePatternInsecure(t *testing.T) {
	t.Parallel()
	insecure := hosts.NewInsecure("Registry.Test:5000")
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "literal on listed DNS name", in: "registry.test:5000/o/app:tmp-amd64", want: "http"},
		{name: "glob on listed DNS name", in: "registry.test:5000/o/app:tmp-*", want: "http"},
		{name: "digest on listed DNS name", in: "registry.test:5000/o/app@sha256:" + strings.Repeat("a", 64), want: "http"},
		{name: "same host, other port", in: "registry.test:5001/o/app:tmp-*", want: "https"},
		{name: "unlisted", in: "reg.example/o/app:tmp", want: "https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := parsePattern(tc.in, insecure)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.repo.Scheme(); got != tc.want {
				t.Errorf("repo %s: Scheme() = %s, want %s", p.repo, got, tc.want)
			}
			if p.glob == "" && !p.digest {
				if got := p.tag.Scheme(); got != tc.want {
					t.Errorf("tag %s: Scheme() = %s, want %s", p.tag, got, tc.want)
				}
			}
		})
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"reg/o/app:tmp-*", "app:tmp", "reg:5000/o/app:[a-z]*", "reg/o/app@sha256:" + strings.Repeat("0", 64), "", ":", "@", "a/b:\\", "reg/o/app:[^x]"} {
		f.Add(s)
	}
	insecure := hosts.NewInsecure("reg:5000")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePattern(s, insecure)
		if err != nil {
			if !errors.Is(err, ErrInvalidPattern) {
				t.Fatalf("parsePattern(%q) error %v does not wrap ErrInvalidPattern", s, err)
			}
			return
		}
		if insecure.Has(p.repo.RegistryStr()) && p.repo.Scheme() != "http" {
			t.Fatalf("parsePattern(%q): repository %s on an insecure host is %s", s, p.repo, p.repo.Scheme())
		}
		switch {
		case p.digest:
		case p.glob != "":
			if strings.ContainsAny(p.glob, "/:@") {
				t.Fatalf("parsePattern(%q) glob %q holds a separator", s, p.glob)
			}
		default:
			if p.tag.TagStr() == "" || p.tag.Context() != p.repo {
				t.Fatalf("parsePattern(%q) = tag %q in %q, repo %q", s, p.tag, p.tag.Context(), p.repo)
			}
		}
	})
}

// TestExpandValidatesFirst: one bad entry fails Expand before any request.
func TestExpandValidatesFirst(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	d, err := New(WithTransport(rec))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Expand(context.Background(), []string{"127.0.0.1:1/o/app:tmp-*", "127.0.0.1:1/o/app"})
	if !errors.Is(err, ErrInvalidPattern) || !strings.Contains(err.Error(), `"127.0.0.1:1/o/app"`) {
		t.Fatalf("Expand() error = %v, want ErrInvalidPattern naming the entry", err)
	}
	if n := len(rec.Requests()); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []Option
		host    string
		want    Kind
		wantErr bool
	}{
		{name: "ghcr default", host: "ghcr.io", want: KindGHCR},
		{name: "docker.io default", host: "index.docker.io", want: KindDockerHub},
		{name: "docker hub alias", host: "registry-1.docker.io", want: KindDockerHub},
		{name: "docker hub old name", host: "registry.hub.docker.com", want: KindDockerHub},
		{name: "docker hub any case", host: "Docker.IO", want: KindDockerHub},
		{name: "generic default", host: "quay.io", want: KindGeneric},
		{name: "GHES host not ghcr by default", host: "containers.github.example.com", want: KindGeneric},
		{name: "GHES host", opts: []Option{WithGitHubServer("https://github.example.com")}, host: "containers.github.example.com", want: KindGHCR},
		{name: "GHES keeps ghcr.io", opts: []Option{WithGitHubServer("https://github.example.com")}, host: "ghcr.io", want: KindGHCR},
		{name: "github.com server", opts: []Option{WithGitHubServer("https://github.com")}, host: "containers.github.com", want: KindGeneric},
		{name: "kind for one hub alias is hub's", opts: []Option{WithRegistryKind("docker.io", KindGeneric)}, host: "registry-1.docker.io", want: KindGeneric},
		{name: "case insensitive", opts: []Option{WithRegistryKind("Reg.Example:5000", KindGHCR)}, host: "reg.example:5000", want: KindGHCR},
		{name: "gitlab", opts: []Option{WithGitLab("registry.gitlab.com", "https://gitlab.com/api/v4/", "42", "tok")}, host: "registry.gitlab.com", want: KindGitLab},
		{name: "gitlab kind without WithGitLab", opts: []Option{WithRegistryKind("r.example", KindGitLab)}, wantErr: true},
		// A missing job token no longer refuses the whole cleanup: the OCI
		// tag DELETE and the tombstone need none.
		{name: "gitlab missing token", opts: []Option{WithGitLab("r.example", "https://gitlab.example/api/v4", "42", "")}, host: "r.example", want: KindGitLab},
		{name: "gitlab bad API URL", opts: []Option{WithGitLab("r.example", "gitlab.example/api/v4", "42", "t")}, host: "r.example", want: KindGitLab},
		{name: "gitlab without registry", opts: []Option{WithGitLab("", "https://gitlab.example/api/v4", "42", "t")}, wantErr: true},
		{name: "bad github url", opts: []Option{WithGitHubAPI("api.github.com", "t")}, wantErr: true},
		{name: "github url with query", opts: []Option{WithGitHubAPI("https://api.github.com?x=1", "t")}, wantErr: true},
		{name: "bad hub url", opts: []Option{WithDockerHubAPI("ftp://hub")}, wantErr: true},
		{name: "zero jobs", opts: []Option{WithJobs(0)}, wantErr: true},
		{name: "negative page", opts: []Option{WithPageSize(-1)}, wantErr: true},
		{name: "bad poll", opts: []Option{WithGitHubPoll(0, time.Second)}, wantErr: true},
		{name: "unknown kind", opts: []Option{WithRegistryKind("r", Kind(9))}, wantErr: true},
		{name: "nil keychain", opts: []Option{WithKeychain(nil)}, wantErr: true},
		{name: "nil transport", opts: []Option{WithTransport(nil)}, wantErr: true},
		{name: "nil logger", opts: []Option{WithLogger(nil)}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := New(tc.opts...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New() error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got := d.o.kindOf(tc.host); got != tc.want {
				t.Errorf("kindOf(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}

func TestKeptString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		k    Kept
		want string
	}{
		{
			name: "with fix",
			k:    Kept{Ref: "ghcr.io/o/app:tmp-amd64", Reason: "GitHub refused to delete package version (403)", Fix: "set permissions: packages: write"},
			want: "ghcr.io/o/app:tmp-amd64 kept: GitHub refused to delete package version (403); set permissions: packages: write",
		},
		{name: "no fix", k: Kept{Ref: "r/a:t", Reason: "why"}, want: "r/a:t kept: why"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.k.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAPIMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{name: "github", body: `{"message":"Not Found","documentation_url":"x"}`, want: "Not Found"},
		{name: "hub", body: `{"detail":"Incorrect authentication credentials"}`, want: "Incorrect authentication credentials"},
		{name: "gitlab error", body: `{"error":"insufficient_scope"}`, want: "insufficient_scope"},
		{name: "gitlab object", body: `{"message":{"base":["bad"]}}`, want: `{"base":["bad"]}`},
		{name: "not json", body: `<html>oops</html>`, want: ""},
		{name: "multi line", body: `{"message":"a\n  b"}`, want: "a b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := apiMessage([]byte(tc.body)); got != tc.want {
				t.Errorf("apiMessage(%s) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}
