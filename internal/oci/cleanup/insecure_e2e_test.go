package cleanup

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// insecureAlias is how the tests name a plain-HTTP registry by DNS, as a
// GitLab CI job reaches its "registry:5000" service.
const insecureAlias = "registry.test:5000"

// aliasTransport reaches reg as insecureAlias through a forwarding proxy:
// HTTPS to the alias is tunnelled to the plain-HTTP registry, so a client
// that speaks TLS to it fails as it does against the real service.
func aliasTransport(t *testing.T, reg *registrytest.Registry) (*registrytest.Proxy, *registrytest.Recorder) {
	t.Helper()
	proxy := registrytest.StartProxy(t, insecureAlias, reg)
	u, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(u)
	return proxy, recorderOn(tr)
}

// TestInsecureDNSName deletes temp tags on a plain-HTTP registry named by
// DNS and listed with WithInsecureRegistries, on distribution 2.8
// (tombstone) and v3 (tag DELETE): the glob is listed and every tag
// deleted over plain HTTP, tags handed to Delete unmarked included. Before
// cleanup knew the insecure set, the listing went over HTTPS alone and
// the tags were kept ("server gave HTTP response to HTTPS client").
func TestInsecureDNSName(t *testing.T) {
	t.Parallel()
	for _, v := range []registrytest.Version{registrytest.V2, registrytest.V3} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, registrytest.WithVersion(v))
			p := publish(t, reg.Host, "o/app") // set up over loopback, directly
			proxy, rec := aliasTransport(t, reg)
			d, err := New(WithTransport(rec), WithInsecureRegistries([]string{"Registry.Test:5000"}), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			base := insecureAlias + "/o/app"

			tags, kept, err := d.Expand(context.Background(), []string{base + ":tmp-a*", base + ":tmp-arm64"})
			if err != nil {
				t.Fatal(err)
			}
			if len(kept) != 0 {
				t.Fatalf("Expand() kept = %v, want none", kept)
			}
			want := []string{base + ":tmp-amd64", base + ":tmp-arm64"}
			if got := tagStrings(tags); !slices.Equal(got, want) {
				t.Fatalf("Expand() tags = %v, want %v", got, want)
			}
			// A caller's tag parsed without the set is reached the same way.
			unmarked, err := name.NewTag(base + ":tmp-arm64")
			if err != nil {
				t.Fatal(err)
			}
			res := d.Delete(context.Background(), []name.Tag{tags[0], unmarked}, p.protected())
			if len(res.Kept) != 0 {
				t.Fatalf("Kept = %v, want none", res.Kept)
			}
			if got := res.Deleted; !slices.Equal(got, want) {
				t.Errorf("Deleted = %v, want %v", got, want)
			}
			if got, want := reg.Tags(t, "o/app"), []string{"latest"}; !slices.Equal(got, want) {
				t.Errorf("tags after cleanup = %v, want %v", got, want)
			}
			assertIndexIntact(t, reg, "o/app", p)
			assertNoProtectedDeleted(t, rec, p.protected())
			if proxy.Requests() == 0 || proxy.Refused() != 0 {
				t.Errorf("proxy forwarded %d plain-HTTP requests and refused %d, want some and none", proxy.Requests(), proxy.Refused())
			}
		})
	}
}

// TestInsecureDNSNameNotListed: the same registry not listed stays HTTPS,
// and the tags are kept with the reason the HTTPS attempt gave, as before:
// cleanup never downgrades a host on its own.
func TestInsecureDNSNameNotListed(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V3))
	publish(t, reg.Host, "o/app")
	proxy, rec := aliasTransport(t, reg)
	d, err := New(WithTransport(rec), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	tags, kept, err := d.Expand(context.Background(), []string{insecureAlias + "/o/app:tmp-*"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 0 || len(kept) != 1 || !strings.Contains(kept[0].Reason, "HTTP response to HTTPS client") {
		t.Errorf("Expand() = %v, kept %v, want the entry kept for the HTTPS failure", tags, kept)
	}
	if proxy.Requests() != 0 || proxy.Connects() == 0 {
		t.Errorf("proxy saw %d plain-HTTP requests and %d tunnels, want none and some", proxy.Requests(), proxy.Connects())
	}
	if got := reg.Tags(t, "o/app"); len(got) != 3 {
		t.Errorf("tags = %v, want all three untouched", got)
	}
}
