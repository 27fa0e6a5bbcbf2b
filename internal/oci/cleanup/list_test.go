package cleanup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// tagListServer answers GET /v2/<repo>/tags/list itself with page(i) for
// the i-th request and counts the requests.
func tagListServer(t *testing.T, page func(w http.ResponseWriter, r *http.Request, i int)) (*memRegistry, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	reg := newMemRegistry(t, func(m *memRegistry) {
		m.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/tags/list") {
				return false
			}
			page(w, r, int(n.Add(1))-1)
			return true
		}
	})
	return reg, &n
}

// TestListedTagsMustBeTags: a name in a tag list that is not a valid tag
// (here one carrying a newline and an output line of the registry's
// choosing) is neither deleted nor reported, so it never reaches the
// step's outputs; valid names around it still are.
func TestListedTagsMustBeTags(t *testing.T) {
	t.Parallel()
	const hostile = "tmp-1\ndigest=sha256:0000000000000000000000000000000000000000000000000000000000000000"
	reg, _ := tagListServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, http.StatusOK, map[string]any{"name": "o/app", "tags": []string{
			hostile, "tmp-amd64", "tmp-" + strings.Repeat("x", 200), "tmp-\x1b[31m", "-tmp", "latest",
		}})
	})
	p := publish(t, reg.host, "o/app")
	logs := &recordHandler{}
	d, err := New(WithTransport(newRecorder()), WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}

	res, err := d.Clean(context.Background(), Request{Patterns: []string{reg.host + "/o/app:tmp-*"}, Protected: append(slices.Clone(p.children), p.index)})
	if err != nil {
		t.Fatal(err)
	}

	if got, want := res.Deleted, []string{p.tmpTags[0].String()}; !slices.Equal(got, want) {
		t.Errorf("Deleted = %q, want %q", got, want)
	}
	for _, k := range res.Kept {
		t.Errorf("Kept %q: an invalid listed name must not be reported", k.String())
	}
	warns := logs.at(slog.LevelWarn)
	if len(warns) != 1 {
		t.Fatalf("warnings = %q, want one for the skipped names", warns)
	}
	if strings.ContainsAny(warns[0], "\n\x1b") || !strings.Contains(warns[0], "count=4") {
		t.Errorf("warning %q: want the count and every name escaped", warns[0])
	}
}

// recordHandler keeps each record as "LEVEL msg k=v ...", values as
// formatted by fmt's %v, so escaping is the code's own.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

func (h *recordHandler) at(level slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level != level {
			continue
		}
		line := r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool {
			line += fmt.Sprintf(" %s=%v", a.Key, a.Value.Any())
			return true
		})
		out = append(out, line)
	}
	return out
}

// TestTagListBounded: a registry whose tag list never ends (Link pages
// forever), or sends more tags or bytes than the bounds, is refused with
// an error naming the repository and the bound; the entry is kept and
// nothing is deleted.
func TestTagListBounded(t *testing.T) {
	t.Parallel()
	const stopAt = 200 // the test server's own limit, far past the bound
	lim := listLimits{pages: 10, tags: 50, body: 4 << 10}
	tests := []struct {
		name      string
		page      func(w http.ResponseWriter, r *http.Request, i int)
		wantBound string
		maxPages  int64
	}{
		{
			name: "Link pages forever",
			page: func(w http.ResponseWriter, r *http.Request, i int) {
				if i < stopAt {
					w.Header().Set("Link", fmt.Sprintf(`<%s?n=1&last=t%d>; rel="next"`, r.URL.Path, i))
				}
				writeJSON(w, http.StatusOK, map[string]any{"name": "o/app", "tags": []string{fmt.Sprintf("t%d", i)}})
			},
			wantBound: "more than 10 pages",
			maxPages:  int64(lim.pages),
		},
		{
			name: "too many tags over pages",
			page: func(w http.ResponseWriter, r *http.Request, i int) {
				if i < stopAt {
					w.Header().Set("Link", fmt.Sprintf(`<%s?n=20&last=p%d>; rel="next"`, r.URL.Path, i))
				}
				tags := make([]string, 20)
				for j := range tags {
					tags[j] = fmt.Sprintf("tmp-%d-%d", i, j)
				}
				writeJSON(w, http.StatusOK, map[string]any{"name": "o/app", "tags": tags})
			},
			wantBound: "more than 50 tags",
			maxPages:  3,
		},
		{
			name: "page too large",
			page: func(w http.ResponseWriter, r *http.Request, i int) {
				writeJSON(w, http.StatusOK, map[string]any{"name": "o/app", "tags": []string{strings.Repeat("a", 8<<10)}})
			},
			wantBound: "larger than 4096 bytes",
			maxPages:  1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, pages := tagListServer(t, tc.page)
			rec := newRecorder()
			d, err := New(WithTransport(rec), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			d.o.list = lim

			res, err := d.Clean(context.Background(), Request{Patterns: []string{reg.host + "/o/app:tmp-*"}})
			if err != nil {
				t.Fatal(err)
			}

			if len(res.Deleted) != 0 || len(res.Kept) != 1 {
				t.Fatalf("Deleted = %q, Kept = %+v: want the entry kept", res.Deleted, res.Kept)
			}
			if r := res.Kept[0].Reason; !strings.Contains(r, reg.host+"/o/app") || !strings.Contains(r, tc.wantBound) {
				t.Errorf("kept reason %q: want the repository and %q", r, tc.wantBound)
			}
			if got := pages.Load(); got > tc.maxPages {
				t.Errorf("pages fetched = %d, want at most %d", got, tc.maxPages)
			}
			if writes(rec) != 0 {
				t.Errorf("writes = %d, want 0", writes(rec))
			}
		})
	}
}

// TestTagListBoundError: passing a bound is ErrListTooLong.
func TestTagListBoundError(t *testing.T) {
	t.Parallel()
	reg, _ := tagListServer(t, func(w http.ResponseWriter, r *http.Request, i int) {
		if i < 100 { // the test server's own limit, far past the bound
			w.Header().Set("Link", fmt.Sprintf(`<%s?last=%d>; rel="next"`, r.URL.Path, i))
		}
		writeJSON(w, http.StatusOK, map[string]any{"tags": []string{}})
	})
	d, err := New(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	d.o.list.pages = 3
	p, err := parsePattern(reg.host+"/o/app:x*", d.o.insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.listTags(context.Background(), p.repo); !errors.Is(err, ErrListTooLong) {
		t.Errorf("listTags() = %v, want ErrListTooLong", err)
	}
}

// TestAPIListBounded: a vendor API listing that passes its page bound is
// an error naming the API and the bound, not "not found".
func TestAPIListBounded(t *testing.T) {
	t.Parallel()
	reg := newMemRegistry(t, func(m *memRegistry) { m.refuseTagDelete, m.refuseDigestDelete = true, true })
	gl := newFakeGitLab(t, reg, func(f *fakeGitLab) {
		f.pageSize = 1
		f.repos = nil
		for i := range 20 {
			f.repos = append(f.repos, glRepo{int64(100 + i), fmt.Sprintf("group/proj/other-%d", i)})
		}
	})
	p := publish(t, reg.host, "group/proj/app")
	d, err := New(WithGitLab(reg.host, gl.srv.URL+"/api/v4", "group/proj", "job-token"), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	d.o.list.apiPages = 5

	res := d.Delete(context.Background(), p.tmpTags[:1], p.protected())

	if len(res.Kept) != 1 || !strings.Contains(res.Kept[0].Reason, "GitLab registry repositories") ||
		!strings.Contains(res.Kept[0].Reason, "more than 5 pages") {
		t.Errorf("Kept = %+v, want the tag kept with the GitLab listing's bound", res.Kept)
	}
	if got := len(gl.hit()); got > 5 {
		t.Errorf("GitLab API requests = %d, want at most 5", got)
	}
}
