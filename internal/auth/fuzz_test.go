package auth

import (
	"strings"
	"testing"
)

// FuzzParseRegistryAuth checks that any input parses or fails cleanly, and
// that what parses is complete and normalisable. Seeds are in
// testdata/fuzz/FuzzParseRegistryAuth.
func FuzzParseRegistryAuth(f *testing.F) {
	f.Add("- registry: ghcr.io\n  username: u\n  password: p\n")
	f.Add("[{registry: docker.io, username: u, password: p}, {registry: 'https://quay.io/org/', username: v, password: q}]")
	f.Add("- registry: a\n  username: u\n  password: *anchor\n")
	f.Add("- &a {registry: a, username: u, password: p}\n- *a\n")
	f.Fuzz(func(t *testing.T, text string) {
		entries, err := ParseRegistryAuth(text)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
			return
		}
		for i, e := range entries {
			if _, err := e.validate(); err != nil {
				t.Errorf("entry %d parsed but does not validate: %v", i, err)
			}
		}
		if _, err := New(WithRegistryAuth(entries)); err != nil {
			t.Errorf("New rejected parsed entries: %v", err)
		}
	})
}

// FuzzParseAuthFile checks the docker config / containers auth.json /
// DOCKER_AUTH_CONFIG parser: no panic, every secret it returns was masked,
// and no error quotes a masked secret. Seeds are in
// testdata/fuzz/FuzzParseAuthFile.
func FuzzParseAuthFile(f *testing.F) {
	f.Add([]byte(`{"auths":{"ghcr.io":{"auth":"dTpw"}}}`))
	f.Add([]byte(`{"auths":{"https://index.docker.io/v1/":{"identitytoken":"tok"},"reg/org":{"username":"u","password":"p"}},"credsStore":"pass","credHelpers":{"gcr.io":"gcloud"}}`))
	f.Add([]byte(`{"auths":{"x":{"auth":"!!"}}}`))
	f.Add([]byte(`{"auths":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := &recorder{}
		cf, err := parseAuthFile(data, m.mask)
		if err != nil {
			for _, s := range m.seen {
				// Short strings can occur in any message by chance.
				if len(s) >= 12 && strings.Contains(err.Error(), s) {
					t.Errorf("error %q quotes a secret", err)
				}
			}
			return
		}
		for addr, ac := range cf.AuthConfigs {
			for _, s := range []string{ac.Password, ac.IdentityToken, ac.RegistryToken} {
				if s != "" && !m.masked(s) {
					t.Errorf("auths %q: secret not masked", addr)
				}
			}
		}
		b := &builder{o: defaultOptions(), masker: newMasker(func(string) {})}
		b.addAuthFile(cf, "fuzz")
	})
}
