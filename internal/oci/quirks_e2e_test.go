package oci

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/retry"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

const quirkUser, quirkPassword = "owner", "pw-quirks-e2e-7Kx"

// quirkSite is a real registry behind a QuirkProxy, with token auth when
// asked for.
type quirkSite struct {
	reg   *registrytest.Registry
	proxy *registrytest.QuirkProxy
	ts    *registrytest.TokenServer
	// insecure are the plain-HTTP hosts a client of the site reaches.
	insecure []string
}

func startQuirkSite(t *testing.T, token bool, quirks func(*registrytest.TokenServer) []registrytest.Quirk) *quirkSite {
	t.Helper()
	s := &quirkSite{}
	var opts []registrytest.Option
	if token {
		s.ts = registrytest.NewTokenServer(t, quirkUser, quirkPassword)
		opts = append(opts, registrytest.WithConfig(s.ts.Config()))
		realm, err := url.Parse(s.ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		s.insecure = append(s.insecure, realm.Host)
	}
	s.reg = registrytest.Start(t, opts...)
	var qs []registrytest.Quirk
	if quirks != nil {
		qs = quirks(s.ts)
	}
	s.proxy = registrytest.StartQuirkProxy(t, s.reg, qs...)
	s.insecure = append(s.insecure, s.reg.Host, s.proxy.Host)
	if s.proxy.StorageHost != "" {
		s.insecure = append(s.insecure, s.proxy.StorageHost)
	}
	return s
}

// auth is what writes behind the proxy's back need.
func (s *quirkSite) auth() []remote.Option {
	if s.ts == nil {
		return nil
	}
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: quirkUser, Password: quirkPassword})}
}

// seed writes one image per architecture to the registry itself, as
// repo:arch, and returns them as references through the proxy.
func (s *quirkSite) seed(t *testing.T, repo string, archs ...string) []plan.Ref {
	t.Helper()
	var refs []plan.Ref
	for _, arch := range archs {
		direct, err := name.ParseReference(s.reg.Host+"/"+repo+":"+arch, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(direct, randomImage(t, arch), s.auth()...); err != nil {
			t.Fatal(err)
		}
		ref, err := plan.ParseRef(s.proxy.Host+"/"+repo+":"+arch, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	return refs
}

// check reads repo:tag from the registry itself with go-containerregistry
// and validates the whole index, blobs included.
func (s *quirkSite) check(t *testing.T, repoTag string, want v1.Hash) {
	t.Helper()
	ref, err := name.ParseReference(s.reg.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref, s.auth()...)
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	if d, _ := idx.Digest(); d != want {
		t.Errorf("%s = %s, want %s", ref, d, want)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("%s: %v", ref, err)
	}
}

// assembler reaches every host of sites, with the test's credential for
// token sites, and retries with waits of milliseconds.
func quirkAssembler(t *testing.T, sites ...*quirkSite) *Assembler {
	t.Helper()
	return quirkAssemblerWith(t, nil, sites...)
}

// quirkAssemblerWith is quirkAssembler with more client options.
func quirkAssemblerWith(t *testing.T, more []client.Option, sites ...*quirkSite) *Assembler {
	t.Helper()
	var insecure []string
	for _, s := range sites {
		insecure = append(insecure, s.insecure...)
	}
	a, err := newAssembler(append([]client.Option{
		client.WithInsecureRegistries(insecure),
		client.WithKeychain(staticKeychain{authn.AuthConfig{Username: quirkUser, Password: quirkPassword}}),
		client.WithRetry(retry.WithBackoff(time.Millisecond, 5*time.Millisecond)),
	}, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// join assembles sources and publishes them to targets.
func join(t *testing.T, a *Assembler, sources []plan.Ref, targets ...string) (*assembly.Assembly, error) {
	t.Helper()
	ctx := context.Background()
	var tgts []plan.Ref
	for _, s := range targets {
		r, err := plan.ParseRef(s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		tgts = append(tgts, r)
	}
	as, err := a.Assemble(ctx, Plan{Sources: sources, Targets: tgts})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Publish(ctx, as)
	return as, err
}

// TestQuirkMountRefused joins images of one repository into another of
// the same registry, whose mount the registry refuses as Harbor (401) and
// Docker Hub (403, empty body) have: every blob is uploaded instead, and
// no credential error is reported, with and without token auth.
func TestQuirkMountRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		token  bool
		status int
		body   string
	}{
		{name: "harbor 401 open", status: http.StatusUnauthorized, body: `{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized to access repository"}]}`},
		{name: "harbor 401 token", token: true, status: http.StatusUnauthorized, body: `{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized to access repository"}]}`},
		{name: "docker hub 403 empty open", status: http.StatusForbidden},
		{name: "docker hub 403 empty token", token: true, status: http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := registrytest.MountRefused(tt.status, tt.body)
			s := startQuirkSite(t, tt.token, func(*registrytest.TokenServer) []registrytest.Quirk { return []registrytest.Quirk{q} })
			src := s.seed(t, "team/src", "amd64", "arm64")
			as, err := join(t, quirkAssembler(t, s), src, s.proxy.Host+"/team/app:1", s.proxy.Host+"/other/app:1")
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if s.proxy.Answered(q.Name) == 0 {
				t.Error("no mount was refused: the test tests nothing")
			}
			s.check(t, "team/app:1", as.Digest)
			s.check(t, "other/app:1", as.Digest)
		})
	}
}

// TestQuirkRateLimits: what public registries answer when they throttle
// is waited out with backoff; a 403 that denies access is not retried.
func TestQuirkRateLimits(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		token  bool
		quirk  func(*registrytest.TokenServer) registrytest.Quirk
		want   int  // requests the quirk answered
		denied bool // the publish fails with a 403
	}{
		{name: "docker hub 429 html", quirk: func(*registrytest.TokenServer) registrytest.Quirk { return registrytest.RateLimitedHTML(3) }, want: 3},
		{name: "ghcr 403 secondary rate limit", quirk: func(*registrytest.TokenServer) registrytest.Quirk { return registrytest.SecondaryRateLimit(2) }, want: 2},
		{name: "ecr put image throttled", quirk: func(*registrytest.TokenServer) registrytest.Quirk { return registrytest.ManifestPutThrottled(2) }, want: 2},
		{name: "quay token endpoint 429", token: true, quirk: func(ts *registrytest.TokenServer) registrytest.Quirk { return registrytest.TokenRateLimited(ts, 2) }, want: 2},
		// Two 403s: the mount from team/src, then the upload without it;
		// neither is sent again.
		{name: "403 access denied", quirk: func(*registrytest.TokenServer) registrytest.Quirk { return registrytest.PushDenied() }, want: 2, denied: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var q registrytest.Quirk
			s := startQuirkSite(t, tt.token, func(ts *registrytest.TokenServer) []registrytest.Quirk {
				q = tt.quirk(ts)
				return []registrytest.Quirk{q}
			})
			src := s.seed(t, "team/src", "amd64", "arm64")
			// One request at a time: the counts are exact.
			a := quirkAssemblerWith(t, []client.Option{client.WithJobs(1)}, s)
			as, err := join(t, a, src, s.proxy.Host+"/team/app:1")
			if got := s.proxy.Answered(q.Name); got != tt.want {
				t.Errorf("quirk %s answered %d requests, want %d", q.Name, got, tt.want)
			}
			if !tt.denied {
				if err != nil {
					t.Fatalf("Publish: %v", err)
				}
				s.check(t, "team/app:1", as.Digest)
				return
			}
			var te *transport.Error
			if !errors.As(err, &te) || te.StatusCode != http.StatusForbidden {
				t.Fatalf("Publish: %v, want the registry's 403", err)
			}
			if _, status := s.reg.TryManifest(t, "team/app", "1"); status == http.StatusOK {
				t.Error("team/app:1 exists after a refused publish")
			}
		})
	}
}

// TestQuirkObjectStorage: uploads sent to a Location on another host and
// blob reads redirected there (307) are followed, and the registry's
// Authorization never goes to that host.
func TestQuirkObjectStorage(t *testing.T) {
	t.Parallel()
	from := startQuirkSite(t, true, func(*registrytest.TokenServer) []registrytest.Quirk {
		return []registrytest.Quirk{registrytest.BlobRedirect()}
	})
	to := startQuirkSite(t, true, func(*registrytest.TokenServer) []registrytest.Quirk {
		return []registrytest.Quirk{registrytest.ForeignUploads()}
	})
	src := from.seed(t, "team/src", "amd64", "arm64")
	as, err := join(t, quirkAssembler(t, from, to), src, to.proxy.Host+"/team/app:1")
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	to.check(t, "team/app:1", as.Digest)
	for _, s := range []*quirkSite{from, to} {
		got := s.proxy.Storage.Requests()
		if len(got) == 0 {
			t.Errorf("storage of %s received nothing: the test tests nothing", s.proxy.Host)
		}
		for _, q := range got {
			if q.Auth {
				t.Errorf("storage %s received the registry's Authorization: %s", s.proxy.StorageHost, q)
			}
		}
	}
}

// TestQuirkIndexRefused: a registry that refuses OCI indexes fails the
// publish with ErrIndexRefused, before any tag moves.
func TestQuirkIndexRefused(t *testing.T) {
	t.Parallel()
	s := startQuirkSite(t, false, func(*registrytest.TokenServer) []registrytest.Quirk {
		return []registrytest.Quirk{registrytest.OCIIndexRefused()}
	})
	src := s.seed(t, "team/src", "amd64", "arm64")
	_, err := join(t, quirkAssembler(t, s), src, s.proxy.Host+"/team/app:1", s.proxy.Host+"/team/app:2")
	if !errors.Is(err, publish.ErrIndexRefused) {
		t.Fatalf("Publish: %v, want ErrIndexRefused", err)
	}
	if tags := s.reg.Tags(t, "team/app"); len(tags) != 0 {
		t.Errorf("tags %v moved", tags)
	}
}

// TestQuirkImmutableTags: on a registry with immutable tags (ECR), a
// re-run, and a run adding a tag beside one already at the index, write
// no tag again; a tag at another image fails with ErrImmutableTag.
func TestQuirkImmutableTags(t *testing.T) {
	t.Parallel()
	q := registrytest.ImmutableTags()
	s := startQuirkSite(t, false, func(*registrytest.TokenServer) []registrytest.Quirk { return []registrytest.Quirk{q} })
	src := s.seed(t, "team/src", "amd64", "arm64")
	a := quirkAssembler(t, s)
	as, err := join(t, a, src, s.proxy.Host+"/team/app:1.0")
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if _, err := join(t, a, src, s.proxy.Host+"/team/app:1.0"); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if got := s.proxy.Answered(q.Name); got != 0 {
		t.Errorf("the re-run wrote %d tags again", got)
	}
	// The new tag first: the run reads it (missing), not 1.0.
	if _, err := join(t, a, src, s.proxy.Host+"/team/app:latest", s.proxy.Host+"/team/app:1.0"); err != nil {
		t.Fatalf("run adding a tag: %v", err)
	}
	s.check(t, "team/app:latest", as.Digest)
	s.check(t, "team/app:1.0", as.Digest)

	other := s.seed(t, "team/other", "amd64")
	_, err = join(t, a, other, s.proxy.Host+"/team/app:1.0")
	if !errors.Is(err, publish.ErrImmutableTag) {
		t.Fatalf("moving an immutable tag: %v, want ErrImmutableTag", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q, want one line", err)
	}
	s.check(t, "team/app:1.0", as.Digest)
}
