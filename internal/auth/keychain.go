package auth

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/docker/cli/cli/config/credentials"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
)

var _ authn.Keychain = (*Keychain)(nil)

// Keychain resolves credentials from every source New read; see the package
// documentation for the precedence. It is safe for concurrent use.
type Keychain struct {
	entries []entry
	masker  *masker
	logger  *slog.Logger
	// notes are things worth telling a user whose request was refused, such
	// as a DOCKER_CONFIG that names a file this container cannot see.
	notes []string
	// githubToken is what gitHubToken resolved, for GitHub's REST API.
	githubToken string
	// ci, githubHosts and gitlabRegistry decide what Explain tells a user
	// to do: where the program runs, GitHub's container registries, and
	// the GitLab project's registry (CI_REGISTRY).
	ci             CI
	githubHosts    []string
	gitlabRegistry string

	mu      sync.Mutex
	helpers map[string]helperResult
	// said holds what was logged about each resource's credential, so
	// that a run resolving a repository for every request logs it once.
	said sync.Map // "registry" or "resource source" → true
}

// entry is one credential, or one credential helper, for a registry or
// repository path.
type entry struct {
	key key
	// anyRegistry marks a credsStore: it answers for every registry, as a
	// registry-wide entry.
	anyRegistry bool
	source      string
	cfg         authn.AuthConfig
	helper      string // docker-credential-<helper>; "" for a static credential
}

type helperResult struct {
	cfg authn.AuthConfig
	err error
}

// New reads every source once, masking each secret as it is read, and
// returns the keychain. A source that exists but cannot be read or parsed is
// an error naming the file, variable or input; a source that is absent is
// skipped. Credential helpers run later, when a registry is first resolved.
func New(opts ...Option) (*Keychain, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	b := &builder{o: o, masker: newMasker(o.mask)}
	for _, load := range []func() error{
		b.addRegistryAuth,
		b.addGitLab,
		b.addGitHub,
		b.addDockerConfig,
		b.addContainersAuthFiles,
	} {
		if err := load(); err != nil {
			return nil, err
		}
	}
	ghToken, _ := gitHubToken(o)
	return &Keychain{
		entries:        b.entries,
		masker:         b.masker,
		logger:         o.logger,
		notes:          b.notes,
		githubToken:    ghToken, // addGitHub masked it
		ci:             detectCI(o.getenv),
		githubHosts:    gitHubRegistries(o.getenv("GITHUB_SERVER_URL")),
		gitlabRegistry: gitlabRegistryHost(o.getenv),
		helpers:        map[string]helperResult{},
	}, nil
}

// GitHubToken returns the token the keychain offers to GitHub's container
// registries: the github-token input, else GITHUB_TOKEN; "" when there is
// none. GitHub's REST API (deleting GHCR package versions) takes the same
// token.
func (k *Keychain) GitHubToken() string { return k.githubToken }

// Resolve implements authn.Keychain. It matches r.String() ("reg/repo" for a
// repository, "reg" for a registry) against every entry; the longest match
// wins, then the source with the higher precedence. A credential helper that
// has nothing for the registry passes to the next match; one that fails is
// an error. With no match the answer is authn.Anonymous.
func (k *Keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	e, cfg, err := k.lookup(r.String())
	if err != nil {
		return nil, err
	}
	if e == nil {
		// Anonymous is a fact about the registry: one line for it.
		if _, said := k.said.LoadOrStore(r.RegistryStr(), true); !said {
			k.logger.Debug("no credentials", "registry", r.RegistryStr())
		}
		return authn.Anonymous, nil
	}
	if _, said := k.said.LoadOrStore(r.String()+" "+e.source, true); !said {
		k.logger.Debug("credentials", "resource", r.String(), "source", e.source)
	}
	return authn.FromConfig(cfg), nil
}

// Source describes where the credential Resolve gives for r comes from, for
// example `docker config /x/config.json (credsStore "pass")`,
// "registry-auth input" or "GITHUB_TOKEN"; "no credentials" when Resolve
// would give authn.Anonymous. It never contains a secret.
func (k *Keychain) Source(r authn.Resource) string {
	e, _, err := k.lookup(r.String())
	switch {
	case e == nil:
		return "no credentials"
	case err != nil:
		return e.source + " (credential helper failed)"
	}
	return e.source
}

// lookup returns the entry that answers for resource and its credential,
// or a nil entry for anonymous.
func (k *Keychain) lookup(resource string) (*entry, authn.AuthConfig, error) {
	rk, err := parseKey(resource)
	if err != nil {
		return nil, authn.AuthConfig{}, fmt.Errorf("resolving credentials for %q: %w", resource, err)
	}
	type match struct {
		e    *entry
		spec int
	}
	var ms []match
	for i := range k.entries {
		e := &k.entries[i]
		spec, ok := 1, e.anyRegistry
		if !ok {
			spec, ok = e.key.matches(rk)
		}
		if ok {
			ms = append(ms, match{e, spec})
		}
	}
	// Entries are in precedence order; a stable sort keeps it between
	// entries of the same length.
	slices.SortStableFunc(ms, func(a, b match) int { return cmp.Compare(b.spec, a.spec) })
	for _, m := range ms {
		cfg, err := k.credential(m.e, rk)
		if err != nil {
			return m.e, authn.AuthConfig{}, err
		}
		if !empty(cfg) {
			return m.e, cfg, nil
		}
	}
	return nil, authn.AuthConfig{}, nil
}

func empty(c authn.AuthConfig) bool {
	return c.Username == "" && c.Password == "" && c.Auth == "" && c.IdentityToken == "" && c.RegistryToken == ""
}

// credential returns e's credential for the resource rk, asking e's helper
// (once per helper and address) when it has one.
func (k *Keychain) credential(e *entry, rk key) (authn.AuthConfig, error) {
	if e.helper == "" {
		return e.cfg, nil
	}
	addr := e.key.helperAddress()
	if e.anyRegistry {
		addr = key{host: rk.host}.helperAddress()
	}
	id := e.helper + "\x00" + addr
	k.mu.Lock()
	defer k.mu.Unlock()
	if r, ok := k.helpers[id]; ok {
		return r.cfg, r.err
	}
	cfg, err := runHelper(e.helper, addr, k.masker)
	if err != nil {
		err = fmt.Errorf("credential helper docker-credential-%s for %s (%s): %w", e.helper, addr, e.source, err)
	}
	k.helpers[id] = helperResult{cfg, err}
	return cfg, err
}

// runHelper asks docker-credential-<helper> (found on PATH) for addr through
// docker/cli's native store, which speaks the helper protocol. A helper
// that has no credential for addr gives an empty config and no error.
func runHelper(helper, addr string, m *masker) (authn.AuthConfig, error) {
	ac, err := credentials.NewNativeStore(noFile{}, helper).Get(addr)
	if err != nil {
		return authn.AuthConfig{}, err
	}
	m.mask(ac.Password)
	m.mask(ac.IdentityToken)
	m.mask(ac.RegistryToken)
	return authn.AuthConfig{
		Username:      ac.Username,
		Password:      ac.Password,
		IdentityToken: ac.IdentityToken,
		RegistryToken: ac.RegistryToken,
	}, nil
}

// noFile is the empty plain-text store behind a native store: the keychain
// reads a file's auths itself, so a helper's answer is never mixed with
// them.
type noFile struct{}

func (noFile) Save() error                                 { return nil }
func (noFile) GetAuthConfigs() map[string]types.AuthConfig { return map[string]types.AuthConfig{} }
func (noFile) GetFilename() string                         { return "" }

// masker passes each distinct secret to the mask callback once.
type masker struct {
	mu   sync.Mutex
	fn   func(string)
	seen map[string]bool
}

func newMasker(fn func(string)) *masker { return &masker{fn: fn, seen: map[string]bool{}} }

func (m *masker) mask(secret string) {
	if secret == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[secret] {
		return
	}
	m.seen[secret] = true
	m.fn(secret)
}
