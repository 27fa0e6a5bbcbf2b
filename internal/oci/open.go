package oci

import (
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layout"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/source"
	"github.com/oci-assemble/oci-assemble/internal/oci/source/archive"
)

// open returns the reader of r: a registry repository, an OCI layout or a
// docker archive. stage receives an archive's uncompressed layers; f finds
// referrers in registries, one finder for the run's sources.
func open(c *client.Client, r plan.Ref, stage source.StageFunc, f *source.ReferrerFinder) source.Source {
	switch r.Transport {
	case plan.Layout:
		return layout.Open(r)
	case plan.DockerArchive:
		return archive.Open(c, r, stage)
	}
	return source.OpenRegistry(c, r, f)
}
