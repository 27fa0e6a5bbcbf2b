package registrytest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Request is one request a Recorder saw.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Host is the host:port the request was sent to.
	Host string
	// Path is the URL path as it goes on the wire, escaped: a vendor
	// API's "app%2Fsub" stays apart from "app/sub".
	Path string
	// Query is the URL's query.
	Query url.Values
	// Status is the status code of the answer: 0 while none has been
	// written, when the connection was cut instead, or when the round
	// trip failed (Err then says why).
	Status int
	// Auth says the request carried an Authorization header. The value
	// itself is not kept, so a recording printed in a test log holds no
	// credential.
	Auth bool
	// Body is the request body, for requests the WithBodies option
	// selects; nil otherwise.
	Body []byte
	// Err is the error of a failed round trip (Transport only).
	Err error
}

// String is "METHOD /path?query status", with "auth" when the request
// carried credentials: one request per failure message line.
func (q Request) String() string {
	var b strings.Builder
	b.WriteString(q.Method)
	b.WriteByte(' ')
	b.WriteString(q.Path)
	if len(q.Query) > 0 {
		b.WriteByte('?')
		b.WriteString(q.Query.Encode())
	}
	if q.Err != nil {
		fmt.Fprintf(&b, " error %q", q.Err.Error())
	} else {
		fmt.Fprintf(&b, " %d", q.Status)
	}
	if q.Auth {
		b.WriteString(" auth")
	}
	return b.String()
}

// Kind says what a request to the distribution API is for, from its
// path and query: "ping" (/v2/), "mount" (an upload that names a blob to
// mount), "upload", "blob", "manifest", "referrers" or "tags"; any other
// path is its own kind. It is the one classifier tests count requests by.
func Kind(path string, query url.Values) string {
	switch {
	case path == "/v2/":
		return "ping"
	case strings.Contains(path, "/blobs/uploads/") && query.Get("mount") != "":
		return "mount"
	case strings.Contains(path, "/blobs/uploads/"):
		return "upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/manifests/"):
		return "manifest"
	case strings.Contains(path, "/referrers/"):
		return "referrers"
	case strings.HasSuffix(path, "/tags/list"):
		return "tags"
	}
	return path
}

// Kind is the request's Kind.
func (q Request) Kind() string { return Kind(q.Path, q.Query) }

// Key is "METHOD kind", such as "PUT upload" or "HEAD manifest": the
// form tests count and compare requests in.
func (q Request) Key() string { return q.Method + " " + q.Kind() }

// RequestKey is the Key of a request being served, for a handler or a
// hook that acts on some kinds of request.
func RequestKey(req *http.Request) string {
	return req.Method + " " + Kind(req.URL.EscapedPath(), req.URL.Query())
}

// Keys returns the Key of each request, in order.
func Keys(reqs []Request) []string {
	out := make([]string, len(reqs))
	for i, q := range reqs {
		out[i] = q.Key()
	}
	return out
}

type recorderOptions struct {
	next          http.RoundTripper
	bodies        func(*http.Request) bool
	before, after func(*http.Request)
}

// RecorderOption configures NewRecorder.
type RecorderOption func(*recorderOptions)

// WithNext sets the transport a Recorder used as an http.RoundTripper
// forwards to. Default http.DefaultTransport.
func WithNext(rt http.RoundTripper) RecorderOption {
	return func(o *recorderOptions) { o.next = rt }
}

// WithBodies keeps the body of every request match returns true for,
// and still sends it on. Default: no bodies are kept.
func WithBodies(match func(*http.Request) bool) RecorderOption {
	return func(o *recorderOptions) { o.bodies = match }
}

// WithHooks has a Recorder's Handler call before with each request once
// it is recorded and before it is served, and after once it has been
// served; either may be nil. A test that needs requests in an order
// holds one in before until what it waits for has happened. Default: no
// hooks. A Recorder used as a RoundTripper calls neither.
func WithHooks(before, after func(*http.Request)) RecorderOption {
	return func(o *recorderOptions) { o.before, o.after = before, after }
}

// Recorder records the requests a registry receives or a client sends:
// wrap a handler with Handler, or send through the Recorder itself,
// which is an http.RoundTripper. It is safe for concurrent use.
//
// A request is recorded when it arrives, and its status as soon as it is
// written, before the client can read the answer: once a client has its
// answer, the request is counted, whatever the handler does after.
type Recorder struct {
	opts recorderOptions

	mu   sync.Mutex
	reqs []*Request
}

var _ http.RoundTripper = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder(opts ...RecorderOption) *Recorder {
	r := &Recorder{}
	for _, opt := range opts {
		opt(&r.opts)
	}
	if r.opts.next == nil {
		r.opts.next = http.DefaultTransport
	}
	return r
}

// Handler returns next behind the Recorder: every request it serves is
// recorded.
func (r *Recorder) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q, req, err := r.start(req)
		if err != nil {
			http.Error(w, "registrytest: reading the request body: "+err.Error(), http.StatusBadRequest)
			r.setStatus(q, http.StatusBadRequest)
			return
		}
		if r.opts.before != nil {
			r.opts.before(req)
		}
		sw := &statusWriter{ResponseWriter: w, set: func(code int) { r.setStatus(q, code) }}
		next.ServeHTTP(sw, req)
		if !sw.wrote && !sw.hijacked {
			sw.header(http.StatusOK)
		}
		if r.opts.after != nil {
			r.opts.after(req)
		}
	})
}

// RoundTrip records req and sends it on through the WithNext transport.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	q, req, err := r.start(req)
	if err != nil {
		r.setErr(q, err)
		return nil, err
	}
	resp, err := r.opts.next.RoundTrip(req)
	if err != nil {
		r.setErr(q, err)
		return nil, err
	}
	r.setStatus(q, resp.StatusCode)
	return resp, nil
}

// start records req, reading its body first when WithBodies selects it;
// it returns the request to send on, whose body can then be read again.
func (r *Recorder) start(req *http.Request) (*Request, *http.Request, error) {
	host := req.URL.Host
	if host == "" {
		host = req.Host
	}
	q := &Request{
		Method: req.Method,
		Host:   host,
		Path:   req.URL.EscapedPath(),
		Query:  req.URL.Query(),
		Auth:   req.Header.Get("Authorization") != "",
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, q)
	r.mu.Unlock()
	if r.opts.bodies == nil || req.Body == nil || req.Body == http.NoBody || !r.opts.bodies(req) {
		return q, req, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return q, req, err
	}
	r.mu.Lock()
	q.Body = b
	r.mu.Unlock()
	// A RoundTripper must not modify its caller's request.
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return q, req, nil
}

func (r *Recorder) setStatus(q *Request, code int) {
	r.mu.Lock()
	q.Status = code
	r.mu.Unlock()
}

func (r *Recorder) setErr(q *Request, err error) {
	r.mu.Lock()
	q.Err = err
	r.mu.Unlock()
}

// Requests returns a copy of every request recorded since the last Reset
// or Take, in the order they arrived.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyRequests(r.reqs)
}

// Take returns what Requests would and forgets it, in one step.
func (r *Recorder) Take() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := copyRequests(r.reqs)
	r.reqs = nil
	return out
}

// Reset forgets every request recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

// Count returns how many recorded requests have method (any, when empty)
// and a path containing pathPart.
func (r *Recorder) Count(method, pathPart string) int {
	return r.CountFunc(func(q Request) bool {
		return (method == "" || q.Method == method) && strings.Contains(q.Path, pathPart)
	})
}

// CountKey returns how many recorded requests have key, a Request.Key
// such as "PUT upload".
func (r *Recorder) CountKey(key string) int {
	return r.CountFunc(func(q Request) bool { return q.Key() == key })
}

// CountFunc returns how many recorded requests match.
func (r *Recorder) CountFunc(match func(Request) bool) int {
	n := 0
	for _, q := range r.Requests() {
		if match(q) {
			n++
		}
	}
	return n
}

func copyRequests(in []*Request) []Request {
	out := make([]Request, len(in))
	for i, q := range in {
		out[i] = *q
	}
	return out
}

// statusWriter reports the status before it is written, so that it is
// recorded before the client can have the answer.
type statusWriter struct {
	http.ResponseWriter
	set      func(int)
	wrote    bool
	hijacked bool
}

func (w *statusWriter) header(code int) {
	if !w.wrote {
		w.wrote = true
		w.set(code)
	}
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx answers are interim: the final status comes later.
	if code >= 200 {
		w.header(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.header(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// Flush lets handlers that stream flush through the Recorder.
func (w *statusWriter) Flush() {
	w.header(http.StatusOK)
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack lets handlers that cut the connection do so through the
// Recorder; the request then keeps status 0.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
