package inputs

// Def declares one input: its action.yml entry, its CLI flag (--NAME) and
// its help text. action.yml and the README's table are kept equal to this
// list by tests.
type Def struct {
	Name        string
	Description string
	Default     string
	Secret      bool
}

// Defs lists every input in the order action.yml declares them.
var Defs = []Def{
	{Name: "images", Description: "Source images to join, separated by newlines or commas: a registry reference by tag or digest, oci:PATH[:TAG|@DIGEST] (OCI image layout), or docker-archive:PATH (docker save / nix streamLayeredImage output, optionally gzipped). Indexes are flattened into their platform manifests."},
	{Name: "tags", Description: "Targets, separated by newlines or commas (docker/metadata-action's tags output works verbatim). A repository without a tag is pushed by digest only. oci:PATH[:TAG] writes an OCI image layout."},
	{Name: "annotations", Description: "One per line, [LEVELS:]KEY=VALUE. LEVELS is a comma list of index, manifest, manifest-descriptor, index-descriptor, each optionally with a platform filter such as manifest-descriptor[linux/arm64]; no level means index. The manifest level rewrites the platform manifests, which changes their digests. docker/metadata-action's annotations output works verbatim."},
	{Name: "media-type", Description: "Index format: oci (OCI image index) or docker (Docker manifest list, which cannot carry annotations).", Default: "oci"},
	{Name: "push", Description: "false resolves everything, prints the index it would push and sets outputs, but writes nothing.", Default: "true"},
	{Name: "insecure-registries", Description: "host:port registries reachable over plain HTTP, separated by newlines or commas. Every other registry is HTTPS with certificate verification."},
	{Name: "registry-auth", Description: "Credentials for several registries in docker/login-action's YAML format: a list of items with registry, username and password. Takes precedence over every other credential source.", Secret: true},
	{Name: "github-token", Description: "Token for GitHub's container registry (ghcr.io, or the GitHub Enterprise container host); never sent to another registry.", Default: "${{ github.token }}", Secret: true},
}
