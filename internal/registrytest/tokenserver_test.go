package registrytest

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestTokenServerAnonymousPull: with WithAnonymousPull an anonymous client
// reads what the user pushed and still cannot push; without it, it reads
// nothing.
func TestTokenServerAnonymousPull(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		opts     []TokenOption
		wantRead bool
	}{
		{name: "anonymous pull", opts: []TokenOption{WithAnonymousPull()}, wantRead: true},
		{name: "default"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const user, password = "u", "pw-anon-pull-3k"
			ts := NewTokenServer(t, user, password, tt.opts...)
			reg := Start(t, WithVersion(V3), WithConfig(ts.Config()))
			ref, err := name.ParseReference(reg.Host + "/o/app:1")
			if err != nil {
				t.Fatal(err)
			}
			img, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: password})); err != nil {
				t.Fatal(err)
			}
			n := len(ts.Requests())
			_, err = remote.Head(ref)
			if got := err == nil; got != tt.wantRead {
				t.Errorf("anonymous HEAD succeeded = %v (%v), want %v", got, err, tt.wantRead)
			}
			other, err := name.ParseReference(reg.Host + "/o/other:1")
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(other, img); err == nil {
				t.Errorf("anonymous push succeeded")
			}
			anon := ts.Requests()[n:]
			if !slices.ContainsFunc(anon, func(r TokenRequest) bool { return r.Account == "" && r.Status == http.StatusOK }) {
				t.Errorf("token requests %+v, want anonymous ones answered", anon)
			}
		})
	}
}
