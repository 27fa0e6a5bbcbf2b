// Package auth turns the environment into one authn.Keychain for every
// registry the action talks to, and turns a registry's 401/403 into one line
// that says where the credential came from and how to supply a better one in
// the CI the program runs in (GitHub Actions, GitLab CI or a shell: CI).
//
// A docker action runs in its own container, whose HOME is not the runner's:
// the ~/.docker/config.json that docker/login-action wrote on the host is not
// visible inside. So the keychain reads credentials from everywhere CI users
// keep them, all at once, when New is called.
//
// # Sources, highest precedence first
//
//  1. The registry-auth input: docker/login-action's YAML list of
//     {registry, username, password} maps (see ParseRegistryAuth).
//  2. CI variables. GitLab: DOCKER_AUTH_CONFIG (inline JSON, or the path of a
//     file-type variable), then for CI_REGISTRY: CI_REGISTRY_USER and
//     CI_REGISTRY_PASSWORD, CI_DEPLOY_USER and CI_DEPLOY_PASSWORD, CI_JOB_TOKEN
//     as user gitlab-ci-token. GitHub: the github-token input, else
//     GITHUB_TOKEN, with GITHUB_ACTOR as user, offered only to ghcr.io and to
//     the container registry of the GitHub Enterprise host in
//     GITHUB_SERVER_URL (https://github.example.com gives
//     containers.github.example.com), never to any other host.
//  3. The docker config: $DOCKER_CONFIG/config.json, else
//     $HOME/.docker/config.json, with its auths, credHelpers and credsStore
//     (helpers are docker-credential-NAME programs on PATH), identity tokens
//     and registry tokens.
//  4. containers/podman auth files, all of them: $REGISTRY_AUTH_FILE,
//     $XDG_RUNTIME_DIR/containers/auth.json and
//     $XDG_CONFIG_HOME/containers/auth.json (default
//     $HOME/.config/containers/auth.json).
//  5. Anonymous.
//
// # Matching
//
// An entry names a registry (ghcr.io) or a repository path (ghcr.io/org or
// ghcr.io/org/team). The entry with the longest matching path wins, whatever
// its source: reg/org/team before reg/org before reg, so a repository-scoped
// entry in the docker config beats a registry-wide one in the registry-auth
// input. Prefixes match whole path segments: reg/org never matches
// reg/organisation. Only between entries of the same length does the source
// order above decide. Scheme prefixes and trailing slashes are ignored
// (https://ghcr.io/ is ghcr.io), and Docker Hub's names (docker.io,
// index.docker.io, registry-1.docker.io, registry.hub.docker.com, see
// package hosts) and https://index.docker.io/v1/ are one registry.
//
// Within one docker config or auth file, at the same path length, a
// credHelpers entry comes before credsStore, which comes before a plain auths
// entry; a helper that knows no credential for the registry passes to the next
// entry.
//
// # Secrets
//
// Every password, token, identity token and base64 auth string (and the
// password inside it) is handed to the mask callback as it is read, before
// anything could print it. No error and no Source description contains a
// secret.
package auth
