package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestBasicAuthTLS pushes and pulls through a TLS registry with htpasswd
// auth, using credentials from each kind of source, and checks what a wrong
// credential is told.
func TestBasicAuthTLS(t *testing.T) {
	t.Parallel()
	const user, password = "dave", "htpw-Vb93kLq"
	tlsCfg := registrytest.NewTLS(t)
	reg := registrytest.Start(t,
		registrytest.WithVersion(registrytest.V2),
		registrytest.WithTLS(tlsCfg),
		registrytest.WithConfig(registrytest.HtpasswdConfig(t, user, password)))
	reg.SetBasicAuth(user, password)
	tr := tlsCfg.Transport(t)

	auths := func(u, p string) string {
		return fmt.Sprintf(`{"auths":{"https://%s/":{"auth":%q}}}`, reg.Host, b64(u+":"+p))
	}
	tests := []struct {
		name       string
		opts       func(t *testing.T) []Option
		wantSource string
		wantOK     bool
	}{{
		name: "registry-auth input",
		opts: func(*testing.T) []Option {
			return []Option{WithRegistryAuth([]Entry{{Registry: reg.Host, Username: user, Password: password}})}
		},
		wantSource: "registry-auth input",
		wantOK:     true,
	}, {
		name: "DOCKER_CONFIG directory",
		opts: func(t *testing.T) []Option {
			dir := t.TempDir()
			writeFile(t, dir, "config.json", auths(user, password))
			return []Option{WithGetenv(env(map[string]string{"DOCKER_CONFIG": dir}))}
		},
		wantSource: "docker config",
		wantOK:     true,
	}, {
		name: "repository entry beside a wrong registry entry",
		opts: func(t *testing.T) []Option {
			dir := t.TempDir()
			writeFile(t, dir, "containers/auth.json", fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host+"/e2e", b64(user+":"+password)))
			return []Option{
				WithRegistryAuth([]Entry{{Registry: reg.Host, Username: user, Password: "wrong-pw-Qx7"}}),
				WithGetenv(env(map[string]string{"XDG_RUNTIME_DIR": dir})),
			}
		},
		wantSource: "containers auth file",
		wantOK:     true,
	}, {
		name: "wrong password",
		opts: func(t *testing.T) []Option {
			dir := t.TempDir()
			writeFile(t, dir, "config.json", auths(user, "wrong-pw-Mn4"))
			return []Option{WithGetenv(env(map[string]string{"DOCKER_CONFIG": dir}))}
		},
		wantSource: "docker config",
	}, {
		name:       "anonymous",
		opts:       func(*testing.T) []Option { return nil },
		wantSource: "none was found",
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc, err := New(tt.opts(t)...)
			if err != nil {
				t.Fatal(err)
			}
			ref := mustRef(t, fmt.Sprintf("%s/e2e/app%d:v1", reg.Host, i))
			img, err := random.Image(512, 2)
			if err != nil {
				t.Fatal(err)
			}
			opts := []remote.Option{remote.WithAuthFromKeychain(kc), remote.WithTransport(tr), remote.WithContext(context.Background())}
			err = kc.Explain(remote.Write(ref, img, opts...), ref)
			if !tt.wantOK {
				if err == nil {
					t.Fatal("push succeeded, want 401")
				}
				var terr *transport.Error
				if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
					t.Errorf("push error = %v, want a wrapped 401 *transport.Error", err)
				}
				// The keychain has no CI here: the command line's fix.
				for _, want := range []string{reg.Host, "repository " + ref.Context().RepositoryStr(), tt.wantSource, "--registry-auth", "DOCKER_CONFIG", "docker login " + reg.Host} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Explain() = %q, want it to contain %q", err, want)
					}
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("Explain() = %q, want one line", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			if got := kc.Source(ref.Context()); !strings.Contains(got, tt.wantSource) {
				t.Errorf("Source() = %q, want it to contain %q", got, tt.wantSource)
			}
			// Pull through the keychain, then read back independently.
			got, err := remote.Image(ref, opts...)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			gotDigest, err := got.Digest()
			if err != nil {
				t.Fatal(err)
			}
			wantDigest, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if gotDigest != wantDigest {
				t.Errorf("pulled digest = %s, want %s", gotDigest, wantDigest)
			}
			if m := reg.GetManifest(t, ref.Context().RepositoryStr(), "v1"); m.Digest != wantDigest.String() {
				t.Errorf("registry manifest digest = %s, want %s", m.Digest, wantDigest)
			}
		})
	}
}
