package stack

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestPingCacheAsksEachRegistryOnce(t *testing.T) {
	t.Parallel()
	var pings, other atomic.Int32
	fail := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" {
			other.Add(1)
			return
		}
		pings.Add(1)
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://auth.example/token",service="reg"`)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[]}`)
	}))
	defer srv.Close()
	pc := &pingCache{inner: http.DefaultTransport}
	get := func(path string, auth bool) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer x")
		}
		resp, err := pc.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for range 3 {
		resp := get("/v2/", false)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("ping answer %d %v, want the 401 challenge", resp.StatusCode, resp.Header)
		}
	}
	get("/v2/", true)
	get("/v2/o/app/manifests/1", false)
	if pings.Load() != 2 || other.Load() != 1 {
		t.Errorf("upstream saw %d pings and %d other requests, want 2 (one cached, one authorized) and 1", pings.Load(), other.Load())
	}

	// A failed ping is not remembered.
	pc = &pingCache{inner: http.DefaultTransport}
	fail.Store(true)
	get("/v2/", false)
	fail.Store(false)
	if resp := get("/v2/", false); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after a 503 the next ping answered %d, want a fresh 401", resp.StatusCode)
	}
}
