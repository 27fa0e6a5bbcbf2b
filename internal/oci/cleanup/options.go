package cleanup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
)

// Kind says how a registry deletes tags, and so which strategy Delete uses.
type Kind int

const (
	// KindGeneric tries the OCI tag DELETE, then the tombstone: the tag is
	// moved onto a unique tombstone manifest, which is deleted by digest.
	KindGeneric Kind = iota
	// KindGHCR is GitHub's container registry: its registry API refuses
	// deletes, so the tombstone's package version is deleted through the
	// GitHub REST API.
	KindGHCR
	// KindDockerHub is Docker Hub: tags are deleted through the Hub API.
	KindDockerHub
	// KindGitLab is a GitLab container registry: the OCI tag DELETE (GitLab
	// 16.4 and later with the metadata database), then the GitLab REST API.
	KindGitLab
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindGHCR:
		return "ghcr"
	case KindDockerHub:
		return "dockerhub"
	case KindGitLab:
		return "gitlab"
	default:
		return "generic"
	}
}

// Option configures New.
type Option func(*options) error

type options struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	// client, when set (WithClient), reads from registries.
	client   *client.Client
	remote   []remote.Option
	logger   *slog.Logger
	dryRun   bool
	jobs     int
	pageSize int
	list     listLimits

	githubURL   string
	githubToken string
	pollTries   int
	pollEvery   time.Duration

	hubURL string

	gitlab         bool // WithGitLab was given
	gitlabAPI      string
	gitlabProject  string
	gitlabJobToken string
	// gitlabUnusable says why the GitLab API cannot be called (missing
	// or invalid settings); empty when it can.
	gitlabUnusable []string

	// kinds is keyed by hosts.Canonical: one entry covers every spelling.
	kinds map[string]Kind
	// insecure are the registries reached over plain HTTP; insecureList
	// collects WithInsecureRegistries until makeOptions builds it.
	insecure     hosts.Insecure
	insecureList []string

	// nonce makes every tombstone unique; tests in this package replace it.
	nonce func() (string, error)
}

// WithKeychain resolves registry (and Docker Hub API) credentials. Default
// anonymous.
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("WithKeychain: nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithClient makes cleanup's registry requests the run's: reads (tags,
// manifests, tag lists) through the client as every other read of the run,
// vendor APIs over its transport and retries, with its plain-HTTP
// registries, logger and concurrency limit.
func WithClient(c *client.Client) Option {
	return func(o *options) error {
		o.client = c
		o.keychain = c.Keychain()
		o.transport = c.Transport()
		o.insecureList = append(o.insecureList, c.Insecure().Hosts()...)
		o.logger = c.Logger()
		o.jobs = c.Jobs()
		return nil
	}
}

// WithTransport is used for every registry and API request. Default
// remote.DefaultTransport.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("WithTransport: nil transport")
		}
		o.transport = rt
		return nil
	}
}

// WithRemoteOptions adds go-containerregistry options to every registry
// call, after the context, keychain and transport: the retry settings
// that go with a retrying WithTransport, so retries do not stack.
// Default none.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) error {
		o.remote = append(o.remote, opts...)
		return nil
	}
}

// WithGitHubAPI sets the GitHub REST API used to delete GHCR package
// versions and the token it is called with. Default https://api.github.com
// and no token (GHCR cleanup then keeps tags and says why). For GitHub
// Enterprise Server use https://HOST/api/v3.
func WithGitHubAPI(baseURL, token string) Option {
	return func(o *options) error {
		u, err := apiBase(baseURL)
		if err != nil {
			return fmt.Errorf("WithGitHubAPI: %w", err)
		}
		o.githubURL, o.githubToken = u, token
		return nil
	}
}

// WithGitHubPoll sets how often the GitHub package versions are listed
// before the freshly pushed tombstone shows up there, and the pause between
// listings. Default 5 tries, 2s apart.
func WithGitHubPoll(tries int, every time.Duration) Option {
	return func(o *options) error {
		if tries < 1 || every < 0 {
			return fmt.Errorf("WithGitHubPoll: need tries >= 1 and every >= 0, got %d, %s", tries, every)
		}
		o.pollTries, o.pollEvery = tries, every
		return nil
	}
}

// WithDockerHubAPI sets the Docker Hub API base URL. Default
// https://hub.docker.com.
func WithDockerHubAPI(baseURL string) Option {
	return func(o *options) error {
		u, err := apiBase(baseURL)
		if err != nil {
			return fmt.Errorf("WithDockerHubAPI: %w", err)
		}
		o.hubURL = u
		return nil
	}
}

// WithGitLab marks registryHost as a GitLab container registry and sets the
// GitLab REST API (CI_API_V4_URL), the project (CI_PROJECT_ID or its path)
// and the CI job token used when the registry refuses the OCI tag DELETE.
// Only the registry host is required: without a usable API URL, project
// or job token the API is not called, the registry's own tombstone is
// tried instead, and a tag still kept names what was missing. Default
// none: no host is treated as GitLab.
func WithGitLab(registryHost, apiURL, projectID, jobToken string) Option {
	return func(o *options) error {
		if registryHost == "" {
			return errors.New("the GitLab registry host (CI_REGISTRY) is empty")
		}
		o.kinds[hosts.Canonical(registryHost)] = KindGitLab
		o.gitlab = true
		o.gitlabProject, o.gitlabJobToken = projectID, jobToken
		o.gitlabUnusable = nil
		u, err := apiBase(apiURL)
		if err != nil {
			o.gitlabUnusable = append(o.gitlabUnusable, "CI_API_V4_URL is not usable: "+err.Error())
		}
		o.gitlabAPI = u
		if projectID == "" {
			o.gitlabUnusable = append(o.gitlabUnusable, "CI_PROJECT_ID is not set")
		}
		if jobToken == "" {
			o.gitlabUnusable = append(o.gitlabUnusable, "CI_JOB_TOKEN is not set")
		}
		return nil
	}
}

// WithGitHubServer marks the container registries of the GitHub instance at
// serverURL (GITHUB_SERVER_URL) as KindGHCR: ghcr.io and, for GitHub
// Enterprise Server or GHE.com, containers.HOST (hosts.GitHub). Pair it with
// WithGitHubAPI for that instance's REST API. Default: only ghcr.io is
// KindGHCR.
func WithGitHubServer(serverURL string) Option {
	return func(o *options) error {
		for _, h := range hosts.GitHub(serverURL) {
			o.kinds[hosts.Canonical(h)] = KindGHCR
		}
		return nil
	}
}

// WithInsecureRegistries lists host:port registries that serve plain HTTP
// (the insecure-registries input, as given to the publishing side). Every
// reference cleanup parses or is handed on such a host is marked for plain
// HTTP, as go-containerregistry otherwise tries a DNS name over HTTPS only.
// Default: none.
func WithInsecureRegistries(registries []string) Option {
	return func(o *options) error {
		o.insecureList = append(o.insecureList, registries...)
		return nil
	}
}

// WithRegistryKind overrides which strategy is used for host (host[:port] as
// written in references; Docker Hub's aliases are one host). Default:
// ghcr.io (and the WithGitHubServer hosts) is KindGHCR, Docker Hub under
// any of its names is KindDockerHub, the WithGitLab host is KindGitLab,
// everything else KindGeneric. KindGitLab needs WithGitLab.
func WithRegistryKind(host string, kind Kind) Option {
	return func(o *options) error {
		if host == "" {
			return errors.New("WithRegistryKind: empty host")
		}
		if kind < KindGeneric || kind > KindGitLab {
			return fmt.Errorf("WithRegistryKind: unknown kind %d", kind)
		}
		o.kinds[hosts.Canonical(host)] = kind
		return nil
	}
}

// WithDryRun makes Delete report what it would delete without writing
// anything. Default false.
func WithDryRun(dry bool) Option {
	return func(o *options) error {
		o.dryRun = dry
		return nil
	}
}

// WithLogger receives progress and diagnostics. Default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithJobs bounds how many tags are deleted concurrently. Default 4.
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithJobs: need at least 1, got %d", n)
		}
		o.jobs = n
		return nil
	}
}

// WithPageSize asks registries for this many tags per page when Expand
// lists a repository (the n parameter); pages are followed through their
// Link headers. Default 0: ggcr's default (1000).
func WithPageSize(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("WithPageSize: negative page size %d", n)
		}
		o.pageSize = n
		return nil
	}
}

func makeOptions(opts ...Option) (*options, error) {
	o := &options{
		keychain:  authn.NewMultiKeychain(), // resolves to anonymous
		transport: remote.DefaultTransport,
		logger:    slog.New(slog.DiscardHandler),
		jobs:      4,
		list:      defaultListLimits,
		githubURL: "https://api.github.com",
		pollTries: 5,
		pollEvery: 2 * time.Second,
		hubURL:    "https://hub.docker.com",
		kinds:     map[string]Kind{hosts.GHCR: KindGHCR, hosts.DockerHub: KindDockerHub},
		nonce:     randomNonce,
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	o.insecure = hosts.NewInsecure(o.insecureList...)
	for host, k := range o.kinds {
		if k == KindGitLab && !o.gitlab {
			return nil, fmt.Errorf("registry %s is marked as GitLab but WithGitLab was not given", host)
		}
	}
	return o, nil
}

func (o *options) kindOf(host string) Kind {
	return o.kinds[hosts.Canonical(host)]
}

// apiBase checks an API base URL and drops a trailing slash.
func apiBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parsing API URL %q: %w", raw, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("API URL %q must be an absolute http(s) URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("API URL %q must not carry a query or fragment", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

func randomNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading random nonce: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
