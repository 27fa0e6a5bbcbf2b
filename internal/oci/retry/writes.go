package retry

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// writeLog remembers the manifests and blobs this Transport wrote, so a
// 404 on one of them can be told apart from an answer.
type writeLog struct {
	mu      sync.Mutex
	written map[object]bool
}

// observe records what a finished request wrote or deleted.
func (w *writeLog) observe(req *http.Request, resp *http.Response) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return
	}
	q := req.URL.Query()
	switch {
	case req.Method == http.MethodPut && q.Get("digest") != "":
		// The PUT that commits an upload session names the blob.
		if repo, ok := uploadRepo(req.URL); ok {
			w.set(object{host: strings.ToLower(req.URL.Host), repo: repo, kind: "blobs", ref: q.Get("digest")}, true)
		}
	case req.Method == http.MethodPost && q.Get("mount") != "" && resp.StatusCode == http.StatusCreated:
		if repo, ok := uploadRepo(req.URL); ok {
			w.set(object{host: strings.ToLower(req.URL.Host), repo: repo, kind: "blobs", ref: q.Get("mount")}, true)
		}
	case req.Method == http.MethodPut:
		if o, ok := objectOf(req.URL); ok && o.kind == "manifests" {
			w.set(o, true)
			if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
				o.ref = d
				w.set(o, true)
			}
		}
	case req.Method == http.MethodDelete:
		if o, ok := objectOf(req.URL); ok {
			w.set(o, false)
		}
	}
}

// uploadRepo returns <name> of /v2/<name>/blobs/uploads/...
func uploadRepo(u *url.URL) (string, bool) {
	p, ok := strings.CutPrefix(u.Path, "/v2/")
	if !ok {
		return "", false
	}
	i := strings.Index(p, "/blobs/uploads/")
	if i <= 0 {
		return "", false
	}
	return p[:i], true
}

func (w *writeLog) set(o object, written bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.written == nil {
		w.written = map[object]bool{}
	}
	if written {
		w.written[o] = true
	} else {
		delete(w.written, o)
	}
}

// wrote reports whether req reads a manifest or blob written here.
func (w *writeLog) wrote(req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	o, ok := objectOf(req.URL)
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written[o]
}
