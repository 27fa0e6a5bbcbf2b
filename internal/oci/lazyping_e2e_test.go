package oci

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// onHost counts the requests rec recorded to host that the network
// answered and that match. Round trips that failed are left out: an
// HTTPS attempt at a plain-HTTP registry fails its TLS handshake before
// the registry sees a request.
func onHost(rec *registrytest.Recorder, host string, match func(registrytest.Request) bool) int {
	return rec.CountFunc(func(q registrytest.Request) bool { return q.Host == host && q.Err == nil && match(q) })
}

func is401(q registrytest.Request) bool { return q.Status == http.StatusUnauthorized }

// TestAnonymousReadsOfDistribution reads from distribution registries
// without credentials: open ones, and token-auth ones granting anonymous
// pull. No ping is sent; a token registry costs one 401 where the ping
// was, and later repositories fetch their token before their first read.
// A join from it to an open registry publishes what an independent
// reader finds.
func TestAnonymousReadsOfDistribution(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		version registrytest.Version
		token   bool
	}{
		{name: "distribution-2.8 open", version: registrytest.V2},
		{name: "distribution-v3 open", version: registrytest.V3},
		{name: "distribution-2.8 token", version: registrytest.V2, token: true},
		{name: "distribution-v3 token", version: registrytest.V3, token: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const user, password = "owner", "pw-lazy-e2e-9Qd"
			var ts *registrytest.TokenServer
			var opts []registrytest.Option
			var seed []remote.Option
			insecure := []string{}
			if tt.token {
				ts = registrytest.NewTokenServer(t, user, password, registrytest.WithAnonymousPull())
				opts = append(opts, registrytest.WithConfig(ts.Config()))
				seed = append(seed, remote.WithAuth(&authn.Basic{Username: user, Password: password}))
				realm, err := url.Parse(ts.URL)
				if err != nil {
					t.Fatal(err)
				}
				insecure = append(insecure, realm.Host) // the token realm is plain HTTP too
			}
			src := registrytest.Start(t, append(opts, registrytest.WithVersion(tt.version))...)
			dst := registrytest.Start(t, registrytest.WithVersion(tt.version))
			insecure = append(insecure, src.Host, dst.Host)

			var refs []plan.Ref
			var want []v1.Hash
			for repo, arch := range map[string]string{"o/a": "amd64", "o/b": "arm64"} {
				ref, err := plan.ParseRef(src.Host+"/"+repo+":1", name.Insecure)
				if err != nil {
					t.Fatal(err)
				}
				img := randomImage(t, arch)
				if err := remote.Write(ref.Reference(), img, seed...); err != nil {
					t.Fatal(err)
				}
				refs = append(refs, ref)
				want = append(want, mustDigest(t, img))
			}

			w := registrytest.NewRecorder(registrytest.WithNext(http.DefaultTransport))
			tokens := func() int {
				if ts == nil {
					return 0
				}
				n := 0
				for _, r := range ts.Requests() {
					if r.Account == "" && r.Status == http.StatusOK {
						n++
					}
				}
				return n
			}
			newAssembler := func() *Assembler {
				a, err := newAssembler(client.WithTransport(w), client.WithInsecureRegistries(insecure))
				if err != nil {
					t.Fatal(err)
				}
				return a
			}

			// One repository after the other, so the counts are exact.
			a := newAssembler()
			before := tokens()
			for i, ref := range refs {
				if got := readThrough(t, a, ref); got != want[i] {
					t.Errorf("read %s = %s, want %s", ref, got, want[i])
				}
			}
			pings := onHost(w, src.Host, isPing)
			challenges := onHost(w, src.Host, is401)
			got := tokens() - before
			t.Logf("reads: %d pings, %d 401s, %d token requests, %d requests in all", pings, challenges, got, onHost(w, src.Host, func(registrytest.Request) bool { return true }))
			if pings != 0 {
				t.Errorf("%d pings, want none", pings)
			}
			// Each repository's transport pings; only the first HTTPS
			// ping goes out, the others know it met plain HTTP.
			if n := w.CountFunc(func(q registrytest.Request) bool { return q.Host == src.Host && q.Err != nil }); n != 1 {
				t.Errorf("%d HTTPS attempts at the plain-HTTP source, want 1", n)
			}
			wantChallenges, wantTokens := 0, 0
			if tt.token {
				wantChallenges, wantTokens = 1, len(refs)
			}
			if challenges != wantChallenges {
				t.Errorf("%d 401s, want %d", challenges, wantChallenges)
			}
			if got != wantTokens {
				t.Errorf("%d anonymous token requests, want %d", got, wantTokens)
			}

			// A join, sources read concurrently, by a new Assembler.
			w.Reset()
			ctx := context.Background()
			target, err := plan.ParseRef(dst.Host+"/rel/app:1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			j := newAssembler()
			as, err := j.Assemble(ctx, Plan{Sources: refs, Targets: []plan.Ref{target}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.Publish(ctx, as); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			t.Logf("join: %d 401s on the source", onHost(w, src.Host, is401))
			for _, host := range []string{src.Host, dst.Host} {
				if got := onHost(w, host, isPing); got != 0 {
					t.Errorf("%d pings to %s, want none", got, host)
				}
			}
			// Each source repository can meet the challenge once, when
			// both are first read at the same time.
			if got := onHost(w, src.Host, is401); got > len(refs) || tt.token != (got > 0) {
				t.Errorf("%d 401s on the source, want 1 to %d for token auth, else none", got, len(refs))
			}

			idx, err := remote.Index(target.Reference())
			if err != nil {
				t.Fatalf("reading %s back: %v", target, err)
			}
			if err := validate.Index(idx); err != nil {
				t.Errorf("validate.Index(%s): %v", target, err)
			}
			if d := mustIndexDigest(t, idx); d != as.Digest {
				t.Errorf("%s = %s, want %s", target, d, as.Digest)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			var children []v1.Hash
			for _, m := range im.Manifests {
				children = append(children, m.Digest)
			}
			if len(children) != len(want) || !containsAll(children, want) {
				t.Errorf("index of %s holds %v, want %v", target, children, want)
			}
		})
	}
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustIndexDigest(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func containsAll(have, want []v1.Hash) bool {
	set := map[v1.Hash]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, h := range want {
		if !set[h] {
			return false
		}
	}
	return true
}
