package cleanup

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitLab follows the GitLab container registry API
// (https://docs.gitlab.com/api/container_registry/): GET
// /projects/:id/registry/repositories lists {id, path} paginated with
// per_page/page and a Link header (https://docs.gitlab.com/api/rest/#pagination);
// DELETE /projects/:id/registry/repositories/:repository_id/tags/:tag_name
// answers 200 and removes the tag. Every request must carry the job token in
// JOB-TOKEN.
type fakeGitLab struct {
	srv          *httptest.Server
	reg          *memRegistry
	project      string // URL-escaped in paths
	jobToken     string
	repos        []glRepo
	pageSize     int
	deleteStatus int

	mu   sync.Mutex
	hits []string
}

type glRepo struct {
	ID   int64  `json:"id"`
	Path string `json:"path"`
}

func newFakeGitLab(t *testing.T, reg *memRegistry, configure func(*fakeGitLab)) *fakeGitLab {
	t.Helper()
	f := &fakeGitLab{
		reg:      reg,
		project:  "group/proj",
		jobToken: "job-token",
		pageSize: 2,
		repos:    []glRepo{{1, "group/proj"}, {2, "group/proj/other"}, {3, "group/proj/x"}, {7, "group/proj/app"}, {9, "group/proj/z"}},
	}
	if configure != nil {
		configure(f)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitLab) hit() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.hits...)
}

func (f *fakeGitLab) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	f.mu.Lock()
	f.hits = append(f.hits, r.Method+" "+path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	if r.Header.Get("JOB-TOKEN") != f.jobToken {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	base := "/api/v4/projects/" + strings.ReplaceAll(f.project, "/", "%2F") + "/registry/repositories"
	switch {
	case r.Method == http.MethodGet && path == base:
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page < 1 {
			page = 1
		}
		lo, hi := min((page-1)*f.pageSize, len(f.repos)), min(page*f.pageSize, len(f.repos))
		if hi < len(f.repos) {
			w.Header().Set("Link", fmt.Sprintf(`<%s%s?page=%d&per_page=100>; rel="next", <%s%s?page=1&per_page=100>; rel="first"`,
				f.srv.URL, path, page+1, f.srv.URL, path))
			w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
		}
		writeJSON(w, http.StatusOK, f.repos[lo:hi])
	case r.Method == http.MethodDelete && strings.HasPrefix(path, base+"/"):
		id, tag, ok := strings.Cut(strings.TrimPrefix(path, base+"/"), "/tags/")
		i := slices.IndexFunc(f.repos, func(g glRepo) bool { return strconv.FormatInt(g.ID, 10) == id })
		if !ok || i < 0 {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
			return
		}
		if f.deleteStatus != 0 {
			writeJSON(w, f.deleteStatus, map[string]string{"message": "403 Forbidden"})
			return
		}
		f.reg.deleteRef(f.repos[i].Path, tag)
		writeJSON(w, http.StatusOK, nil)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
	}
}

// TestGitLab: GitLab >= 16.4 deletes with the OCI tag DELETE; older
// instances refuse it and the GitLab API deletes the tag. Where the API
// fails too, the registry here refuses manifest deletes as well, so the
// tombstone tried after it fails and the tag is kept with the API's
// reason.
func TestGitLab(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		legacy      bool // registry refuses the tag DELETE
		configure   func(*fakeGitLab)
		jobToken    string
		wantReason  string // empty: deleted
		wantHit     string
		wantNoCalls bool
	}{
		{
			name:     "legacy, repository on page 2",
			legacy:   true,
			jobToken: "job-token",
			wantHit:  "DELETE /api/v4/projects/group%2Fproj/registry/repositories/7/tags/tmp-amd64?",
		},
		{
			name:        "16.4+ OCI tag delete, API unused",
			jobToken:    "job-token",
			wantNoCalls: true,
		},
		{
			name:       "job token rejected",
			legacy:     true,
			jobToken:   "stale",
			wantReason: "GitLab rejected the job token (401) trying to list the project's registry repositories",
		},
		{
			name:       "delete forbidden",
			legacy:     true,
			jobToken:   "job-token",
			configure:  func(f *fakeGitLab) { f.deleteStatus = http.StatusForbidden },
			wantReason: "GitLab refused to delete the tag (403)",
		},
		{
			name:       "repository not in project",
			legacy:     true,
			jobToken:   "job-token",
			configure:  func(f *fakeGitLab) { f.repos = f.repos[:3] },
			wantReason: "GitLab project group/proj has no registry repository group/proj/app",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newMemRegistry(t, func(m *memRegistry) { m.refuseTagDelete, m.refuseDigestDelete = tc.legacy, tc.wantReason != "" })
			gl := newFakeGitLab(t, reg, tc.configure)
			p := publish(t, reg.host, "group/proj/app")
			rec := newRecorder()
			d, err := New(
				WithGitLab(reg.host, gl.srv.URL+"/api/v4", "group/proj", tc.jobToken),
				WithTransport(rec),
				WithLogger(testLogger(t)),
			)
			if err != nil {
				t.Fatal(err)
			}
			tag := p.tmpTags[0]

			res := d.Delete(context.Background(), p.tmpTags[:1], p.protected())

			assertNoProtectedDeleted(t, rec, p.protected())
			if n := rec.Count(http.MethodPut, "/manifests/"); tc.wantReason == "" && n != 0 {
				t.Errorf("manifest PUTs = %d, want 0: GitLab needs no tombstone", n)
			}
			if status, _ := reg.get(t, "group/proj/app", p.children[0].String()); status != http.StatusOK {
				t.Errorf("child by digest: status %d, want 200", status)
			}
			status, _ := reg.get(t, "group/proj/app", "tmp-amd64")
			if tc.wantReason == "" {
				if got, want := res.Deleted, []string{tag.String()}; !slices.Equal(got, want) {
					t.Fatalf("Deleted = %v, want %v (kept %v)", got, want, res.Kept)
				}
				if status != http.StatusNotFound {
					t.Errorf("temp tag: status %d, want 404", status)
				}
			} else {
				if len(res.Kept) != 1 || !strings.Contains(res.Kept[0].Reason, tc.wantReason) || res.Kept[0].Fix == "" {
					t.Fatalf("Kept = %+v, want reason containing %q and a fix", res.Kept, tc.wantReason)
				}
				if status != http.StatusOK {
					t.Errorf("kept tag: status %d, want 200", status)
				}
			}
			if tc.wantHit != "" && !slices.Contains(gl.hit(), tc.wantHit) {
				t.Errorf("GitLab API hits = %v, want %q among them", gl.hit(), tc.wantHit)
			}
			if tc.wantNoCalls && len(gl.hit()) != 0 {
				t.Errorf("GitLab API hits = %v, want none", gl.hit())
			}
		})
	}
}
