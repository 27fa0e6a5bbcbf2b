package cleanup

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// sink is a second host that records whatever reaches it.
type sink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string // method, path, credential headers and body of each request
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path+" JOB-TOKEN="+r.Header.Get("JOB-TOKEN")+
			" Authorization="+r.Header.Get("Authorization")+" body="+string(body))
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"access_token": "stolen"})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// redirector answers every request with status and a Location on to.
func redirector(t *testing.T, status int, to string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to+r.URL.RequestURI(), status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAPIRedirectKeepsCredentials: a vendor API that redirects to another
// host (here another port on loopback: another origin) must not receive
// the credential header or the login body there. net/http forwards custom
// headers such as GitLab's JOB-TOKEN on any redirect, Authorization to the
// same host name on another port, and replays a POST body on 307 and 308.
func TestAPIRedirectKeepsCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		setup  func(t *testing.T, reg *memRegistry, api string) []Option
	}{
		{
			name: "GitLab JOB-TOKEN", status: http.StatusFound,
			setup: func(t *testing.T, reg *memRegistry, api string) []Option {
				return []Option{WithGitLab(reg.host, api+"/api/v4", "1217", "secret-job-token")}
			},
		},
		{
			name: "GitHub Authorization", status: http.StatusTemporaryRedirect,
			setup: func(t *testing.T, reg *memRegistry, api string) []Option {
				return []Option{WithRegistryKind(reg.host, KindGHCR), WithGitHubAPI(api, "secret-gh-token"), WithGitHubPoll(1, 0)}
			},
		},
		{
			name: "Docker Hub login body on 307", status: http.StatusTemporaryRedirect,
			setup: func(t *testing.T, reg *memRegistry, api string) []Option {
				return []Option{WithRegistryKind(reg.host, KindDockerHub), WithDockerHubAPI(api),
					WithKeychain(staticKeychain{host: reg.host, user: "me", password: "secret-password"})}
			},
		},
		{
			name: "Docker Hub login body on 308", status: http.StatusPermanentRedirect,
			setup: func(t *testing.T, reg *memRegistry, api string) []Option {
				return []Option{WithRegistryKind(reg.host, KindDockerHub), WithDockerHubAPI(api),
					WithKeychain(staticKeychain{host: reg.host, user: "me", password: "secret-password"})}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The registry refuses every delete, so only the API could
			// remove the tag.
			reg := newMemRegistry(t, func(m *memRegistry) { m.refuseTagDelete, m.refuseDigestDelete = true, true })
			s := newSink(t)
			api := redirector(t, tc.status, s.srv.URL)
			p := publish(t, reg.host, "group/proj/app")
			d, err := New(append(tc.setup(t, reg, api.URL), WithTransport(newRecorder()), WithLogger(testLogger(t)))...)
			if err != nil {
				t.Fatal(err)
			}

			res := d.Delete(context.Background(), p.tmpTags[:1], p.protected())

			if got := s.requests(); len(got) != 0 {
				t.Errorf("the other host received %q, want nothing", got)
			}
			if len(res.Kept) != 1 || !strings.Contains(res.Kept[0].Reason, "redirect") {
				t.Errorf("Kept = %+v, want the tag kept with a reason naming the refused redirect", res.Kept)
			}
		})
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, from, to string
		wantRefused    bool
	}{
		{name: "same origin, other path", from: "https://gitlab.example/api/v4/x", to: "https://gitlab.example/api/v4/y"},
		{name: "host case and default port", from: "https://gitlab.example/a", to: "https://GitLab.Example:443/b"},
		{name: "other host", from: "https://gitlab.example/a", to: "https://evil.example/a", wantRefused: true},
		{name: "subdomain", from: "https://gitlab.example/a", to: "https://x.gitlab.example/a", wantRefused: true},
		{name: "other port", from: "https://gitlab.example/a", to: "https://gitlab.example:8443/a", wantRefused: true},
		{name: "downgrade to http", from: "https://gitlab.example/a", to: "http://gitlab.example/a", wantRefused: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from, _ := url.Parse(tc.from)
			to, _ := url.Parse(tc.to)
			err := sameOrigin(&http.Request{URL: to}, []*http.Request{{URL: from}})
			if got := errors.Is(err, ErrCrossOriginRedirect); got != tc.wantRefused {
				t.Errorf("sameOrigin(%s -> %s) = %v, want refused %v", tc.from, tc.to, err, tc.wantRefused)
			}
		})
	}
}
