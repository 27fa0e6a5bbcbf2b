package stack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// collector is another host a registry redirects to; it records what
// reached it.
type collector struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // Authorization header and body of each request
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		c.mu.Lock()
		c.seen = append(c.seen, r.Header.Get("Authorization")+" "+string(body))
		c.mu.Unlock()
		w.Write([]byte("blob"))
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

// host returns the collector's address spelt with localhost: another
// host than the registry's 127.0.0.1, so redirects to it cross hosts.
func (c *collector) host() string {
	return strings.Replace(strings.TrimPrefix(c.URL, "http://"), "127.0.0.1", "localhost", 1)
}

// TestNoCredentialLeavesItsHost: a registry that answers with a 307 to
// another host gets the request followed there without the credential
// it was sent with — a Basic or Bearer Authorization header, or a token
// request's form body (RFC 6749 section 6, a refresh token) resent on a
// 307 from the token endpoint.
func TestNoCredentialLeavesItsHost(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-refresh"
	for _, tc := range []struct {
		name string
		auth authn.Authenticator
		// bearer: the registry asks for a token; tokenHop: its token
		// endpoint answers the token request with a 307 to the collector.
		bearer, tokenHop bool
		// refused: the request must fail rather than follow.
		refused bool
	}{
		{name: "basic", auth: &authn.Basic{Username: "ci", Password: secret}},
		{name: "bearer", auth: &authn.Basic{Username: "ci", Password: secret}, bearer: true},
		{name: "token form on 307", auth: authn.FromConfig(authn.AuthConfig{IdentityToken: secret}), bearer: true, tokenHop: true, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t)
			var reg *httptest.Server
			reg = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/token" && tc.tokenHop:
					http.Redirect(w, r, "http://"+c.host()+"/token", http.StatusTemporaryRedirect)
				case r.URL.Path == "/token":
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"token":"registry-token-`+secret+`"}`)
				case r.Header.Get("Authorization") == "":
					if tc.bearer {
						w.Header().Set("WWW-Authenticate", `Bearer realm="`+reg.URL+`/token",service="reg"`)
					} else {
						w.Header().Set("WWW-Authenticate", `Basic realm="reg"`)
					}
					w.WriteHeader(http.StatusUnauthorized)
				case r.URL.Path == "/v2/":
					w.WriteHeader(http.StatusOK)
				default:
					http.Redirect(w, r, "http://"+c.host()+"/storage", http.StatusTemporaryRedirect)
				}
			}))
			t.Cleanup(reg.Close)
			regHost := strings.TrimPrefix(reg.URL, "http://")
			insecure := hosts.NewInsecure(regHost, c.host())
			st, err := New(http.DefaultTransport.(*http.Transport).Clone(), authn.NewMultiKeychain(), insecure, slog.New(slog.DiscardHandler), "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := name.NewRegistry(regHost, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			rt, err := transport.NewWithContext(ctx, r, tc.auth, st.Retry, []string{r.Repo("app").Scope(transport.PullScope)})
			if err == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, reg.URL+"/v2/app/blobs/sha256:ab", http.NoBody)
				var resp *http.Response
				if resp, err = (&http.Client{Transport: rt}).Do(req); err == nil {
					resp.Body.Close()
				}
			}
			if tc.refused && err == nil {
				t.Error("the request was followed, want it refused")
			}
			if !tc.refused && err != nil {
				t.Fatalf("GET blob: %v", err)
			}
			for _, got := range c.requests() {
				if strings.Contains(got, secret) || strings.TrimSpace(got) != "" {
					t.Errorf("the other host received %q, want no credential", got)
				}
			}
			if !tc.refused && len(c.requests()) == 0 {
				t.Error("the redirect was not followed")
			}
		})
	}
}

// TestLoginBodyStaysOnItsHost: a login POST (a form or JSON with a
// password) answered with 307 or 308 to another host is not sent there;
// the same redirect on its own host is followed.
func TestLoginBodyStaysOnItsHost(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-password"
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		sameHost                bool
	}{
		{name: "json 307", contentType: "application/json", body: `{"identifier":"ci","secret":"` + secret + `"}`, status: http.StatusTemporaryRedirect},
		{name: "json 308", contentType: "application/json; charset=utf-8", body: `{"secret":"` + secret + `"}`, status: http.StatusPermanentRedirect},
		{name: "form 307", contentType: "application/x-www-form-urlencoded", body: "password=" + secret, status: http.StatusTemporaryRedirect},
		{name: "json 307 on its own host", contentType: "application/json", body: `{"secret":"` + secret + `"}`, status: http.StatusTemporaryRedirect, sameHost: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t)
			target := "http://" + c.host() + "/login"
			if tc.sameHost {
				target = c.URL + "/login"
			}
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target, tc.status)
			}))
			t.Cleanup(api.Close)
			st, err := New(http.DefaultTransport.(*http.Transport).Clone(), authn.NewMultiKeychain(),
				hosts.NewInsecure(strings.TrimPrefix(api.URL, "http://"), c.host(), strings.TrimPrefix(c.URL, "http://")),
				slog.New(slog.DiscardHandler), "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, api.URL+"/login", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			resp, err := (&http.Client{Transport: st.Retry}).Do(req)
			if err == nil {
				resp.Body.Close()
			}
			got := c.requests()
			if tc.sameHost {
				if err != nil || len(got) != 1 {
					t.Errorf("redirect on its own host: %v, %d requests; want it followed", err, len(got))
				}
				return
			}
			if err == nil {
				t.Error("the redirect was followed, want it refused")
			}
			for _, g := range got {
				if strings.Contains(g, secret) {
					t.Errorf("the other host received %q", g)
				}
			}
		})
	}
}
