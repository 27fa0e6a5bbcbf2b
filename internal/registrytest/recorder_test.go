package registrytest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// serve runs h behind rec until the test ends and returns its URL.
func serve(t *testing.T, rec *Recorder, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(rec.Handler(h))
	t.Cleanup(srv.Close)
	return srv.URL
}

// sendRequest sends a request without a body and reads the whole answer.
func sendRequest(method, u, auth string) error {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func do(t *testing.T, method, u, auth string) {
	t.Helper()
	if err := sendRequest(method, u, auth); err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
}

func TestRecorderHandlerRecordsEachRequest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		method string
		path   string
		auth   string
		h      http.HandlerFunc
		want   string
	}{
		{
			name: "explicit status", method: http.MethodPost, path: "/v2/o/app/blobs/uploads/?mount=sha256:ab&from=o/src",
			h:    func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) },
			want: "POST /v2/o/app/blobs/uploads/?from=o%2Fsrc&mount=sha256%3Aab 202",
		},
		{
			name: "body without a header is 200", method: http.MethodGet, path: "/v2/", auth: "Bearer secret-token",
			h:    func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") },
			want: "GET /v2/ 200 auth",
		},
		{
			name: "nothing written is 200", method: http.MethodHead, path: "/v2/o/app/manifests/1",
			h:    func(http.ResponseWriter, *http.Request) {},
			want: "HEAD /v2/o/app/manifests/1 200",
		},
		{
			name: "error answer", method: http.MethodPut, path: "/v2/o/app/manifests/1",
			h:    func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusUnauthorized) },
			want: "PUT /v2/o/app/manifests/1 401",
		},
		{
			name: "escaped path stays escaped", method: http.MethodGet, path: "/orgs/o/packages/container/app%2Fsub/versions",
			h:    func(http.ResponseWriter, *http.Request) {},
			want: "GET /orgs/o/packages/container/app%2Fsub/versions 200",
		},
		{
			name: "interim answer then the final one", method: http.MethodPut, path: "/v2/o/app/blobs/uploads/1",
			h: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusContinue)
				w.WriteHeader(http.StatusCreated)
			},
			want: "PUT /v2/o/app/blobs/uploads/1 201",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := NewRecorder()
			u := serve(t, rec, tt.h)
			do(t, tt.method, u+tt.path, tt.auth)
			got := rec.Requests()
			if len(got) != 1 {
				t.Fatalf("Requests() = %v, want one", got)
			}
			if got[0].String() != tt.want {
				t.Errorf("Requests()[0] = %q, want %q", got[0], tt.want)
			}
			if want := strings.TrimPrefix(u, "http://"); got[0].Host != want {
				t.Errorf("Host = %q, want %q", got[0].Host, want)
			}
			if strings.Contains(fmt.Sprint(got), "secret") {
				t.Errorf("the recording holds the credential: %v", got)
			}
		})
	}
}

// TestRecorderStatusBeforeTheAnswer: the status is recorded by the time
// the client has the answer, even while the handler is still running.
func TestRecorderStatusBeforeTheAnswer(t *testing.T) {
	t.Parallel()
	rec := NewRecorder()
	release := make(chan struct{})
	u := serve(t, rec, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		w.(http.Flusher).Flush()
		<-release
	})
	resp, err := http.Get(u + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := rec.Requests()
	close(release)
	if len(got) != 1 || got[0].Status != http.StatusAccepted {
		t.Errorf("Requests() while the handler runs = %v, want the 202", got)
	}
}

func TestRecorderHijackedIsStatusZero(t *testing.T) {
	t.Parallel()
	rec := NewRecorder()
	u := serve(t, rec, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		conn.Close()
	})
	if _, err := http.Get(u + "/v2/"); err == nil {
		t.Fatal("GET through a cut connection succeeded")
	}
	got := rec.Requests()
	if len(got) != 1 || got[0].Status != 0 {
		t.Errorf("Requests() = %v, want one with status 0", got)
	}
}

// TestRecorderConcurrent is for the race detector, and checks that no
// request is lost.
func TestRecorderConcurrent(t *testing.T) {
	t.Parallel()
	rec := NewRecorder()
	u := serve(t, rec, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusCreated)
		}
	})
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			method := http.MethodGet
			if i%2 == 0 {
				method = http.MethodPut
			}
			if err := sendRequest(method, fmt.Sprintf("%s/v2/o/app/manifests/%d", u, i), ""); err != nil {
				t.Error(err)
			}
			rec.Count("", "/v2/")
		}()
	}
	wg.Wait()
	if got := rec.Count("", "/manifests/"); got != n {
		t.Errorf("Count(any, /manifests/) = %d, want %d", got, n)
	}
	if got := rec.Count(http.MethodPut, "/manifests/"); got != n/2 {
		t.Errorf("Count(PUT, /manifests/) = %d, want %d", got, n/2)
	}
	if got := rec.CountFunc(func(q Request) bool { return q.Status == http.StatusCreated }); got != n/2 {
		t.Errorf("CountFunc(201) = %d, want %d", got, n/2)
	}
}

func TestRecorderCountTakeReset(t *testing.T) {
	t.Parallel()
	rec := NewRecorder()
	u := serve(t, rec, func(http.ResponseWriter, *http.Request) {})
	for _, p := range []string{"/v2/", "/v2/a/blobs/sha256:1", "/v2/a/manifests/1", "/v2/b/manifests/1"} {
		do(t, http.MethodGet, u+p, "")
	}
	for _, tt := range []struct {
		method, part string
		want         int
	}{
		{"", "", 4},
		{http.MethodGet, "/manifests/", 2},
		{http.MethodGet, "/v2/a/", 2},
		{http.MethodHead, "/manifests/", 0},
		{"", "/blobs/", 1},
	} {
		if got := rec.Count(tt.method, tt.part); got != tt.want {
			t.Errorf("Count(%q, %q) = %d, want %d", tt.method, tt.part, got, tt.want)
		}
	}
	taken := rec.Take()
	if len(taken) != 4 || taken[0].Path != "/v2/" || taken[3].Path != "/v2/b/manifests/1" {
		t.Errorf("Take() = %v, want the 4 requests in order", taken)
	}
	if got := rec.Requests(); len(got) != 0 {
		t.Errorf("Requests() after Take = %v, want none", got)
	}
	do(t, http.MethodGet, u+"/v2/", "")
	rec.Reset()
	if got := rec.Requests(); len(got) != 0 {
		t.Errorf("Requests() after Reset = %v, want none", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRecorderRoundTrip(t *testing.T) {
	t.Parallel()
	refused := errors.New("connection refused")
	var got []string // bodies the next transport received
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == "down.example" {
			return nil, refused
		}
		b := ""
		if r.Body != nil {
			bb, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			b = string(bb)
		}
		got = append(got, b)
		return &http.Response{StatusCode: http.StatusCreated, Body: http.NoBody, Request: r}, nil
	})
	isManifestPut := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
	}
	rec := NewRecorder(WithNext(next), WithBodies(isManifestPut))
	client := &http.Client{Transport: rec}

	for _, tt := range []struct{ method, u, body string }{
		{http.MethodPut, "https://reg.example/v2/o/app/manifests/1", `{"schemaVersion":2}`},
		{http.MethodPut, "https://reg.example/v2/o/app/blobs/uploads/x?digest=sha256:1", "layer"},
	} {
		req, err := http.NewRequest(tt.method, tt.u, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if _, err := client.Get("https://down.example/v2/"); !errors.Is(err, refused) {
		t.Errorf("GET to a host that is down = %v, want %v", err, refused)
	}

	if want := []string{`{"schemaVersion":2}`, "layer"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bodies sent on = %q, want %q", got, want)
	}
	reqs := rec.Requests()
	if len(reqs) != 3 {
		t.Fatalf("Requests() = %v, want 3", reqs)
	}
	if string(reqs[0].Body) != `{"schemaVersion":2}` || reqs[0].Status != http.StatusCreated || reqs[0].Host != "reg.example" {
		t.Errorf("manifest PUT recorded as %v, body %q, host %q; want 201, its body, reg.example", reqs[0], reqs[0].Body, reqs[0].Host)
	}
	if reqs[1].Body != nil || reqs[1].Query.Get("digest") != "sha256:1" {
		t.Errorf("blob PUT recorded as %v, body %q; want its digest and no body kept", reqs[1], reqs[1].Body)
	}
	if !errors.Is(reqs[2].Err, refused) || reqs[2].Status != 0 {
		t.Errorf("failed GET recorded as %v, want its error and status 0", reqs[2])
	}
}

func TestKind(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, method, target, want string
	}{
		{name: "ping", method: http.MethodGet, target: "/v2/", want: "GET ping"},
		{name: "mount", method: http.MethodPost, target: "/v2/o/app/blobs/uploads/?mount=sha256:ab&from=o/src", want: "POST mount"},
		{name: "upload start", method: http.MethodPost, target: "/v2/o/app/blobs/uploads/", want: "POST upload"},
		{name: "upload end", method: http.MethodPut, target: "/v2/o/app/blobs/uploads/u1?digest=sha256:ab", want: "PUT upload"},
		{name: "blob", method: http.MethodHead, target: "/v2/o/app/blobs/sha256:ab", want: "HEAD blob"},
		{name: "manifest by tag", method: http.MethodHead, target: "/v2/o/app/manifests/1", want: "HEAD manifest"},
		{name: "referrers", method: http.MethodGet, target: "/v2/o/app/referrers/sha256:ab", want: "GET referrers"},
		{name: "tags", method: http.MethodGet, target: "/v2/o/app/tags/list?n=100", want: "GET tags"},
		{name: "anything else is its path", method: http.MethodGet, target: "/token?scope=x", want: "GET /token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if got := RequestKey(req); got != tt.want {
				t.Errorf("RequestKey(%s %s) = %q, want %q", tt.method, tt.target, got, tt.want)
			}
			q := Request{Method: tt.method, Path: req.URL.EscapedPath(), Query: req.URL.Query()}
			if got := q.Key(); got != tt.want {
				t.Errorf("Request{%s %s}.Key() = %q, want %q", tt.method, tt.target, got, tt.want)
			}
		})
	}
}

func TestRecorderCountKeyAndKeys(t *testing.T) {
	t.Parallel()
	rec := NewRecorder()
	u := serve(t, rec, func(http.ResponseWriter, *http.Request) {})
	do(t, http.MethodHead, u+"/v2/a/manifests/1", "")
	do(t, http.MethodPut, u+"/v2/a/blobs/uploads/u1?digest=sha256:1", "")
	do(t, http.MethodHead, u+"/v2/b/manifests/2", "")
	if got, want := rec.CountKey("HEAD manifest"), 2; got != want {
		t.Errorf(`CountKey("HEAD manifest") = %d, want %d`, got, want)
	}
	if got, want := strings.Join(Keys(rec.Take()), ", "), "HEAD manifest, PUT upload, HEAD manifest"; got != want {
		t.Errorf("Keys(Take()) = %s, want %s", got, want)
	}
}

// WithHooks: a request held in before is recorded already and not yet
// served; after runs once it has been served.
func TestRecorderHooks(t *testing.T) {
	t.Parallel()
	held, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var events []string
	note := func(s string) {
		mu.Lock()
		events = append(events, s)
		mu.Unlock()
	}
	rec := NewRecorder(WithHooks(func(req *http.Request) {
		note("before " + RequestKey(req))
		if req.Method == http.MethodPut {
			close(held)
			<-release
		}
	}, func(req *http.Request) {
		note("after " + RequestKey(req))
	}))
	u := serve(t, rec, func(_ http.ResponseWriter, req *http.Request) { note("serve " + RequestKey(req)) })
	done := make(chan error, 1)
	go func() { done <- sendRequest(http.MethodPut, u+"/v2/a/manifests/1", "") }()
	<-held
	if got := rec.Requests(); len(got) != 1 || got[0].Status != 0 {
		t.Errorf("while held, Requests() = %v, want the PUT recorded without a status", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(events, ", "), "before PUT manifest, serve PUT manifest, after PUT manifest"; got != want {
		t.Errorf("events = %s, want %s", got, want)
	}
}
