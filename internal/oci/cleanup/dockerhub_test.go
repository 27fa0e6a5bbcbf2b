package cleanup

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
)

// fakeHub follows the Docker Hub API
// (https://docs.docker.com/reference/api/hub/latest/): POST /v2/auth/token
// takes {"identifier","secret"} and answers {"access_token"} or 401
// {"detail"} (https://docs.docker.com/reference/api/hub/latest/operations/AuthCreateAccessToken/);
// DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/ with the
// bearer token answers 204 and removes the tag from the backing registry.
type fakeHub struct {
	srv          *httptest.Server
	reg          *memRegistry
	user, pass   string
	deleteStatus int

	mu     sync.Mutex
	logins int
	hits   []string
}

const fakeHubJWT = "hub-jwt"

func newFakeHub(t *testing.T, reg *memRegistry, configure func(*fakeHub)) *fakeHub {
	t.Helper()
	f := &fakeHub{reg: reg, user: "me", pass: "dckr_pat_x"}
	if configure != nil {
		configure(f)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits = append(f.hits, r.Method+" "+r.URL.EscapedPath())
	f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v2/auth/token":
		f.mu.Lock()
		f.logins++
		f.mu.Unlock()
		var creds struct {
			Identifier string `json:"identifier"`
			Secret     string `json:"secret"`
		}
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&creds) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "bad request"})
			return
		}
		if creds.Identifier != f.user || creds.Secret != f.pass {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Incorrect authentication credentials"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"access_token": fakeHubJWT})
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v2/repositories/") && strings.HasSuffix(r.URL.Path, "/"):
		if r.Header.Get("Authorization") != "Bearer "+fakeHubJWT {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "authentication required"})
			return
		}
		if f.deleteStatus != 0 {
			writeJSON(w, f.deleteStatus, map[string]string{"message": "permission denied"})
			return
		}
		// /v2/repositories/{namespace}/{repository}/tags/{tag}/
		parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v2/repositories/"), "/"), "/")
		if len(parts) != 4 || parts[2] != "tags" {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "not found"})
			return
		}
		f.reg.deleteRef(parts[0]+"/"+parts[1], parts[3])
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "not found"})
	}
}

// TestDockerHub deletes tags through the Hub API; the registry itself is
// never asked to delete or write anything.
func TestDockerHub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		configure  func(*fakeHub)
		keychain   func(host string) authn.Keychain
		wantReason string // empty: both tags deleted
		wantLogins int
	}{
		{
			name:       "login once, delete both",
			wantLogins: 1,
		},
		{
			name:       "delete refused 403",
			configure:  func(f *fakeHub) { f.deleteStatus = http.StatusForbidden },
			wantReason: "Docker Hub refused to delete the tag (403)",
			wantLogins: 1,
		},
		{
			name:       "wrong password",
			configure:  func(f *fakeHub) { f.pass = "other" },
			wantReason: "Docker Hub login failed (401: Incorrect authentication credentials)",
			wantLogins: 1,
		},
		{
			name:       "no credentials",
			keychain:   func(string) authn.Keychain { return authn.NewMultiKeychain() },
			wantReason: "no Docker Hub username and password",
			wantLogins: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newMemRegistry(t, nil)
			hub := newFakeHub(t, reg, tc.configure)
			p := publish(t, reg.host, "me/app")
			var kc authn.Keychain = staticKeychain{host: reg.host, user: "me", password: "dckr_pat_x"}
			if tc.keychain != nil {
				kc = tc.keychain(reg.host)
			}
			rec := newRecorder()
			d, err := New(
				WithRegistryKind(reg.host, KindDockerHub),
				WithDockerHubAPI(hub.srv.URL+"/"),
				WithKeychain(kc),
				WithTransport(rec),
				WithLogger(testLogger(t)),
			)
			if err != nil {
				t.Fatal(err)
			}

			res := d.Delete(context.Background(), p.tmpTags, p.protected())

			if n := rec.Count(http.MethodDelete, "/v2/me/app/") + rec.Count(http.MethodPut, "/v2/") + rec.Count(http.MethodPost, "/v2/me/"); n != 0 {
				t.Errorf("registry writes = %d, want 0: Hub tags go through the Hub API", n)
			}
			hub.mu.Lock()
			logins := hub.logins
			hub.mu.Unlock()
			if logins != tc.wantLogins {
				t.Errorf("logins = %d, want %d", logins, tc.wantLogins)
			}
			if status, _ := reg.get(t, "me/app", p.children[0].String()); status != http.StatusOK {
				t.Errorf("child by digest: status %d, want 200", status)
			}
			if tc.wantReason == "" {
				if got, want := res.Deleted, tagStrings(p.tmpTags); !slices.Equal(got, want) {
					t.Fatalf("Deleted = %v, want %v (kept %v)", got, want, res.Kept)
				}
				if status, _ := reg.get(t, "me/app", "tmp-amd64"); status != http.StatusNotFound {
					t.Errorf("temp tag: status %d, want 404", status)
				}
				hub.mu.Lock()
				hits := append([]string(nil), hub.hits...)
				hub.mu.Unlock()
				if !slices.Contains(hits, "DELETE /v2/repositories/me/app/tags/tmp-arm64/") {
					t.Errorf("Hub hits = %v, want the documented tag DELETE", hits)
				}
				return
			}
			if len(res.Kept) != len(p.tmpTags) {
				t.Fatalf("Kept = %v, want both tags", res.Kept)
			}
			for _, k := range res.Kept {
				if !strings.Contains(k.Reason, tc.wantReason) || k.Fix == "" {
					t.Errorf("Kept = %+v, want reason containing %q and a fix", k, tc.wantReason)
				}
			}
			if status, dg := reg.get(t, "me/app", "tmp-amd64"); status != http.StatusOK || dg != p.children[0].String() {
				t.Errorf("kept tag: status %d digest %s, want 200 %s", status, dg, p.children[0])
			}
		})
	}
}
