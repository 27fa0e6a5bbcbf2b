package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestNextLink(t *testing.T) {
	t.Parallel()
	req, err := url.Parse("https://api.github.com/orgs/o/packages/container/app%2Fsub/versions?per_page=100")
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://api.github.com"
	tests := []struct {
		name, header, want string
		wantErr            bool
	}{
		{name: "none", header: "", want: ""},
		{
			name:   "github style",
			header: `<https://api.github.com/orgs/o/packages/container/app%2Fsub/versions?per_page=100&page=2>; rel="next", <https://api.github.com/orgs/o/packages/container/app%2Fsub/versions?per_page=100&page=5>; rel="last"`,
			want:   "https://api.github.com/orgs/o/packages/container/app%2Fsub/versions?per_page=100&page=2",
		},
		{name: "last only", header: `<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=5>; rel="last"`, want: ""},
		{name: "relative", header: `</orgs/o/v?page=3>; rel=next`, want: "https://api.github.com/orgs/o/v?page=3"},
		{name: "several rels", header: `<https://api.github.com/x?page=2>; rel="prefetch next"`, want: "https://api.github.com/x?page=2"},
		{name: "comma in target", header: `<https://api.github.com/x?a=1,2&page=2>; rel="next"`, want: "https://api.github.com/x?a=1,2&page=2"},
		{name: "other host", header: `<https://evil.example/x?page=2>; rel="next"`, wantErr: true},
		{name: "downgrade", header: `<http://api.github.com/x?page=2>; rel="next"`, wantErr: true},
		{name: "garbage", header: `garbage, <; rel=next`, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NextLink(tc.header, req, base)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NextLink(%q) error = %v, want error %v", tc.header, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("NextLink(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

func FuzzNextLink(f *testing.F) {
	for _, s := range []string{`<https://api.example/x?page=2>; rel="next"`, `</y>; rel=next, <z>; rel=last`, `<"a,b">; rel="next"`, `<`, `>;rel=next`, `<A:0>rel="next"`} {
		f.Add(s)
	}
	req, err := url.Parse("https://api.example/x")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got, err := NextLink(header, req, "https://api.example")
		if err != nil || got == "" {
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, "api.example") {
			t.Fatalf("NextLink(%q) = %q: leaves the API host", header, got)
		}
	})
}

// TestPagesIsBounded: a listing whose pages link on forever, back to an
// earlier page, or off the registry ends with an error; one that ends is
// walked to its last page.
func TestPagesIsBounded(t *testing.T) {
	t.Parallel()
	const first = "https://reg.example/v2/app/tags/list?n=100"
	for _, tc := range []struct {
		name string
		// link is the Link header of page n (from 1).
		link    func(n int) string
		max     int
		calls   int
		wantErr error
		anyErr  bool
	}{
		{name: "ends", link: func(n int) string {
			if n == 3 {
				return ""
			}
			return fmt.Sprintf(`</v2/app/tags/list?n=100&last=t%d>; rel="next"`, n)
		}, max: 10, calls: 3},
		{name: "forever", link: func(n int) string {
			return fmt.Sprintf(`</v2/app/tags/list?n=100&last=t%d>; rel="next"`, n)
		}, max: 50, calls: 50, wantErr: ErrTooManyPages},
		{name: "cycle", link: func(n int) string {
			return `</v2/app/tags/list?n=100&last=t0>; rel="next"`
		}, max: 50, calls: 2, wantErr: ErrTooManyPages},
		{name: "back to the first page", link: func(n int) string {
			return `<` + first + `>; rel="next"`
		}, max: 50, calls: 1, wantErr: ErrTooManyPages},
		{name: "off the registry", link: func(n int) string {
			return `<https://evil.example/v2/app/tags/list?last=x>; rel="next"`
		}, max: 50, calls: 1, anyErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := Pages(context.Background(), first, tc.max, func(_ context.Context, u string) (http.Header, error) {
				calls++
				if !strings.HasPrefix(u, "https://reg.example/") {
					t.Errorf("page %d fetched from %s", calls, u)
				}
				return http.Header{"Link": {tc.link(calls)}}, nil
			})
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("Pages = %v, want %v", err, tc.wantErr)
			case tc.anyErr && err == nil:
				t.Error("Pages = nil, want an error")
			case tc.wantErr == nil && !tc.anyErr && err != nil:
				t.Errorf("Pages = %v, want nil", err)
			}
			if calls != tc.calls {
				t.Errorf("%d pages fetched, want %d", calls, tc.calls)
			}
		})
	}
}
