package hosts

import (
	"slices"
	"testing"
)

func TestDockerHub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		host      string
		isHub     bool
		canonical string
	}{
		{name: "docker.io", host: "docker.io", isHub: true, canonical: DockerHub},
		{name: "index", host: "index.docker.io", isHub: true, canonical: DockerHub},
		{name: "registry-1", host: "registry-1.docker.io", isHub: true, canonical: DockerHub},
		{name: "registry.hub", host: "registry.hub.docker.com", isHub: true, canonical: DockerHub},
		{name: "upper case", host: "Docker.IO", isHub: true, canonical: DockerHub},
		{name: "with a port", host: "docker.io:443", isHub: false, canonical: "docker.io:443"},
		{name: "hub website", host: "hub.docker.com", isHub: false, canonical: "hub.docker.com"},
		{name: "lookalike", host: "docker.io.evil.example", isHub: false, canonical: "docker.io.evil.example"},
		{name: "other registry folds case only", host: "GHCR.io", isHub: false, canonical: "ghcr.io"},
		{name: "empty", host: "", isHub: false, canonical: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, want := IsDockerHub(tc.host), tc.isHub; got != want {
				t.Errorf("IsDockerHub(%q) = %v, want %v", tc.host, got, want)
			}
			if got, want := Canonical(tc.host), tc.canonical; got != want {
				t.Errorf("Canonical(%q) = %q, want %q", tc.host, got, want)
			}
		})
	}
}

func TestDockerHubAliases(t *testing.T) {
	t.Parallel()
	got := DockerHubAliases()
	if !slices.Contains(got, DockerHub) {
		t.Errorf("DockerHubAliases() = %v, want it to hold %s", got, DockerHub)
	}
	for _, a := range got {
		if !IsDockerHub(a) {
			t.Errorf("IsDockerHub(%q) = false for an alias", a)
		}
	}
	got[0] = "changed"
	if DockerHubAliases()[0] == "changed" {
		t.Error("DockerHubAliases() shares its backing array with the package")
	}
	if got, want := DockerHubKey, "https://index.docker.io/v1/"; got != want {
		t.Errorf("DockerHubKey = %q, want %q", got, want)
	}
}

func TestGitHub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		serverURL string
		want      []string
	}{
		{name: "unset", serverURL: "", want: []string{"ghcr.io"}},
		{name: "github.com", serverURL: "https://github.com", want: []string{"ghcr.io"}},
		{name: "www and case", serverURL: "https://WWW.GitHub.com/", want: []string{"ghcr.io"}},
		{name: "GHES", serverURL: "https://github.example.com", want: []string{"ghcr.io", "containers.github.example.com"}},
		{name: "GHES with port and path", serverURL: " https://GHE.Example.com:8443/x ", want: []string{"ghcr.io", "containers.ghe.example.com"}},
		{name: "GHE.com", serverURL: "https://octocorp.ghe.com", want: []string{"ghcr.io", "containers.octocorp.ghe.com"}},
		{name: "no scheme", serverURL: "github.example.com", want: []string{"ghcr.io"}},
		{name: "unparsable", serverURL: "https://[::1", want: []string{"ghcr.io"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := GitHub(tc.serverURL); !slices.Equal(got, tc.want) {
				t.Errorf("GitHub(%q) = %v, want %v", tc.serverURL, got, tc.want)
			}
		})
	}
}

// FuzzGitHub: GITHUB_SERVER_URL comes from the environment; whatever it
// holds, ghcr.io comes first and at most one more host, under containers.
func FuzzGitHub(f *testing.F) {
	for _, s := range []string{"", "https://github.com", "https://ghe.example.com:8443/", "http://[::1]:80", "://", "https://a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, serverURL string) {
		got := GitHub(serverURL)
		if len(got) == 0 || got[0] != GHCR || len(got) > 2 {
			t.Fatalf("GitHub(%q) = %v", serverURL, got)
		}
		if len(got) == 2 && (len(got[1]) <= len("containers.") || got[1][:len("containers.")] != "containers.") {
			t.Fatalf("GitHub(%q) = %v: second host not under containers.", serverURL, got)
		}
	})
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`{"errors":[{"code":"DENIED","message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}]}`, true},
		{`{"errors":[{"code":"TOOMANYREQUESTS","message":"retry-after: 10ms"}]}`, true},
		{`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`, false},
		{``, false},
	} {
		if got := RateLimited(tc.body); got != tc.want {
			t.Errorf("RateLimited(%q) = %v, want %v", tc.body, got, tc.want)
		}
	}
}
