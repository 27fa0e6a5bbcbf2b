package stack

import "testing"

func TestRepository(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		path, want string
		ok         bool
	}{
		{path: "/v2/o/app/manifests/1", want: "o/app", ok: true},
		{path: "/v2/o/app/blobs/sha256:ab", want: "o/app", ok: true},
		{path: "/v2/o/app/blobs/uploads/", want: "o/app", ok: true},
		{path: "/v2/o/app/blobs/uploads/3f2a", want: "o/app", ok: true},
		{path: "/v2/o/app/tags/list", want: "o/app", ok: true},
		{path: "/v2/o/app/referrers/sha256:ab", want: "o/app", ok: true},
		{path: "/v2/o/blobs/x/manifests/1", want: "o/blobs/x", ok: true},
		{path: "/v2/o/manifests/blobs/sha256:ab", want: "o/manifests", ok: true},
		{path: "/v2/", ok: false},
		{path: "/v2/auth", ok: false},
		{path: "/v2/_catalog", ok: false},
		{path: "/token", ok: false},
		{path: "/v2/o/app/manifests/", ok: false},
		{path: "/v2/o/app/tags/other", ok: false},
	} {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			got, ok := repository(tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("repository(%q) = %q, %v, want %q, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}
