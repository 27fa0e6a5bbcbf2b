package test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// revokingProxy stands in front of a token-auth registry and, at the
// first manifest PUT, revokes every bearer token seen so far: requests
// carrying one get the registry's 401 challenge, as when a token expires
// mid-run.
type revokingProxy struct {
	mu        sync.Mutex
	seen      map[string]bool
	revoked   map[string]bool
	challenge string
	rejected  int
}

func (p *revokingProxy) handler(upstream *httputil.ReverseProxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		p.mu.Lock()
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && p.revoked == nil {
			p.revoked = p.seen
			p.seen = map[string]bool{}
		}
		if p.revoked[authz] && p.challenge != "" {
			p.rejected++
			challenge := p.challenge
			p.mu.Unlock()
			w.Header().Set("WWW-Authenticate", challenge)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}`, http.StatusUnauthorized)
			return
		}
		if strings.HasPrefix(authz, "Bearer ") {
			p.seen[authz] = true
		}
		p.mu.Unlock()
		upstream.ServeHTTP(w, r)
	})
}

// TestExpiredTokenIsRefreshed: tokens that stop working halfway through a
// publish are replaced by new ones and the refused requests are sent
// again, so the run succeeds.
func TestExpiredTokenIsRefreshed(t *testing.T) {
	t.Parallel()
	const user, password = "ci", "tok-refresh-Pw-41"
	ts := registrytest.NewTokenServer(t, user, password)
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3), registrytest.WithConfig(ts.Config()))
	for tag, p := range map[string]string{"tmp-amd64": "amd64", "tmp-arm64": "arm64"} {
		ref, err := name.ParseReference(reg.Host + "/o/app:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		plat := amd64
		if p == "arm64" {
			plat = arm64
		}
		if err := remote.Write(ref, platformImage(t, plat), remote.WithAuth(&authn.Basic{Username: user, Password: password})); err != nil {
			t.Fatal(err)
		}
	}

	p := &revokingProxy{seen: map[string]bool{}}
	rp := httputil.NewSingleHostReverseProxy(upstreamURL(t, reg))
	rp.ModifyResponse = func(resp *http.Response) error {
		if c := resp.Header.Get("WWW-Authenticate"); resp.StatusCode == http.StatusUnauthorized && c != "" {
			p.mu.Lock()
			p.challenge = c
			p.mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(p.handler(rp))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	realm, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	before := len(ts.Requests())
	res := runAction(t, map[string]string{
		"images":              host + "/o/app:tmp-amd64," + host + "/o/app:tmp-arm64",
		"tags":                host + "/o/app:1," + host + "/rel/app:1",
		"insecure-registries": host + "," + realm.Host, // the token realm is plain HTTP too
		"registry-auth":       "- registry: " + host + "\n  username: " + user + "\n  password: " + password,
	})
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	p.mu.Lock()
	rejected := p.rejected
	p.mu.Unlock()
	if rejected == 0 {
		t.Fatalf("no request carried a revoked token; the test did not revoke anything")
	}
	t.Logf("%d requests refused with a revoked token; %d token requests in all", rejected, len(ts.Requests())-before)
	for _, ref := range []string{reg.Host + "/o/app:1", reg.Host + "/rel/app:1"} {
		raw, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", user+":"+password, "docker://"+ref).Output()
		if err != nil || "sha256:"+sha256Hex(raw) != res.outputs["digest"] {
			t.Errorf("%s does not read back as %s (%v)", ref, res.outputs["digest"], err)
		}
	}
}
