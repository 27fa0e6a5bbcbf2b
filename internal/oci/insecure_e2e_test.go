package oci

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestUnmarkedReferencesToAnInsecureHost: references to a plain-HTTP
// registry named by DNS, parsed without marking, are joined from and
// published to over plain HTTP once the host is listed with
// WithInsecureRegistries; the Assembler marks them itself.
func TestUnmarkedReferencesToAnInsecureHost(t *testing.T) {
	t.Parallel()
	const alias = "registry.test:5000"
	reg := registrytest.Start(t, registrytest.WithVersion(registrytest.V2))
	sources := pushPlatforms(t, reg.Host, "amd64", "arm64")
	for i := range sources {
		// The same images, named through the alias and parsed unmarked.
		r, err := plan.ParseRef(alias + "/src:" + sources[i].Tag)
		if err != nil {
			t.Fatal(err)
		}
		sources[i] = r
	}
	proxy := registrytest.StartProxy(t, alias, reg)
	u, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(u)
	a, err := newAssembler(client.WithTransport(tr), client.WithInsecureRegistries([]string{alias}))
	if err != nil {
		t.Fatal(err)
	}
	tgts := targets(t, alias+"/app:1")
	as, err := a.Assemble(context.Background(), Plan{Sources: sources, Targets: tgts})
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	if _, err := a.Publish(context.Background(), as); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	checkIndex(t, reg.Host+"/app:1", as.Digest)
	// go-containerregistry's ping of a host marked insecure tries HTTPS
	// first (a TLS failure there is expected); everything else is plain
	// HTTP through the proxy.
	if n := proxy.Requests(); n == 0 {
		t.Errorf("no plain-HTTP request reached %s", alias)
	}
}
