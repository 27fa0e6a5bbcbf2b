package inputs

import (
	"strings"
	"testing"
)

// TestEmptyTagOrDigestNamesTheCause covers the reference a workflow builds
// from a job output that is empty: the error names the input, says which
// part is empty and why that usually happens.
func TestEmptyTagOrDigestNamesTheCause(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		value string
		want  string
	}{
		{name: "empty digest", input: "images", value: "ghcr.io/o/app@",
			want: `input images: "ghcr.io/o/app@": the digest after '@' is empty; ` + emptyPartCause},
		{name: "algorithm without hex", input: "images", value: "ghcr.io/o/app@sha256:",
			want: `input images: "ghcr.io/o/app@sha256:": the digest after '@' is empty; ` + emptyPartCause},
		{name: "empty tag", input: "images", value: "ghcr.io/o/app:",
			want: `input images: "ghcr.io/o/app:": the tag after ':' is empty; ` + emptyPartCause},
		{name: "empty tag with a port", input: "images", value: "localhost:5000/app:",
			want: `input images: "localhost:5000/app:": the tag after ':' is empty`},
		{name: "empty layout tag", input: "images", value: "oci:out:",
			want: `input images: "oci:out:": the tag after ':' is empty`},
		{name: "empty target tag", input: "tags", value: "ghcr.io/o/app:",
			want: `input tags: "ghcr.io/o/app:": the tag after ':' is empty; ` + emptyPartCause},
		{name: "hostile value is quoted", input: "images", value: "ghcr.io/o/app\x1b[31m@",
			want: `"ghcr.io/o/app\x1b[31m@": the digest after '@' is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := Raw{"images": "ghcr.io/o/app:1", "tags": "ghcr.io/o/app:2", "push": "true"}
			raw[tt.input] = tt.value
			_, err := Parse(raw, env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%s=%q) error = %v, want containing %q", tt.input, tt.value, err, tt.want)
			}
			if strings.Contains(err.Error(), "\x1b") {
				t.Errorf("Parse(%s=%q) error holds a raw escape character: %q", tt.input, tt.value, err)
			}
		})
	}
}
