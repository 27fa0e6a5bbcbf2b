package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
)

// missingDigest reports a source of the digests input that its registry
// does not hold against that input, naming the folder that gave it.
// The usual cause is a repository in the input other than the one the
// build jobs pushed to; ok is false for any other error.
func missingDigest(err error, spec *inputs.Spec) (ie *inputs.Error, ok bool) {
	var re *plan.RefError
	var te *transport.Error
	if !errors.As(err, &re) || re.Op != "reading" || !errors.As(err, &te) || te.StatusCode != http.StatusNotFound {
		return nil, false
	}
	for _, f := range spec.DigestFiles {
		if f.Ref.Repo.Name() == re.Ref.Context().Name() && f.Ref.Digest == re.Ref.Identifier() {
			return &inputs.Error{Input: "digests", Msg: fmt.Sprintf(
				"%s, from folder %q, does not exist in its registry; check that %s is the repository the build jobs push to (the name in docker/build-push-action's outputs) and that they ran first",
				f.Ref, f.Folder, f.Repository)}, true
		}
	}
	return nil, false
}
