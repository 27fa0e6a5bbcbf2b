package publish

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrIndexRefused is wrapped around a registry's refusal of an OCI image
// index: Artifact Registry and Quay before quay#6070 have refused indexes
// that a Docker manifest list would have carried (ko-build/ko#385,
// moby/buildkit#1143). Callers can suggest the Docker format.
var ErrIndexRefused = errors.New("the registry does not accept this OCI image index")

// ErrImmutableTag is wrapped around a registry's refusal to move a tag
// that exists, as ECR answers for repositories with immutable tags:
// TAG_INVALID, "cannot be overwritten because the repository is
// immutable" (moby/buildkit#3776, GoogleContainerTools/kaniko#3481).
var ErrImmutableTag = errors.New("the repository's tags are immutable and this tag points at another image; publish under a new tag")

// explainRefusal names what a registry's refusal of a manifest PUT of
// media type mt means, when it is one of the refusals above; other
// errors are returned unchanged.
func explainRefusal(err error, mt types.MediaType) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	for _, d := range te.Errors {
		if d.Code == transport.TagInvalidErrorCode && strings.Contains(strings.ToLower(d.Message), "immutable") {
			return fmt.Errorf("%w: %w", ErrImmutableTag, err)
		}
	}
	if mt != types.OCIImageIndex {
		return err
	}
	switch te.StatusCode {
	case http.StatusUnsupportedMediaType:
		return fmt.Errorf("%w: %w", ErrIndexRefused, err)
	case http.StatusBadRequest:
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestInvalidErrorCode, "MANIFEST_UNSUPPORTED", transport.UnsupportedErrorCode:
				return fmt.Errorf("%w: %w", ErrIndexRefused, err)
			}
		}
	}
	return err
}
