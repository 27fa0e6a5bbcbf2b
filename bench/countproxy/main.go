// Command countproxy is a reverse proxy in front of one registry that counts
// the requests clients make, by kind and status, and the bytes they send and
// receive. bench/run.sh puts one in front of each registry to measure what a
// job costs in requests, not just in seconds.
//
//	countproxy -upstream http://127.0.0.1:5000 -addr-file FILE [-delay 20ms]
//
// -delay holds every proxied request that long before forwarding it, as a
// round trip to a remote registry would. It listens on a free loopback port and writes host:port to FILE once it
// serves. It keeps the client's Host header, so the registry's Location
// headers point back at the proxy and every follow-up request is counted.
//
// Control endpoints, outside the /v2/ API:
//
//	GET  /_countproxy/stats   one line per kind: KIND<TAB>COUNT<TAB>SENT<TAB>RECEIVED
//	POST /_countproxy/reset   zero the counters
//
// SENT is request-body bytes from the client (uploads, manifest PUTs) and
// RECEIVED response-body bytes to it.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	upstream := flag.String("upstream", "", "registry base URL, e.g. http://127.0.0.1:5000")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	addrFile := flag.String("addr-file", "", "file to write the listening host:port to")
	delay := flag.Duration("delay", 0, "added to every proxied request, like a network round trip")
	flag.Parse()
	if *upstream == "" {
		log.Fatal("countproxy: -upstream is required")
	}
	up, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("countproxy: -upstream: %v", err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("countproxy: %v", err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(l.Addr().String()+"\n"), 0o644); err != nil {
			log.Fatalf("countproxy: %v", err)
		}
	}
	c := &counter{stats: map[string]*stat{}, delay: *delay}
	log.Fatal(http.Serve(l, c.handler(up)))
}

type stat struct {
	count, sent, received int64
}

type counter struct {
	delay time.Duration
	mu    sync.Mutex
	stats map[string]*stat
}

func (c *counter) handler(up *url.URL) http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(up)
			// Keep the client's Host so Location headers name the proxy.
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_countproxy/stats", c.serveStats)
	mux.HandleFunc("POST /_countproxy/reset", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		c.stats = map[string]*stat{}
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if c.delay > 0 {
			time.Sleep(c.delay)
		}
		var sent int64
		if r.Body != nil {
			r.Body = &countingReader{ReadCloser: r.Body, n: &sent}
		}
		rw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(rw, r)
		k := fmt.Sprintf("%s %d", kind(r), rw.status)
		c.mu.Lock()
		s := c.stats[k]
		if s == nil {
			s = &stat{}
			c.stats[k] = s
		}
		s.count++
		s.sent += sent
		s.received += rw.n
		c.mu.Unlock()
	})
	return mux
}

func (c *counter) serveStats(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.stats))
	for k := range c.stats {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.Header().Set("Content-Type", "text/tab-separated-values")
	for _, k := range keys {
		s := c.stats[k]
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", k, s.count, s.sent, s.received)
	}
}

// kind names a request as the distribution spec's endpoints do
// (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#endpoints).
func kind(r *http.Request) string {
	p := r.URL.Path
	m := r.Method
	switch {
	case p == "/v2/" || p == "/v2":
		return "ping " + m
	case !strings.HasPrefix(p, "/v2/"):
		if strings.Contains(p, "token") || strings.Contains(p, "auth") {
			return "token " + m
		}
		return "other " + m
	case p == "/v2/_catalog":
		return "catalog " + m
	case strings.HasSuffix(p, "/tags/list"):
		return "tags list " + m
	case strings.Contains(p, "/blobs/uploads/") || strings.HasSuffix(p, "/blobs/uploads"):
		q := r.URL.Query()
		switch {
		case m == http.MethodPost && q.Get("mount") != "":
			return "mount POST"
		case m == http.MethodPost && q.Get("digest") != "":
			return "upload POST monolithic"
		default:
			return "upload " + m
		}
	case strings.Contains(p, "/blobs/"):
		return "blob " + m
	case strings.Contains(p, "/manifests/"):
		return "manifest " + m
	case strings.Contains(p, "/referrers/"):
		return "referrers " + m
	}
	return "other " + m
}

type countingReader struct {
	io.ReadCloser
	n *int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	*c.n += int64(n)
	return n, err
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
	wrote  bool
}

func (c *countingWriter) WriteHeader(code int) {
	if !c.wrote {
		c.status, c.wrote = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.wrote = true
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// Flush lets the reverse proxy stream responses.
func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
