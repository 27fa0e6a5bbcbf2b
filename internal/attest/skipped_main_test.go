package attest

import (
	"os"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// TestMain says which tests were skipped for a missing tool: go test
// prints a bare "ok" for the package otherwise.
func TestMain(m *testing.M) { os.Exit(registrytest.Main(m)) }
