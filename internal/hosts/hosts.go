// Package hosts is what the program knows about registry hosts, as data
// and functions: Docker Hub's names, GitHub's container registries, and
// which registries are reached over plain HTTP. Credentials (internal/auth),
// publishing (internal/oci) and cleanup (internal/oci/cleanup) all read it
// here, so a host is never one registry to one of them and another to the
// next.
package hosts

import (
	"net/url"
	"strings"
)

// DockerHub is the host every Docker Hub alias is folded into: the name
// go-containerregistry gives Docker Hub (name.DefaultRegistry), and the host
// of docker's legacy index address, DockerHubKey.
const DockerHub = "index.docker.io"

// DockerHubKey is the key under which docker login and the credential
// helpers keep Docker Hub's credential ("auths" in config.json,
// authn.DefaultAuthKey in go-containerregistry); a credential helper is
// asked about this server address, not a host name.
// https://docs.docker.com/reference/cli/docker/login/#credential-stores
const DockerHubKey = "https://" + DockerHub + "/v1/"

// dockerHubAliases are the names Docker Hub's registry answers to:
//   - docker.io, the domain docker's reference normalisation adds to a
//     short name (alpine is docker.io/library/alpine);
//     https://docs.docker.com/reference/cli/docker/image/tag/#description
//   - index.docker.io, the legacy index host, still what
//     go-containerregistry and docker's credential store use;
//   - registry-1.docker.io, the host the registry API is actually served
//     from (docker's default registry endpoint);
//   - registry.hub.docker.com, the registry's older public name, still
//     served and still found in scripts and docs.
var dockerHubAliases = [...]string{"docker.io", DockerHub, "registry-1.docker.io", "registry.hub.docker.com"}

// DockerHubAliases returns every name Docker Hub's registry answers to,
// DockerHub among them.
func DockerHubAliases() []string {
	return append([]string(nil), dockerHubAliases[:]...)
}

// IsDockerHub reports whether host is one of Docker Hub's names, in any
// case. A port makes it another host: Docker Hub has none.
func IsDockerHub(host string) bool {
	for _, a := range dockerHubAliases {
		if strings.EqualFold(host, a) {
			return true
		}
	}
	return false
}

// Canonical returns host lower-cased (host names are case-insensitive,
// RFC 4343) with Docker Hub's aliases folded into DockerHub: the one
// spelling under which a registry is looked up.
func Canonical(host string) string {
	if IsDockerHub(host) {
		return DockerHub
	}
	return strings.ToLower(host)
}

// GHCR is GitHub's container registry for github.com.
// https://docs.github.com/en/packages/working-with-a-github-packages-registry/working-with-the-container-registry
const GHCR = "ghcr.io"

// GitHub returns the container registry hosts of the GitHub instance at
// serverURL (GITHUB_SERVER_URL in a workflow): ghcr.io, and for GitHub
// Enterprise Server or GHE.com (a server other than github.com) also
// "containers." + the server's host, where that instance serves its
// container registry with subdomain isolation.
// https://docs.github.com/en/enterprise-server/packages/working-with-a-github-packages-registry/working-with-the-container-registry
// https://docs.github.com/en/enterprise-cloud@latest/admin/data-residency/network-details-for-ghecom
// An empty or unparsable serverURL is github.com.
func GitHub(serverURL string) []string {
	hosts := []string{GHCR}
	u, err := url.Parse(strings.TrimSpace(serverURL))
	if err != nil || u.Hostname() == "" {
		return hosts
	}
	host := strings.ToLower(u.Hostname())
	if host == "github.com" || host == "www.github.com" {
		return hosts
	}
	return append(hosts, "containers."+host)
}
