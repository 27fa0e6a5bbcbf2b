package plan

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestRefErrorReadsAsOneLine: what a RefError says is what failed, on
// what, and the registry's answer in its own words, with no request line,
// no Go value and nothing said twice; the *transport.Error stays
// wrapped.
func TestRefErrorReadsAsOneLine(t *testing.T) {
	t.Parallel()
	ref := name.MustParseReference("reg.example/o/app:v1")
	repo := ref.Context()
	get := func(u string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	head := get("https://reg.example/v2/o/app/blobs/sha256:" + strings.Repeat("a", 64))
	head.Method = http.MethodHead
	scopes := []any{map[string]any{"Type": "repository", "Name": "o/app", "Action": "pull"}}
	tests := []struct {
		name string
		err  *RefError
		want string
		not  []string
	}{{
		name: "diagnostic with a detail",
		err: &RefError{Op: "reading", Ref: ref, Err: &transport.Error{StatusCode: 401, Request: get("https://reg.example/v2/o/app/manifests/v1"),
			Errors: []transport.Diagnostic{{Code: "UNAUTHORIZED", Message: "authentication required", Detail: scopes}}}},
		want: `reading reg.example/o/app:v1: registry reg.example answered 401 Unauthorized: "UNAUTHORIZED: authentication required"`,
		not:  []string{"map[", "GET ", "https://"},
	}, {
		name: "HEAD without a body",
		err:  &RefError{Op: "uploading", Ref: repo.Digest("sha256:" + strings.Repeat("a", 64)), Err: fmt.Errorf("checking: %w", &transport.Error{StatusCode: 401, Request: head})},
		want: "uploading reg.example/o/app@sha256:" + strings.Repeat("a", 64) + ": checking: registry reg.example answered 401 Unauthorized",
		not:  []string{"HEAD", "use GET for details", "unexpected status code"},
	}, {
		name: "token service",
		err: &RefError{Op: "authenticating to", Ref: RepoRef{repo}, Err: fmt.Errorf("authenticating to %s: %w", repo, &transport.Error{StatusCode: 401,
			Request: get("https://auth.reg.example/token?scope=repository%3Ao%2Fapp%3Apush&service=reg"), Errors: []transport.Diagnostic{{Code: "UNAUTHORIZED", Message: "bad credentials"}}})},
		want: `authenticating to reg.example/o/app: the token service at auth.reg.example answered 401 Unauthorized: "UNAUTHORIZED: bad credentials"`,
		not:  []string{"authenticating to reg.example/o/app: authenticating to", "scope="},
	}, {
		name: "hostile words are quoted and bounded",
		err: &RefError{Op: "pushing", Ref: ref, Err: &transport.Error{StatusCode: 400, Request: get("https://reg.example/v2/o/app/manifests/v1"),
			Errors: []transport.Diagnostic{{Code: "MANIFEST_INVALID", Message: "bad\n::error::injected\x1b[2J" + strings.Repeat("x", 1000)}}}},
		want: `pushing reg.example/o/app:v1: registry reg.example answered 400 Bad Request: "MANIFEST_INVALID: bad\n::error::injected\x1b[2J` + "xxx",
		not:  []string{"\n", "\x1b", strings.Repeat("x", 300)},
	}, {
		name: "connection refused",
		err: &RefError{Op: "reading", Ref: ref, Err: &url.Error{Op: "Get", URL: "https://reg.example/v2/o/app/manifests/v1",
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}},
		want: "reading reg.example/o/app:v1: could not reach reg.example over https: connection refused",
		not:  []string{`Get "`, "dial tcp"},
	}, {
		name: "no such host",
		err: &RefError{Op: "reading", Ref: ref, Err: &url.Error{Op: "Get", URL: "https://reg.example/v2/",
			Err: &net.DNSError{Err: "no such host", Name: "reg.example", IsNotFound: true}}},
		want: `reading reg.example/o/app:v1: could not reach reg.example over https: no such host "reg.example"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.err.Error()
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("Error() = %q, want it to start %q", got, tt.want)
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("Error() = %q, want no %q in it", got, n)
				}
			}
			var te *transport.Error
			var ue *url.Error
			if !errors.As(tt.err, &te) && !errors.As(tt.err, &ue) {
				t.Errorf("the cause is no longer wrapped")
			}
		})
	}
}
