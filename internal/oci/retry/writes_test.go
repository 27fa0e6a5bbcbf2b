package retry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// lagRegistry answers 404 to the first `lag` reads of each path, as a
// replica behind a write would, and 201 to every write.
type lagRegistry struct {
	lag   int
	mu    sync.Mutex
	reads map[string]int
}

func (l *lagRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("d", 64))
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		w.WriteHeader(http.StatusAccepted)
	default:
		l.mu.Lock()
		if l.reads == nil {
			l.reads = map[string]int{}
		}
		l.reads[r.URL.Path]++
		n := l.reads[r.URL.Path]
		l.mu.Unlock()
		if n <= l.lag {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

func (l *lagRegistry) readsOf(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads[path]
}

func TestReadAfterWrite(t *testing.T) {
	t.Parallel()
	const (
		digest = "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
		blob   = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	)
	tests := []struct {
		name       string
		writes     [][2]string // method, path?query
		read       [2]string   // method, path
		wantStatus int
		wantReads  int
	}{
		{"tag read after its PUT", [][2]string{{"PUT", "/v2/o/app/manifests/1"}}, [2]string{"GET", "/v2/o/app/manifests/1"}, 200, 3},
		{"digest read after a tag PUT", [][2]string{{"PUT", "/v2/o/app/manifests/1"}}, [2]string{"HEAD", "/v2/o/app/manifests/" + digest}, 200, 3},
		{"blob read after its commit", [][2]string{{"PUT", "/v2/o/app/blobs/uploads/u1?_state=x&digest=" + blob}}, [2]string{"HEAD", "/v2/o/app/blobs/" + blob}, 200, 3},
		{"blob read after its mount", [][2]string{{"POST", "/v2/o/app/blobs/uploads/?mount=" + blob + "&from=o/src"}}, [2]string{"GET", "/v2/o/app/blobs/" + blob}, 200, 3},
		{"nothing written", nil, [2]string{"GET", "/v2/o/app/manifests/1"}, 404, 1},
		{"another repository written", [][2]string{{"PUT", "/v2/o/other/manifests/1"}}, [2]string{"GET", "/v2/o/app/manifests/1"}, 404, 1},
		{"another tag written", [][2]string{{"PUT", "/v2/o/app/manifests/2"}}, [2]string{"GET", "/v2/o/app/manifests/1"}, 404, 1},
		// ggcr's existence check before an upload: a 404 is the answer.
		{"existence check of an unwritten blob", [][2]string{{"PUT", "/v2/o/app/manifests/1"}}, [2]string{"HEAD", "/v2/o/app/blobs/" + blob}, 404, 1},
		{"deleted since", [][2]string{{"PUT", "/v2/o/app/manifests/1"}, {"DELETE", "/v2/o/app/manifests/1"}}, [2]string{"GET", "/v2/o/app/manifests/1"}, 404, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := &lagRegistry{lag: 2}
			srv := httptest.NewServer(reg)
			defer srv.Close()
			tr, _, logs := newTestTransport(t)
			for _, w := range tt.writes {
				resp, err := tr.RoundTrip(request(t, t.Context(), w[0], srv.URL+w[1], nil))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			resp, err := tr.RoundTrip(request(t, t.Context(), tt.read[0], srv.URL+tt.read[1], nil))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.StatusCode; got != tt.wantStatus {
				t.Errorf("status = %d, want %d", got, tt.wantStatus)
			}
			if got := reg.readsOf(tt.read[1]); got != tt.wantReads {
				t.Errorf("reads = %d, want %d", got, tt.wantReads)
			}
			if tt.wantReads > 1 && !strings.Contains(strings.Join(logs.Lines(), "\n"), "read after write") {
				t.Errorf("no retry line says why:\n%s", strings.Join(logs.Lines(), "\n"))
			}
		})
	}
}

func TestReadAfterWriteIsBounded(t *testing.T) {
	t.Parallel()
	reg := &lagRegistry{lag: 1 << 30} // never catches up
	srv := httptest.NewServer(reg)
	defer srv.Close()
	window := 3 * time.Second
	tr, clock, _ := newTestTransport(t, WithReadAfterWrite(window), WithBackoff(100*time.Millisecond, time.Second), WithAttempts(2))
	put, err := tr.RoundTrip(request(t, t.Context(), http.MethodPut, srv.URL+"/v2/o/app/manifests/1", nil))
	if err != nil {
		t.Fatal(err)
	}
	put.Body.Close()
	resp, err := tr.RoundTrip(request(t, t.Context(), http.MethodGet, srv.URL+"/v2/o/app/manifests/1", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusNotFound; got != want {
		t.Errorf("status = %d, want %d once the window is spent", got, want)
	}
	var total time.Duration
	for _, w := range clock.Waits() {
		total += w
	}
	if total > window {
		t.Errorf("waited %v in all, want at most the %v window", total, window)
	}
	// The window, not the attempt count (2), bounds lag retries.
	if got := reg.readsOf("/v2/o/app/manifests/1"); got <= 2 {
		t.Errorf("reads = %d, want more than the 2 attempts failures get", got)
	}
}

func TestReadAfterWriteOff(t *testing.T) {
	t.Parallel()
	reg := &lagRegistry{lag: 1}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	tr, _, _ := newTestTransport(t, WithReadAfterWrite(0))
	for _, m := range []string{http.MethodPut, http.MethodGet} {
		resp, err := tr.RoundTrip(request(t, t.Context(), m, srv.URL+"/v2/o/app/manifests/1", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if m == http.MethodGet && resp.StatusCode != http.StatusNotFound {
			t.Errorf("status = %d, want 404 with read-after-write off", resp.StatusCode)
		}
	}
}

func TestObjectOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want object
		ok   bool
	}{
		{"/v2/o/app/manifests/1", object{repo: "o/app", kind: "manifests", ref: "1"}, true},
		{"/v2/a/b/c/blobs/sha256:ab", object{repo: "a/b/c", kind: "blobs", ref: "sha256:ab"}, true},
		{"/v2/o/app/blobs/uploads/", object{}, false},
		{"/v2/o/app/blobs/uploads/uuid", object{}, false},
		{"/v2/o/app/tags/list", object{}, false},
		{"/v2/", object{}, false},
		{"/token", object{}, false},
		{"/v2/manifests/1", object{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			u := request(t, t.Context(), http.MethodGet, "http://r.example"+tt.path, nil).URL
			got, ok := objectOf(u)
			got.host = ""
			if ok != tt.ok || got != tt.want {
				t.Errorf("objectOf(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}
