package registrytest

import (
	"net/http"
	"testing"
)

func TestStartServesV2API(t *testing.T) {
	t.Parallel()
	for _, v := range []Version{V2, V3} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			r := Start(t, WithVersion(v))
			if got := r.Tags(t, "nothing/here"); len(got) != 0 {
				t.Errorf("Tags() = %v, want none", got)
			}
			if _, status := r.TryManifest(t, "nothing/here", "latest"); status != http.StatusNotFound {
				t.Errorf("TryManifest() status = %d, want 404", status)
			}
		})
	}
}
