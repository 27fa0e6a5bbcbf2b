package registrytest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestProxy: the alias answers plain HTTP through the registry, HTTPS to it
// fails as against a plain-HTTP server, and any other host is refused.
func TestProxy(t *testing.T) {
	t.Parallel()
	reg := Start(t)
	p := StartProxy(t, "Registry.Test:5000", reg)
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(u)
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	resp, err := client.Get("http://registry.test:5000/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Errorf("GET http://registry.test:5000/v2/ = %d, want %d", got, want)
	}
	if _, err := client.Get("https://registry.test:5000/v2/"); err == nil || !strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		t.Errorf("GET https://registry.test:5000/v2/ error = %v, want the plain-HTTP server's", err)
	}
	resp, err = client.Get("http://other.test:5000/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusBadGateway; got != want {
		t.Errorf("GET http://other.test:5000/v2/ = %d, want %d", got, want)
	}
	if got, want := [3]int64{p.Requests(), p.Connects(), p.Refused()}, [3]int64{1, 1, 1}; got != want {
		t.Errorf("requests, connects, refused = %v, want %v", got, want)
	}
}
