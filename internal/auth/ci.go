package auth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// addRegistryAuth adds the registry-auth input, masking every password
// before any entry is validated.
func (b *builder) addRegistryAuth() error {
	for _, e := range b.o.registryAuth {
		b.masker.mask(e.Password)
	}
	for i, e := range b.o.registryAuth {
		k, err := e.validate()
		if err != nil {
			return fmt.Errorf("registry-auth input item %d: %w", i, err)
		}
		b.add(entry{key: k, source: "registry-auth input", cfg: authn.AuthConfig{Username: e.Username, Password: e.Password}})
	}
	return nil
}

// addGitLab adds GitLab CI's variables: DOCKER_AUTH_CONFIG, then for
// CI_REGISTRY the registry user, a deploy token and the job token.
// https://docs.gitlab.com/ci/variables/predefined_variables/
func (b *builder) addGitLab() error {
	getenv := b.o.getenv
	for _, name := range []string{"CI_REGISTRY_PASSWORD", "CI_DEPLOY_PASSWORD", "CI_JOB_TOKEN"} {
		b.masker.mask(getenv(name))
	}
	if err := b.addDockerAuthConfig(getenv("DOCKER_AUTH_CONFIG")); err != nil {
		return err
	}
	registry := getenv("CI_REGISTRY")
	if registry == "" {
		return nil
	}
	k, err := parseKey(registry)
	if err != nil {
		return fmt.Errorf("CI_REGISTRY: %w", err)
	}
	type cred struct{ source, user, password string }
	for _, c := range []cred{
		{"CI_REGISTRY_USER/CI_REGISTRY_PASSWORD", getenv("CI_REGISTRY_USER"), getenv("CI_REGISTRY_PASSWORD")},
		{"CI_DEPLOY_USER/CI_DEPLOY_PASSWORD", getenv("CI_DEPLOY_USER"), getenv("CI_DEPLOY_PASSWORD")},
		{"CI_JOB_TOKEN", "gitlab-ci-token", getenv("CI_JOB_TOKEN")},
	} {
		if c.user != "" && c.password != "" {
			b.add(entry{key: k, source: c.source, cfg: authn.AuthConfig{Username: c.user, Password: c.password}})
		}
	}
	return nil
}

// addDockerAuthConfig reads DOCKER_AUTH_CONFIG: a docker config JSON
// document, or, for a GitLab file-type variable, the path of one.
func (b *builder) addDockerAuthConfig(v string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	if strings.HasPrefix(strings.TrimSpace(v), "{") {
		const desc = "DOCKER_AUTH_CONFIG variable"
		cf, err := parseAuthFile([]byte(v), b.masker.mask)
		if err != nil {
			return fmt.Errorf("%s: %w", desc, err)
		}
		b.addAuthFile(cf, desc)
		return nil
	}
	// A value that is not JSON may still be a secret pasted wrongly: name
	// it in an error only when it looks like the path GitLab writes.
	if !filepath.IsAbs(v) || strings.ContainsAny(v, "\r\n") {
		return errors.New("DOCKER_AUTH_CONFIG is neither a JSON object nor the absolute path of a file")
	}
	data, err := os.ReadFile(v)
	if err != nil {
		return fmt.Errorf("reading DOCKER_AUTH_CONFIG file: %w", err)
	}
	desc := "DOCKER_AUTH_CONFIG file " + v
	cf, err := parseAuthFile(data, b.masker.mask)
	if err != nil {
		return fmt.Errorf("%s: %w", desc, err)
	}
	b.addAuthFile(cf, desc)
	return nil
}

// addGitHub offers the github-token input, else GITHUB_TOKEN, to ghcr.io and
// to the GitHub Enterprise container registry, and to no other host.
func (b *builder) addGitHub() error {
	getenv := b.o.getenv
	b.masker.mask(getenv("GITHUB_TOKEN"))
	b.masker.mask(b.o.githubToken)
	token, source := gitHubToken(b.o)
	b.masker.mask(token)
	if token == "" {
		return nil
	}
	user := getenv("GITHUB_ACTOR")
	if user == "" {
		user = "github-actions" // ghcr.io checks the token, not the name
	}
	cfg := authn.AuthConfig{Username: user, Password: token}
	for _, host := range gitHubRegistries(getenv("GITHUB_SERVER_URL")) {
		b.add(entry{key: key{host: host}, source: source, cfg: cfg})
	}
	return nil
}

// gitHubToken returns the token for GitHub's registries and APIs and its
// source, for explanations: the github-token input, else GITHUB_TOKEN. This
// is the one place that falls back, so a token from the environment is
// never reported as the input.
func gitHubToken(o options) (token, source string) {
	if t := strings.TrimSpace(o.githubToken); t != "" {
		return t, "github-token input"
	}
	return strings.TrimSpace(o.getenv("GITHUB_TOKEN")), "GITHUB_TOKEN"
}

// gitHubRegistries returns the container registries of the GitHub instance
// at serverURL (hosts.GitHub): ghcr.io, and containers.HOST for GitHub
// Enterprise Server or GHE.com.
func gitHubRegistries(serverURL string) []string {
	return hosts.GitHub(serverURL)
}
