package hosts

import (
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestInsecure(t *testing.T) {
	t.Parallel()
	s := NewInsecure("Registry.Test:5000", " ", "10.0.0.5:5000", "")
	tests := []struct {
		name string
		host string
		want bool
	}{
		{name: "as listed, other case", host: "registry.test:5000", want: true},
		{name: "upper case", host: "REGISTRY.TEST:5000", want: true},
		{name: "address", host: "10.0.0.5:5000", want: true},
		{name: "other port", host: "registry.test:5001", want: false},
		{name: "no port", host: "registry.test", want: false},
		{name: "other host", host: "ghcr.io", want: false},
		{name: "blank is not a host", host: "", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := s.Has(tc.host); got != tc.want {
				t.Errorf("Has(%q) = %v, want %v", tc.host, got, tc.want)
			}
			if got, want := len(s.NameOptions(tc.host)) > 0, tc.want; got != want {
				t.Errorf("NameOptions(%q) non-empty = %v, want %v", tc.host, got, want)
			}
		})
	}
	if got, want := s.Hosts(), []string{"10.0.0.5:5000", "registry.test:5000"}; !slices.Equal(got, want) {
		t.Errorf("Hosts() = %v, want %v", got, want)
	}
	var zero Insecure
	if zero.Has("registry.test:5000") || len(zero.Hosts()) != 0 {
		t.Error("the zero Insecure lists a host")
	}
}

// TestInsecureScheme: a DNS name is HTTPS to go-containerregistry unless its
// reference is marked; the set marks it, through parsing or afterwards.
func TestInsecureScheme(t *testing.T) {
	t.Parallel()
	s := NewInsecure("registry.test:5000")
	tests := []struct {
		name string
		ref  string
		want string
	}{
		{name: "listed DNS name", ref: "registry.test:5000/o/app:tmp", want: "http"},
		{name: "unlisted DNS name", ref: "other.test:5000/o/app:tmp", want: "https"},
		{name: "Docker Hub", ref: "alpine:3", want: "https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plain, err := name.NewTag(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := name.NewTag(tc.ref, s.NameOptions(plain.RegistryStr())...)
			if err != nil {
				t.Fatal(err)
			}
			marked := s.Tag(plain)
			repo := s.Repository(plain.Context())
			for what, got := range map[string]string{
				"NewTag(NameOptions)": parsed.Scheme(),
				"Tag":                 marked.Scheme(),
				"Repository":          repo.Scheme(),
			} {
				if got != tc.want {
					t.Errorf("%s: Scheme() = %s, want %s", what, got, tc.want)
				}
			}
			if got, want := marked.String(), plain.String(); got != want {
				t.Errorf("Tag() = %s, want %s (same name)", got, want)
			}
			if got, want := repo.String(), plain.Context().String(); got != want {
				t.Errorf("Repository() = %s, want %s (same name)", got, want)
			}
		})
	}
}
