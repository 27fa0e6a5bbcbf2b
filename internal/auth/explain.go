package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// remedy is the way around a docker action's container HOME, said once in
// every refusal.
const remedy = "supply a credential with the github-token input (ghcr.io only), the registry-auth input, " +
	"or a docker config.json in a DOCKER_CONFIG directory under the workspace " +
	"(a docker action's container does not see the runner's ~/.docker)"

// Explain turns a registry's 401 or 403 (a *transport.Error anywhere in
// err's chain) into one line naming the registry, the repository, where
// the credential came from ("no credentials found" when there was none) and
// how to supply one; err stays wrapped for errors.As. Other errors, and nil,
// are returned unchanged.
func (k *Keychain) Explain(err error, ref name.Reference) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	var what string
	switch terr.StatusCode {
	case http.StatusUnauthorized:
		what = "refused the credential"
	case http.StatusForbidden:
		if hosts.RateLimited(terr.Error()) {
			// GHCR's secondary rate limits are 403s: retried, and still
			// refused, they are no matter of credentials.
			return fmt.Errorf("registry %s is rate limiting this client and still was after retries: run the job again later: %w",
				ref.Context().RegistryStr(), err)
		}
		what = "denied access with the credential"
	default:
		return err
	}
	repo := ref.Context()
	src := k.Source(repo)
	if src == "no credentials" {
		what, src = "requires authentication", "no credentials found"
		if terr.StatusCode == http.StatusForbidden {
			what = "denied anonymous access"
		}
	} else {
		src = "credential from " + src
	}
	detail := strings.Join(append([]string{fmt.Sprintf("%d", terr.StatusCode), src}, k.notes...), "; ")
	return fmt.Errorf("registry %s %s for repository %s (%s): %s: %w",
		repo.RegistryStr(), what, repo.RepositoryStr(), detail, remedy, err)
}
