package registrytest

import (
	"bytes"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// upstream is ggcr's in-memory registry, counting the requests that
// reach it. The proxy's behaviour does not depend on which registry is
// behind it, and this one starts in microseconds.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path"
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Method+" "+r.URL.Path)
		u.mu.Unlock()
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) saw(req string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Contains(u.seen, req)
}

func (u *upstream) url(t *testing.T) *url.URL {
	t.Helper()
	p, err := url.Parse(u.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// seedImage pushes a random image straight to the upstream.
func seedImage(t *testing.T, u *upstream, repo string) (raw []byte, mediaType string, digest, layer v1.Hash) {
	t.Helper()
	img, err := random.Image(4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(strings.TrimPrefix(u.URL, "http://") + "/" + repo + ":seed")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	raw, err = img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	digest, err = img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if layer, err = ls[0].Digest(); err != nil {
		t.Fatal(err)
	}
	return raw, string(mt), digest, layer
}

// plainClient never reuses a connection, so net/http does not replay a
// cut request on its own.
func plainClient(t *testing.T) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	return &http.Client{Transport: tr}
}

func send(t *testing.T, c *http.Client, method, u string, body []byte, mediaType string) (*http.Response, []byte, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if mediaType != "" {
		req.Header.Set("Content-Type", mediaType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestFaultProxyInjectsEachKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  FaultKind
		check func(t *testing.T, p *FaultProxy, up *upstream)
	}{
		{Fault503, func(t *testing.T, p *FaultProxy, up *upstream) {
			resp, _, err := send(t, plainClient(t), http.MethodGet, p.URL+"/v2/", nil, "")
			if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET /v2/ = %v, %v; want 503", resp, err)
			}
			if up.saw("GET /v2/") {
				t.Error("the registry saw a request answered 503 by the proxy")
			}
		}},
		{Fault429, func(t *testing.T, p *FaultProxy, up *upstream) {
			resp, _, err := send(t, plainClient(t), http.MethodGet, p.URL+"/v2/", nil, "")
			if err != nil || resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("GET /v2/ = %v, %v; want 429", resp, err)
			}
			if got, want := resp.Header.Get("Retry-After"), "1"; got != want {
				t.Errorf("Retry-After = %q, want %q", got, want)
			}
		}},
		{Fault502, func(t *testing.T, p *FaultProxy, up *upstream) {
			raw, mt, _, _ := seedImage(t, up, "o/app")
			resp, _, err := send(t, plainClient(t), http.MethodPut, p.URL+"/v2/o/app/manifests/via-proxy", raw, mt)
			if err != nil || resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("PUT = %v, %v; want 502", resp, err)
			}
			// The write happened all the same.
			resp, _, err = send(t, plainClient(t), http.MethodHead, up.URL+"/v2/o/app/manifests/via-proxy", nil, "")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("HEAD on the registry = %v, %v; want 200", resp, err)
			}
		}},
		{FaultCutRequest, func(t *testing.T, p *FaultProxy, up *upstream) {
			raw, mt, _, _ := seedImage(t, up, "o/app")
			if _, _, err := send(t, plainClient(t), http.MethodPut, p.URL+"/v2/o/app/manifests/cut", raw, mt); err == nil {
				t.Fatal("PUT error = nil, want the connection cut")
			}
			if up.saw("PUT /v2/o/app/manifests/cut") {
				t.Error("the registry saw a request the proxy cut")
			}
		}},
		{FaultCutResponse, func(t *testing.T, p *FaultProxy, up *upstream) {
			_, _, _, layer := seedImage(t, up, "o/app")
			resp, body, err := send(t, plainClient(t), http.MethodGet, p.URL+"/v2/o/app/blobs/"+layer.String(), nil, "")
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("reading the blob: error = %v, want io.ErrUnexpectedEOF", err)
			}
			if resp.StatusCode != http.StatusOK || len(body) == 0 || int64(len(body)) >= resp.ContentLength {
				t.Errorf("got status %d and %d of %d bytes; want 200 and part of the body", resp.StatusCode, len(body), resp.ContentLength)
			}
			if _, _, err := send(t, plainClient(t), http.MethodHead, p.URL+"/v2/o/app/blobs/"+layer.String(), nil, ""); err == nil {
				t.Error("HEAD error = nil, want the connection cut before the status line")
			}
		}},
		{Fault404AfterPut, func(t *testing.T, p *FaultProxy, up *upstream) {
			raw, mt, digest, _ := seedImage(t, up, "o/app")
			c := plainClient(t)
			if resp, _, err := send(t, c, http.MethodPut, p.URL+"/v2/o/app/manifests/1", raw, mt); err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT = %v, %v; want 201", resp, err)
			}
			for _, path := range []string{"/v2/o/app/manifests/1", "/v2/o/app/manifests/" + digest.String()} {
				for i, want := range []int{http.StatusNotFound, http.StatusOK} {
					resp, _, err := send(t, c, http.MethodGet, p.URL+path, nil, "")
					if err != nil || resp.StatusCode != want {
						t.Errorf("read %d of %s = %v, %v; want %d", i+1, path, resp, err, want)
					}
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t)
			p := NewFaultProxy(t, up.url(t), FaultConfig{Seed: 1, Rate: 1, Kinds: []FaultKind{tt.kind}})
			tt.check(t, p, up)
			counts := p.Counts()
			if counts[tt.kind] == 0 {
				t.Errorf("Counts() = %v, want %s counted", counts, tt.kind)
			}
			for k, n := range counts {
				if k != tt.kind && n > 0 {
					t.Errorf("Counts() = %v, want only %s", counts, tt.kind)
				}
			}
		})
	}
}

func TestFaultProxyIsTransparentAtRateZero(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	p := NewFaultProxy(t, up.url(t), FaultConfig{Seed: 1, Rate: 0})
	img, err := random.Image(8192, 3)
	if err != nil {
		t.Fatal(err)
	}
	via, err := name.ParseReference(p.Host + "/o/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(via, img); err != nil {
		t.Fatalf("pushing through the proxy: %v", err)
	}
	direct, err := name.ParseReference(strings.TrimPrefix(up.URL, "http://") + "/o/app:1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(direct)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("image pushed through the proxy does not validate: %v", err)
	}
	if got, want := p.Injected(), 0; got != want {
		t.Errorf("Injected() = %d, want %d", got, want)
	}
	if p.Requests() == 0 {
		t.Error("Requests() = 0: the push did not go through the proxy")
	}
}

func TestFaultProxyIsSeeded(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	statuses := func(seed int64) ([]int, *FaultProxy) {
		p := NewFaultProxy(t, up.url(t), FaultConfig{Seed: seed, Rate: 0.3, Kinds: []FaultKind{Fault503, Fault429}})
		c := plainClient(t)
		var out []int
		for range 200 {
			resp, _, err := send(t, c, http.MethodGet, p.URL+"/v2/", nil, "")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, resp.StatusCode)
		}
		return out, p
	}
	a, pa := statuses(7)
	b, _ := statuses(7)
	c, _ := statuses(8)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different faults")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same faults")
	}
	n := pa.Injected()
	if n < 30 || n > 90 {
		t.Errorf("Injected() = %d of 200 at rate 0.3, want about 60", n)
	}
	counts := pa.Counts()
	if counts[Fault503]+counts[Fault429] != n || counts[Fault503] == 0 || counts[Fault429] == 0 {
		t.Errorf("Counts() = %v, want both kinds summing to %d", counts, n)
	}
}
