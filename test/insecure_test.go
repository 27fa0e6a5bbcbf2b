package test

import (
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestInsecureRegistryByDNSName runs the whole job against a plain-HTTP
// registry named by DNS and listed in insecure-registries, as a GitLab CI
// job reaches its "registry:5000" service: join from temp tags, publish,
// delete-source-tags and a delete-tags glob plus a literal, on distribution
// 2.8 (tombstone) and v3 (tag DELETE). The name resolves only through a
// forwarding proxy the binary reaches via HTTP_PROXY/HTTPS_PROXY, which
// tunnels HTTPS to the plain-HTTP registry: a step that used HTTPS would
// fail with "server gave HTTP response to HTTPS client", as delete-tags
// once did, keeping the tags.
func TestInsecureRegistryByDNSName(t *testing.T) {
	t.Parallel()
	const alias = "registry.test:5000"
	for _, v := range []registrytest.Version{registrytest.V2, registrytest.V3} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, registrytest.WithVersion(v))
			proxy := registrytest.StartProxy(t, alias, reg)
			// Set up over loopback, directly.
			push(t, reg.Host+"/o/app:tmp-amd64", platformImage(t, amd64))
			push(t, reg.Host+"/o/app:tmp-arm64", platformImage(t, arm64))
			push(t, reg.Host+"/o/app:scratch-1", platformImage(t, amd64))
			push(t, reg.Host+"/o/app:scratch-2", platformImage(t, arm64))
			push(t, reg.Host+"/o/app:extra", platformImage(t, amd64))
			app := alias + "/o/app"
			res := runAction(t, map[string]string{
				"images":              app + ":tmp-amd64\n" + app + ":tmp-arm64",
				"tags":                app + ":1.0\n" + app + ":latest",
				"delete-source-tags":  "true",
				"delete-tags":         app + ":scratch-*\n" + app + ":extra",
				"insecure-registries": alias,
			}, "HTTP_PROXY="+proxy.URL, "HTTPS_PROXY="+proxy.URL)
			if res.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			checkCleanedUp(t, reg, res, []string{app + ":extra", app + ":scratch-1", app + ":scratch-2", app + ":tmp-amd64", app + ":tmp-arm64"})
			if proxy.Requests() == 0 || proxy.Refused() != 0 {
				t.Errorf("proxy forwarded %d plain-HTTP requests and refused %d, want some and none", proxy.Requests(), proxy.Refused())
			}
		})
	}
}
