package retry

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutMidBody sends the headers and the first half of content, then
// closes the connection.
func cutMidBody(t *testing.T, w http.ResponseWriter, content []byte) {
	t.Helper()
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	w.WriteHeader(http.StatusOK)
	w.Write(content[:len(content)/2])
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		t.Errorf("flush: %v", err)
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

func TestResumesABodyCutMidTransfer(t *testing.T) {
	t.Parallel()
	content := make([]byte, 256<<10)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range content {
		content[i] = byte(r.IntN(256))
	}
	const digest = "sha256:" + "c0ffee" + "00000000000000000000000000000000000000000000000000000000aa"
	tests := []struct {
		name        string
		path        string
		rangeOK     bool   // the server honours Range
		digestAfter string // Docker-Content-Digest after the cut; "" for none
		wantErr     bool
	}{
		{"blob by digest, with Range", "/v2/o/app/blobs/" + digest, true, digest, false},
		{"blob by digest, no header after the cut", "/v2/o/app/blobs/" + digest, true, "", false},
		{"manifest by tag, no Range support", "/v2/o/app/manifests/1", false, digest, false},
		{"manifest by tag that moved meanwhile", "/v2/o/app/manifests/1", false, "sha256:" + strings.Repeat("e", 64), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits counter
			var mu sync.Mutex
			var ranges []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.next() == 1 {
					w.Header().Set("Docker-Content-Digest", digest)
					cutMidBody(t, w, content)
					return
				}
				mu.Lock()
				ranges = append(ranges, r.Header.Get("Range"))
				mu.Unlock()
				if tt.digestAfter != "" {
					w.Header().Set("Docker-Content-Digest", tt.digestAfter)
				}
				if !tt.rangeOK {
					r.Header.Del("Range")
				}
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
			}))
			defer srv.Close()
			tr, _, logs := newTestTransport(t)
			resp, err := tr.RoundTrip(request(t, t.Context(), http.MethodGet, srv.URL+tt.path, nil))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.wantErr {
				if err == nil {
					t.Fatal("ReadAll() error = nil, want the cut: the content changed")
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadAll() error = %v\n%s", err, strings.Join(logs.Lines(), "\n"))
			}
			if !bytes.Equal(got, content) {
				t.Errorf("body = %d bytes, want the %d bytes served", len(got), len(content))
			}
			mu.Lock()
			defer mu.Unlock()
			if want := "bytes=" + strconv.Itoa(len(content)/2) + "-"; len(ranges) != 1 || ranges[0] != want {
				t.Errorf("resume requests sent Range %q, want one %q", ranges, want)
			}
			if lines := logs.Lines(); len(lines) != 1 || !strings.Contains(lines[0], "resuming registry read") {
				t.Errorf("log = %q, want one resume line", lines)
			}
		})
	}
}

func TestDoesNotResumeWithoutIdentity(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("x"), 4096)
	var hits counter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.next()
		cutMidBody(t, w, content)
	}))
	defer srv.Close()
	tr, _, _ := newTestTransport(t)
	resp, err := tr.RoundTrip(request(t, t.Context(), http.MethodGet, srv.URL+"/v2/o/app/manifests/latest", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadAll() error = %v, want io.ErrUnexpectedEOF: a tag without a digest cannot be resumed safely", err)
	}
	if got, want := hits.get(), 1; got != want {
		t.Errorf("requests = %d, want %d", got, want)
	}
}

func TestRangeStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"bytes 100-199/200", 100},
		{"bytes 0-0/1", 0},
		{"bytes */200", -1},
		{"items 1-2/3", -1},
		{"", -1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := rangeStart(tt.in); got != tt.want {
				t.Errorf("rangeStart(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// TestResumesAreBounded: a server that cuts every answer after a few
// bytes is asked for the rest a bounded number of times, not for as long
// as it sends any.
func TestResumesAreBounded(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("z"), 64<<10)
	const digest = "sha256:" + "c0ffee" + "00000000000000000000000000000000000000000000000000000000bb"
	var hits counter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.next()
		start := 0
		if rg := r.Header.Get("Range"); rg != "" {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			if err != nil {
				t.Errorf("Range %q", rg)
				return
			}
			start = n
			w.Header().Set("Content-Range", "bytes "+strconv.Itoa(n)+"-"+strconv.Itoa(len(content)-1)+"/"+strconv.Itoa(len(content)))
		}
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("Content-Length", strconv.Itoa(len(content)-start))
		if start > 0 {
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.WriteHeader(http.StatusOK)
		}
		w.Write(content[start:min(start+16, len(content))])
		rc := http.NewResponseController(w)
		if err := rc.Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		conn, _, err := rc.Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}))
	defer srv.Close()
	tr, _, _ := newTestTransport(t, WithAttempts(3))
	resp, err := tr.RoundTrip(request(t, t.Context(), http.MethodGet, srv.URL+"/v2/o/app/blobs/"+digest, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("reading a body cut every 16 bytes ended without error")
	}
	if got, limit := hits.get(), maxResumes*3+1; got > limit {
		t.Errorf("%d requests for one body, want at most %d", got, limit)
	}
}
