package inputs

import (
	"errors"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
)

// TestParseDockerLayerMode: layer mode builds a Docker manifest list of
// gzip layers; zstd layers, which Docker's image manifest cannot
// describe, are an error of the compression input.
func TestParseDockerLayerMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		compression string
		wantInput   string // "" when it parses
	}{
		{name: "gzip", compression: "gzip"},
		{name: "default", compression: ""},
		{name: "zstd", compression: "zstd", wantInput: "compression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := Raw{"push": "true", "base": "scratch", "platforms": "linux/amd64", "tags": "r/x:1", "media-type": "docker", "compression": tt.compression}
			s, err := Parse(raw, env(map[string]string{"GITHUB_WORKSPACE": t.TempDir()}))
			if tt.wantInput == "" {
				if err != nil {
					t.Fatalf("Parse() error = %v, want none", err)
				}
				if got, want := s.MediaType, plan.DockerManifestList; got != want {
					t.Errorf("MediaType = %v, want %v", got, want)
				}
				return
			}
			var ie *Error
			if !errors.As(err, &ie) || ie.Input != tt.wantInput {
				t.Fatalf("Parse() error = %v, want one for input %s", err, tt.wantInput)
			}
		})
	}
}
