package cleanup

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// fakeGitHub follows the documented GitHub Packages REST API for one
// container package (https://docs.github.com/rest/packages/packages):
// versions are listed newest-last here, per_page is honoured up to its own
// page size, pages are linked with an RFC 8288 Link header (rel="next",
// rel="last") as https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api
// describes, and a version's name is its manifest digest. Deleting a
// version deletes the manifest and its tags in the backing registry, as
// GHCR does.
type fakeGitHub struct {
	t        *testing.T
	srv      *httptest.Server
	reg      *memRegistry
	token    string
	owner    string // org or user login
	repo     string // registry repository, owner/package
	asUser   bool   // the package belongs to the authenticated user
	pageSize int
	// deleteStatus, when set, refuses version deletes with that status.
	deleteStatus int

	mu     sync.Mutex
	head   []ghVersion // fillers, then every pushed manifest
	tail   []ghVersion // fillers listed after the pushed ones
	nextID int64
	tagOf  map[string]string // tag -> digest
	hits   []string
}

type ghVersion struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func newFakeGitHub(t *testing.T, owner, pkgPath string, configure func(*fakeGitHub)) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{t: t, token: "ghs_test", owner: owner, repo: owner + "/" + pkgPath, pageSize: 3, nextID: 100, tagOf: map[string]string{}}
	if configure != nil {
		configure(f)
	}
	for i := 0; i < 2; i++ {
		f.head = append(f.head, f.filler())
	}
	for i := 0; i < 3; i++ {
		f.tail = append(f.tail, f.filler())
	}
	f.reg = newMemRegistry(t, func(m *memRegistry) {
		m.refuseTagDelete = true
		m.refuseDigestDelete = true // GHCR answers 405 to every registry DELETE
		m.onPut = f.onPut
	})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) filler() ghVersion {
	f.nextID++
	return ghVersion{ID: f.nextID, Name: fmt.Sprintf("sha256:%064x", f.nextID)}
}

func (f *fakeGitHub) onPut(repo, ref, digest string) {
	if repo != f.repo {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.HasPrefix(ref, "sha256:") {
		f.tagOf[ref] = digest
	}
	for _, v := range f.head {
		if v.Name == digest {
			return
		}
	}
	f.nextID++
	f.head = append(f.head, ghVersion{ID: f.nextID, Name: digest})
}

func (f *fakeGitHub) versions() []ghVersion {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(append([]ghVersion(nil), f.head...), f.tail...)
}

func (f *fakeGitHub) hit() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.hits...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	f.mu.Lock()
	f.hits = append(f.hits, r.Method+" "+path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "missing GitHub media type or API version"})
		return
	}
	pkg := strings.ReplaceAll(strings.TrimPrefix(f.repo, f.owner+"/"), "/", "%2F")
	orgBase := "/orgs/" + f.owner + "/packages/container/" + pkg + "/versions"
	userBase := "/user/packages/container/" + pkg + "/versions"
	base := orgBase
	if f.asUser {
		base = userBase
	}
	notFound := func() { writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"}) }
	switch {
	case r.Method == http.MethodGet && path == base:
		if r.URL.Query().Get("per_page") != "100" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "test expects per_page=100"})
			return
		}
		all := f.versions()
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page < 1 {
			page = 1
		}
		last := (len(all) + f.pageSize - 1) / f.pageSize
		lo, hi := min((page-1)*f.pageSize, len(all)), min(page*f.pageSize, len(all))
		link := func(p int) string { return fmt.Sprintf("<%s%s?per_page=100&page=%d>", f.srv.URL, path, p) }
		if page < last {
			w.Header().Set("Link", link(page+1)+`; rel="next", `+link(last)+`; rel="last"`)
		}
		writeJSON(w, http.StatusOK, all[lo:hi])
	case r.Method == http.MethodDelete && strings.HasPrefix(path, base+"/"):
		id, err := strconv.ParseInt(strings.TrimPrefix(path, base+"/"), 10, 64)
		if err != nil {
			notFound()
			return
		}
		if f.deleteStatus != 0 {
			writeJSON(w, f.deleteStatus, map[string]string{"message": "Package version deletion is not allowed"})
			return
		}
		if !f.deleteVersion(id) {
			notFound()
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		notFound()
	}
}

func (f *fakeGitHub) deleteVersion(id int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.head, func(v ghVersion) bool { return v.ID == id })
	if i < 0 {
		return false
	}
	digest := f.head[i].Name
	f.head = slices.Delete(f.head, i, i+1)
	for tag, dg := range f.tagOf {
		if dg == digest {
			f.reg.deleteRef(f.repo, tag)
			delete(f.tagOf, tag)
		}
	}
	f.reg.deleteRef(f.repo, digest)
	return true
}

// TestGHCR deletes a temp tag on a registry that behaves like GHCR: every
// registry DELETE is refused, so the tag is moved onto a tombstone whose
// package version is deleted through the GitHub API.
func TestGHCR(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		configure    func(*fakeGitHub)
		token        string
		wantDeleted  bool
		wantReason   string
		wantHit      string // a request the API must have seen
		wantNoAPIHit bool
	}{
		{
			name:        "org package, tombstone on page 2",
			token:       "ghs_test",
			wantDeleted: true,
			wantHit:     "GET /orgs/o/packages/container/app%2Fsub/versions?per_page=100&page=2",
		},
		{
			name:        "user package after org 404",
			configure:   func(f *fakeGitHub) { f.asUser = true },
			token:       "ghs_test",
			wantDeleted: true,
			wantHit:     "GET /user/packages/container/app%2Fsub/versions?per_page=100&page=2",
		},
		{
			name:       "delete refused 403",
			configure:  func(f *fakeGitHub) { f.deleteStatus = http.StatusForbidden },
			token:      "ghs_test",
			wantReason: "GitHub refused to delete package version (403): the token needs packages: write and admin on the package",
		},
		{
			name:       "package invisible 404",
			configure:  func(f *fakeGitHub) { f.owner = "someone-else" },
			token:      "ghs_test",
			wantReason: "GitHub found no package app/sub owned by o or by the token's user (404)",
		},
		{
			name:       "bad token 401",
			token:      "wrong",
			wantReason: "GitHub rejected the token (401)",
		},
		{
			name:         "no token",
			token:        "",
			wantReason:   "no GitHub token",
			wantNoAPIHit: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gh := newFakeGitHub(t, "o", "app/sub", tc.configure)
			p := publish(t, gh.reg.host, "o/app/sub")
			rec := newRecorder()
			d, err := New(
				WithRegistryKind(gh.reg.host, KindGHCR),
				WithGitHubAPI(gh.srv.URL, tc.token),
				WithGitHubPoll(1, 0),
				WithTransport(rec),
				WithLogger(testLogger(t)),
			)
			if err != nil {
				t.Fatal(err)
			}
			tag := p.tmpTags[0]

			res := d.Delete(context.Background(), []name.Tag{tag}, p.protected())

			assertNoProtectedDeleted(t, rec, p.protected())
			if status, dg := gh.reg.get(t, "o/app/sub", "latest"); status != http.StatusOK || dg != p.index.String() {
				t.Errorf("index: status %d digest %s, want 200 %s", status, dg, p.index)
			}
			if status, _ := gh.reg.get(t, "o/app/sub", p.children[0].String()); status != http.StatusOK {
				t.Errorf("child by digest: status %d, want 200", status)
			}
			status, dg := gh.reg.get(t, "o/app/sub", "tmp-amd64")
			if tc.wantDeleted {
				if got, want := res.Deleted, []string{tag.String()}; !slices.Equal(got, want) {
					t.Fatalf("Deleted = %v, want %v (kept %v)", got, want, res.Kept)
				}
				if status != http.StatusNotFound {
					t.Errorf("temp tag: status %d, want 404", status)
				}
				tombs := tombstonesPut(t, rec)
				if len(tombs) != 1 {
					t.Fatalf("tombstones pushed = %v, want 1", tombs)
				}
				for _, v := range gh.versions() {
					if tombs[v.Name] {
						t.Errorf("tombstone version %s still listed", v.Name)
					}
				}
			} else {
				if len(res.Kept) != 1 || !strings.Contains(res.Kept[0].Reason, tc.wantReason) {
					t.Fatalf("Kept = %v, want reason containing %q", res.Kept, tc.wantReason)
				}
				if res.Kept[0].Fix == "" {
					t.Errorf("Kept[0].Fix is empty")
				}
				if status != http.StatusOK || dg != p.children[0].String() {
					t.Errorf("kept tag: status %d digest %s, want 200 %s (restored)", status, dg, p.children[0])
				}
			}
			if tc.wantHit != "" && !slices.Contains(gh.hit(), tc.wantHit) {
				t.Errorf("GitHub API hits = %v, want %q among them", gh.hit(), tc.wantHit)
			}
			if tc.wantNoAPIHit {
				if len(gh.hit()) != 0 {
					t.Errorf("GitHub API hits = %v, want none", gh.hit())
				}
				if n := rec.Count(http.MethodPut, "/manifests/"); n != 0 {
					t.Errorf("manifest PUTs = %d, want 0 (no tombstone without a token)", n)
				}
			}
		})
	}
}

func TestGHCRPackage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, repo, owner, pkg string
		wantErr                bool
	}{
		{name: "nested", repo: "ghcr.io/o/app/sub", owner: "o", pkg: "app%2Fsub"},
		{name: "flat", repo: "ghcr.io/o/app", owner: "o", pkg: "app"},
		{name: "owner only", repo: "ghcr.io/o", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repo, err := name.NewRepository(tc.repo)
			if err != nil {
				t.Fatal(err)
			}
			owner, pkg, err := ghcrPackage(repo)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ghcrPackage(%s) error = %v, want error %v", tc.repo, err, tc.wantErr)
			}
			if owner != tc.owner || pkg != tc.pkg {
				t.Errorf("ghcrPackage(%s) = %q, %q, want %q, %q", tc.repo, owner, pkg, tc.owner, tc.pkg)
			}
		})
	}
}
