package auth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// CI is where the program runs, which decides where a user supplies a
// credential and so what Explain tells them to do.
type CI int

const (
	// CLI is a person's shell or any CI other than the two below: docker
	// login and the docker config.
	CLI CI = iota
	// GitHub is a GitHub Actions job (GITHUB_ACTIONS=true): the
	// github-token input, the job's permissions, the registry-auth input.
	GitHub
	// GitLab is a GitLab CI job (GITLAB_CI=true): CI_REGISTRY's job token
	// and DOCKER_AUTH_CONFIG.
	GitLab
)

// detectCI reads the variables GitHub Actions and GitLab CI set in every
// job.
// https://docs.github.com/en/actions/reference/workflows-and-actions/variables
// https://docs.gitlab.com/ci/variables/predefined_variables/
func detectCI(getenv func(string) string) CI {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		return GitHub
	case getenv("GITLAB_CI") == "true":
		return GitLab
	}
	return CLI
}

// Explain adds to a registry's 401 or 403 (a *transport.Error anywhere in
// err's chain) what it means for the reference's repository: that no
// credential was found, or which source's credential was refused or not
// allowed, and how to supply one in the CI the program runs in. The
// result is err's text, then that, on one line; err stays wrapped for
// errors.As. Other errors, and nil, are returned unchanged.
func (k *Keychain) Explain(err error, ref name.Reference) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	repo := ref.Context()
	switch terr.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
	default:
		return err
	}
	if terr.StatusCode == http.StatusForbidden && hosts.RateLimited(terr.Error()) {
		// GHCR's secondary rate limits are 403s: retried, and still
		// refused, they are no matter of credentials.
		return fmt.Errorf("%w; registry %s is rate limiting this client and still was after retries: run the job again later",
			err, repo.RegistryStr())
	}
	src := k.Source(repo)
	host, path := repo.RegistryStr(), repo.RepositoryStr()
	var what string
	switch {
	case src == "no credentials" && terr.StatusCode == http.StatusUnauthorized:
		what = fmt.Sprintf("registry %s requires a credential for repository %s and none was found", host, path)
	case src == "no credentials":
		what = fmt.Sprintf("registry %s denied anonymous access to repository %s (no credential was found)", host, path)
	case terr.StatusCode == http.StatusUnauthorized:
		what = fmt.Sprintf("registry %s refused the credential from %s for repository %s", host, src, path)
	default:
		what = fmt.Sprintf("registry %s denied the credential from %s access to repository %s", host, src, path)
	}
	for _, n := range k.notes {
		what += " (" + n + ")"
	}
	fix := k.fix(host, terr.StatusCode, src)
	switch {
	case src == "no credentials" || slices.Contains(k.githubHosts, host) && k.ci == GitHub:
	case terr.StatusCode == http.StatusUnauthorized:
		fix = "check it (a typo, an expired token), or supply another: " + fix
	default:
		fix = "use a credential with access to the repository: " + fix
	}
	return fmt.Errorf("%w; %s: %s", err, what, fix)
}

// fix says where a credential for host is supplied in the program's CI,
// and for GitHub's and GitLab's own registries what their tokens may do.
func (k *Keychain) fix(host string, status int, src string) string {
	switch k.ci {
	case GitHub:
		if slices.Contains(k.githubHosts, host) {
			if status == http.StatusForbidden || src != "no credentials" {
				return "give the job `permissions: packages: write` (packages: read to pull only), and for a package " +
					"another repository created, grant this repository access in the package's settings; " +
					"or pass a personal access token with write:packages as github-token"
			}
			return "pass a token as the github-token input (its default is the job's GITHUB_TOKEN)"
		}
		return fmt.Sprintf("add a credential for %s to the registry-auth input (registry, username, and password from a secret), "+
			"or write a docker config.json into a DOCKER_CONFIG directory under the workspace; "+
			"this action's container does not see the runner's ~/.docker, where docker/login-action writes", host)
	case GitLab:
		if k.gitlabRegistry != "" && host == k.gitlabRegistry {
			return "CI_JOB_TOKEN may use this project's registry, and another project's only when that project adds this one " +
				"to its CI/CD job token allowlist; or set CI_REGISTRY_USER and CI_REGISTRY_PASSWORD, or a deploy token's " +
				"CI_DEPLOY_USER and CI_DEPLOY_PASSWORD"
		}
		return fmt.Sprintf("add a credential for %s to DOCKER_AUTH_CONFIG (a docker config.json, as a variable or a file variable), "+
			"or pass --registry-auth", host)
	}
	return fmt.Sprintf("run docker login %s (oci-assemble reads $DOCKER_CONFIG/config.json, else ~/.docker/config.json, "+
		"and podman's auth.json), or pass --registry-auth", host)
}

// gitlabRegistryHost is CI_REGISTRY as a host, "" when it is not set or
// not a registry name.
func gitlabRegistryHost(getenv func(string) string) string {
	v := strings.TrimSpace(getenv("CI_REGISTRY"))
	if v == "" {
		return ""
	}
	k, err := parseKey(v)
	if err != nil {
		return ""
	}
	return k.host
}
