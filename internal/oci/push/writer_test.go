package push

import (
	"net/http"
	"net/url"
	"testing"
)

func TestNextLocation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		loc, want string
		ok        bool
	}{
		{"/v2/app/blobs/uploads/abc?state=x", "https://reg.example/v2/app/blobs/uploads/abc?state=x", true},
		{"https://storage.example/upload?sig=1", "https://storage.example/upload?sig=1", true},
		// Where a Location may lead is the transport's rule, at the address
		// dialled (stack's dialGuard): it is not judged by its spelling.
		{"http://10.0.0.5/upload", "http://10.0.0.5/upload", true},
		{"", "", false},
		{"file:///etc/passwd", "", false},
		{"gopher://reg.example/x", "", false},
		{"http://[::1", "", false},
	} {
		req := &http.Request{URL: &url.URL{Scheme: "https", Host: "reg.example", Path: "/v2/app/blobs/uploads/"}}
		resp := &http.Response{Header: http.Header{}, Request: req}
		if tc.loc != "" {
			resp.Header.Set("Location", tc.loc)
		}
		got, err := nextLocation(resp)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Location %q: got %q, %v; want %q, ok %v", tc.loc, got, err, tc.want, tc.ok)
		}
	}
}
