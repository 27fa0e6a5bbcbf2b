package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/stack"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

func isPing(q registrytest.Request) bool { return q.Method == http.MethodGet && q.Path == "/v2/" }

// staticKeychain gives every registry the same credential.
type staticKeychain struct{ cfg authn.AuthConfig }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(k.cfg), nil
}

// testRegistry is ggcr's in-memory registry behind a recorder, over plain
// HTTP or TLS, with what Assembler options reach it.
type testRegistry struct {
	*registrytest.Recorder
	host string
	opts []client.Option // transport and insecure-registries
	name name.Option     // for references, as the inputs parse them
	push []remote.Option
}

func newTestRegistry(t *testing.T, useTLS bool, wrap func(http.Handler) http.Handler) *testRegistry {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	rec := registrytest.NewRecorder()
	c := rec.Handler(h)
	r := &testRegistry{Recorder: rec}
	if useTLS {
		srv := httptest.NewTLSServer(c)
		t.Cleanup(srv.Close)
		r.host = strings.TrimPrefix(srv.URL, "https://")
		r.opts = []client.Option{client.WithTransport(srv.Client().Transport)}
		r.name = name.WeakValidation
		r.push = []remote.Option{remote.WithTransport(srv.Client().Transport)}
		return r
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	r.opts = []client.Option{client.WithInsecureRegistries([]string{r.host})}
	r.name = name.Insecure
	return r
}

// seed pushes a random image to repo:1 behind the recorder's back.
func (r *testRegistry) seed(t *testing.T, repo string) (plan.Ref, v1.Hash) {
	t.Helper()
	img := randomImage(t, "amd64")
	ref, err := plan.ParseRef(r.host+"/"+repo+":1", r.name)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref.Reference(), img, r.push...); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	r.Reset()
	return ref, d
}

// randomImage is a random image of two layers for linux/arch.
func randomImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	return randomImageOf(t, arch, 512, 2)
}

// randomImageOf is a random image of layers layers of size bytes each
// for linux/arch.
func randomImageOf(t *testing.T, arch string, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// readThrough resolves src with a and reads all of it, checking every
// digest (validate.Image); it returns the image's digest.
func readThrough(t *testing.T, a *Assembler, src plan.Ref) v1.Hash {
	t.Helper()
	got, err := a.Resolve(context.Background(), src)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", src, err)
	}
	img, ok := got.(v1.Image)
	if !ok {
		t.Fatalf("Resolve(%s) = %T, want an image", src, got)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("reading %s: %v", src, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAnonymousReadsSendNoPing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		tls  bool
	}{
		{name: "plain HTTP listed insecure"},
		{name: "HTTPS", tls: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newTestRegistry(t, tt.tls, nil)
			srcA, wantA := reg.seed(t, "o/a")
			srcB, wantB := reg.seed(t, "o/b")
			a, err := newAssembler(reg.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := readThrough(t, a, srcA); got != wantA {
				t.Errorf("read %s = %s, want %s", srcA, got, wantA)
			}
			if got := readThrough(t, a, srcB); got != wantB {
				t.Errorf("read %s = %s, want %s", srcB, got, wantB)
			}
			if got := reg.CountFunc(isPing); got != 0 {
				t.Errorf("%d pings, want none: %v", got, reg.Requests())
			}
			if got := reg.CountFunc(func(q registrytest.Request) bool { return q.Status != http.StatusOK }); got != 0 {
				t.Errorf("%d requests not answered 200: %v", got, reg.Requests())
			}
		})
	}
}

func TestCredentialedHostPingsOnce(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, false, nil)
	srcA, _ := reg.seed(t, "o/a")
	srcB, _ := reg.seed(t, "o/b")
	kc := staticKeychain{authn.AuthConfig{Username: "u", Password: "pw-lazy-ping-1"}}
	a, err := newAssembler(append(reg.opts, client.WithKeychain(kc))...)
	if err != nil {
		t.Fatal(err)
	}
	readThrough(t, a, srcA)
	readThrough(t, a, srcB)
	if got := reg.CountFunc(isPing); got != 1 {
		t.Errorf("%d pings, want 1: %v", got, reg.Requests())
	}
	if got := reg.CountFunc(func(q registrytest.Request) bool { return !isPing(q) && !q.Auth }); got != 0 {
		t.Errorf("%d requests without the credential: %v", got, reg.Requests())
	}
}

// challenging answers every request without Authorization with a 401
// carrying challenge (none when empty).
func challenging(challenge string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				if challenge != "" {
					w.Header().Set("WWW-Authenticate", challenge)
				}
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestNonBearer401IsTheAnswer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, challenge string }{
		{name: "basic", challenge: `Basic realm="registry"`},
		{name: "no challenge"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newTestRegistry(t, false, challenging(tt.challenge))
			src, err := plan.ParseRef(reg.host+"/o/a:1", reg.name)
			if err != nil {
				t.Fatal(err)
			}
			a, err := newAssembler(reg.opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Resolve(context.Background(), src)
			var te *transport.Error
			if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
				t.Fatalf("Resolve() error = %v, want a 401 *transport.Error", err)
			}
			if got, want := reg.CountFunc(func(registrytest.Request) bool { return true }), 1; got != want {
				t.Errorf("%d requests, want %d (the read, refused): %v", got, want, reg.Requests())
			}
		})
	}
}

// ownRealm puts bearer-token auth in front of a registry with the realm
// on the registry's own host under /v2/, as quay.io does: anonymous
// clients get a token for anything, so an anonymous push works too.
func ownRealm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/auth" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"token": "tok-" + r.URL.Query().Get("scope")})
			return
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") {
			scope := "repository:" + repoOrEmpty(r.URL.Path) + ":pull"
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				scope += ",push"
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/v2/auth",service="test",scope="`+scope+`"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func repoOrEmpty(path string) string {
	repo, _ := stack.Repository(path)
	return repo
}

func TestBearerChallengeUpgradesAnonymousRequests(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, false, ownRealm)
	reg.push = []remote.Option{remote.WithAuth(authn.Anonymous)}
	srcA, wantA := reg.seed(t, "o/a")
	srcB, wantB := reg.seed(t, "o/b")
	a, err := newAssembler(reg.opts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := readThrough(t, a, srcA); got != wantA {
		t.Errorf("read %s = %s, want %s", srcA, got, wantA)
	}
	if got := readThrough(t, a, srcB); got != wantB {
		t.Errorf("read %s = %s, want %s", srcB, got, wantB)
	}
	// The first read meets the challenge where a ping would have; the
	// second repository's ping is answered with it.
	if got := reg.CountFunc(isPing); got != 0 {
		t.Errorf("%d pings, want none: %v", got, reg.Requests())
	}
	if got := reg.CountFunc(func(q registrytest.Request) bool { return q.Status == http.StatusUnauthorized }); got != 1 {
		t.Errorf("%d 401s, want 1: %v", got, reg.Requests())
	}
	if got := reg.CountFunc(func(q registrytest.Request) bool { return q.Path == "/v2/auth" }); got != 2 {
		t.Errorf("%d token requests, want 2 (one per repository): %v", got, reg.Requests())
	}

	// A push that is the first contact with the registry: it meets the
	// challenge and carries on with the token.
	ctx := context.Background()
	dst, err := plan.ParseRef(reg.host+"/o/dst:1", reg.name)
	if err != nil {
		t.Fatal(err)
	}
	as, err := a.Assemble(ctx, Plan{Sources: []plan.Ref{srcA}, Targets: []plan.Ref{dst}})
	if err != nil {
		t.Fatal(err)
	}
	pusher, err := newAssembler(reg.opts...)
	if err != nil {
		t.Fatal(err)
	}
	// The same targets, through the new client.
	as.Targets = publish.NewTargets(pusher.c, []plan.Ref{dst}, false)
	n401 := reg.CountFunc(func(q registrytest.Request) bool { return q.Status == http.StatusUnauthorized })
	if _, err := pusher.Publish(ctx, as); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got := reg.CountFunc(func(q registrytest.Request) bool { return q.Status == http.StatusUnauthorized }) - n401; got < 1 {
		t.Errorf("the push met %d challenges, want at least 1: %v", got, reg.Requests())
	}
	idx, err := remote.Index(dst.Reference(), reg.push...)
	if err != nil {
		t.Fatalf("reading %s back: %v", dst, err)
	}
	if d, err := idx.Digest(); err != nil || d != as.Digest {
		t.Errorf("%s = %v (%v), want %s", dst, d, err, as.Digest)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("validate.Index(%s): %v", dst, err)
	}
}

// onceReader is a body that cannot be read twice.
type onceReader struct{ io.Reader }

func TestChallengeSendsTheBodyAgain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		rewindable bool
		want       int
	}{
		{name: "rewindable body", rewindable: true, want: http.StatusCreated},
		{name: "body read once", want: http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newTestRegistry(t, false, ownRealm)
			reg.push = []remote.Option{remote.WithAuth(authn.Anonymous)}
			src, _ := reg.seed(t, "o/a")
			desc, err := remote.Get(src.Reference(), reg.push...)
			if err != nil {
				t.Fatal(err)
			}
			reg.Reset()
			// The client's stack, as client.New builds it for this
			// plain-HTTP registry.
			st, err := stack.New(remote.DefaultTransport, authn.NewMultiKeychain(), hosts.NewInsecure(reg.host),
				slog.New(slog.DiscardHandler), "oci-assemble", nil)
			if err != nil {
				t.Fatal(err)
			}
			// What ggcr does first: resolve the credential, then ping.
			if _, err := st.Keychain.Resolve(src.Repo); err != nil {
				t.Fatal(err)
			}
			ch, err := transport.Ping(context.Background(), src.Repo.Registry, st.Lazy)
			if err != nil || ch.Scheme != "" || !ch.Insecure {
				t.Fatalf("Ping() = %+v, %v; want no challenge, over HTTP", ch, err)
			}

			u := "http://" + reg.host + "/v2/o/a/manifests/2"
			var req *http.Request
			if tt.rewindable {
				req, err = http.NewRequest(http.MethodPut, u, bytes.NewReader(desc.Manifest))
			} else {
				req, err = http.NewRequest(http.MethodPut, u, onceReader{bytes.NewReader(desc.Manifest)})
			}
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", string(desc.MediaType))
			resp, err := st.Lazy.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("PUT answered %d, want %d: %v", resp.StatusCode, tt.want, reg.Requests())
			}
			if got := reg.CountFunc(isPing); got != 0 {
				t.Errorf("%d pings, want none: %v", got, reg.Requests())
			}
			_, err = remote.Head(src.Repo.Tag("2"), reg.push...)
			if got := err == nil; got != tt.rewindable {
				t.Errorf("o/a:2 stored = %v (%v), want %v", got, err, tt.rewindable)
			}
		})
	}
}
