package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestTokenAuthScopes runs the bearer-token flow against distribution 2.8
// with a token server that records scopes: the keychain's credential must
// get a token for each operation with the scope that operation needs.
func TestTokenAuthScopes(t *testing.T) {
	t.Parallel()
	const user, password = "alice", "tok-pw-Zq81xv"
	ts := registrytest.NewTokenServer(t, user, password)
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2), registrytest.WithConfig(ts.Config()))
	kc, err := New(WithRegistryAuth([]Entry{{Registry: reg.Host, Username: user, Password: password}}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := []remote.Option{remote.WithAuthFromKeychain(kc), remote.WithContext(ctx)}

	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	src := mustRef(t, reg.Host+"/team/src:v1")
	if err := remote.Write(src, img, opts...); err != nil {
		t.Fatalf("pushing %s: %v", src, kc.Explain(err, src))
	}
	if want := "repository:team/src:push,pull"; !slices.Contains(ts.Scopes(), want) {
		t.Errorf("push scopes = %q, want %q among them", ts.Scopes(), want)
	}

	// Writing an image read from team/src to team/dst mounts its blobs,
	// which needs pull on the source repository in the same token.
	pulled, err := remote.Image(src, opts...)
	if err != nil {
		t.Fatalf("pulling %s: %v", src, err)
	}
	n := len(ts.Requests())
	dst := mustRef(t, reg.Host+"/team/dst:v1")
	if err := remote.Write(dst, pulled, opts...); err != nil {
		t.Fatalf("pushing %s: %v", dst, kc.Explain(err, dst))
	}
	var mountScopes []string
	for _, r := range ts.Requests()[n:] {
		mountScopes = append(mountScopes, r.Scopes...)
	}
	for _, want := range []string{"repository:team/dst:push,pull", "repository:team/src:pull"} {
		if !slices.Contains(mountScopes, want) {
			t.Errorf("mount scopes = %q, want %q among them", mountScopes, want)
		}
	}

	// Deleting needs the delete action (2.8 refuses tag DELETE: use the
	// digest).
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	byDigest := mustRef(t, fmt.Sprintf("%s/team/dst@%s", reg.Host, d))
	n = len(ts.Requests())
	if err := remote.Delete(byDigest, opts...); err != nil {
		t.Fatalf("deleting %s: %v", byDigest, kc.Explain(err, byDigest))
	}
	var deleteScopes []string
	for _, r := range ts.Requests()[n:] {
		deleteScopes = append(deleteScopes, r.Scopes...)
	}
	if !slices.ContainsFunc(deleteScopes, func(s string) bool {
		return strings.HasPrefix(s, "repository:team/dst:") && slices.Contains(strings.Split(s[strings.LastIndex(s, ":")+1:], ","), "delete")
	}) {
		t.Errorf("delete scopes = %q, want delete on repository:team/dst", deleteScopes)
	}
	if _, err := remote.Head(byDigest, opts...); err == nil {
		t.Errorf("HEAD %s after delete succeeded, want 404", byDigest)
	}
	for _, r := range ts.Requests() {
		if r.Status == http.StatusOK && r.Account != user {
			t.Errorf("token request %+v was not made with the keychain's credential", r)
		}
	}
}

// TestTokenAuthIdentityToken checks that a docker config identitytoken takes
// the OAuth2 refresh-token grant and works for a push.
func TestTokenAuthIdentityToken(t *testing.T) {
	t.Parallel()
	const idToken = "idtok-Jm2PqW9s"
	ts := registrytest.NewTokenServer(t, "bob", "unused-pw-8Hn", registrytest.WithRefreshToken(idToken))
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2), registrytest.WithConfig(ts.Config()))
	dir := t.TempDir()
	writeFile(t, dir, "config.json", fmt.Sprintf(`{"auths":{%q:{"identitytoken":%q}}}`, reg.Host, idToken))
	kc, err := New(WithGetenv(env(map[string]string{"DOCKER_CONFIG": dir})))
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, reg.Host+"/id/app:v1")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuthFromKeychain(kc), remote.WithContext(context.Background())); err != nil {
		t.Fatalf("pushing %s: %v", ref, kc.Explain(err, ref))
	}
	if !slices.ContainsFunc(ts.Requests(), func(r TokenRequest) bool { return r.Grant == "refresh_token" && r.Status == http.StatusOK }) {
		t.Errorf("token requests = %+v, want a successful refresh_token grant", ts.Requests())
	}
}

// TestTokenAuthAnonymousExplained checks the guidance for a push with no
// credential at all.
func TestTokenAuthAnonymousExplained(t *testing.T) {
	t.Parallel()
	ts := registrytest.NewTokenServer(t, "carol", "pw-carol-77Lk")
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2), registrytest.WithConfig(ts.Config()))
	kc, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, reg.Host+"/anon/app:v1")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = kc.Explain(remote.Write(ref, img, remote.WithAuthFromKeychain(kc)), ref)
	if err == nil {
		t.Fatal("anonymous push succeeded")
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		t.Errorf("Explain() lost the *transport.Error: %v", err)
	}
	for _, want := range []string{reg.Host, "repository anon/app", "none was found", "docker login " + reg.Host, "--registry-auth"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Explain() = %q, want it to contain %q", err, want)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TokenRequest is registrytest's, named here for brevity.
type TokenRequest = registrytest.TokenRequest
