package stack

import (
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
