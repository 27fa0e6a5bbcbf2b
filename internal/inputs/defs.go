package inputs

import "strings"

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
	{Name: "digests", Description: "Docker's multi-runner recipe: REPOSITORY=FOLDER, separated by newlines or commas. FOLDER, under the workspace, holds one empty file per platform image named by the hex of its sha256 digest, as the recipe's build jobs upload them (download them with actions/download-artifact, pattern: digests-*, merge-multiple: true); each is joined as REPOSITORY@sha256:NAME, after images. Any other file in FOLDER is an error."},
	{Name: "tags", Description: "Targets, separated by newlines or commas (docker/metadata-action's tags output works verbatim). A repository without a tag is pushed by digest only. oci:PATH[:TAG] writes an OCI image layout."},
	{Name: "annotations", Description: "One per line, [LEVELS:]KEY=VALUE. LEVELS is a comma list of index, manifest, manifest-descriptor, index-descriptor, each optionally with a platform filter such as manifest-descriptor[linux/arm64]; no level means index. The manifest level rewrites the platform manifests, which changes their digests. docker/metadata-action's annotations output works verbatim."},
	{Name: "media-type", Description: "Index format: oci (OCI image index) or docker (Docker manifest list of Docker manifests, for registries that refuse OCI; it cannot carry annotations, attestations or zstd layers).", Default: "oci"},
	{Name: "referrers", Description: "true copies the signatures, SBOMs and attestations of the platform images (OCI 1.1 referrers, through the referrers API or its sha256-<digest> fallback tag, and cosign's .sig, .att and .sbom tags, nested ones too) to every target; false leaves them behind.", Default: "true"},
	{Name: "push", Description: "false resolves everything, prints the index it would push and sets outputs, but writes nothing.", Default: "true"},
	{Name: "insecure-registries", Description: "host:port registries reachable over plain HTTP, separated by newlines or commas. Every other registry is HTTPS with certificate verification."},
	{Name: "registry-auth", Description: "Credentials for several registries in docker/login-action's YAML format: a list of items with registry, username and password. Takes precedence over every other credential source.", Secret: true},
	{Name: "base", Description: "Layer mode: build each platform's image from this base plus layers of local files, instead of joining images. A reference (image or index, any transport images accepts) or scratch (empty). An index base gives one image per platform."},
	{Name: "platforms", Description: "Layer mode: os/arch[/variant] platforms, separated by newlines or commas. Filters an index base's platforms; required with scratch."},
	{Name: "layers", Description: "Layer mode: a YAML list, one item per layer in order, each with files (a list of SRC:DEST; SRC/ copies a directory's contents; {os}, {arch}, {variant} and {platform} expand per platform in SRC; relative SRC is under the workspace) and optionally platforms (only these)."},
	{Name: "env", Description: "Layer mode: KEY=VALUE lines overlaid on the base's environment (the base's other variables are kept; the last line for a key wins)."},
	{Name: "entrypoint", Description: "Layer mode: the entrypoint as a JSON array of strings; [] clears the base's. Setting it without cmd clears the base's cmd."},
	{Name: "cmd", Description: "Layer mode: the default arguments as a JSON array of strings; [] clears the base's."},
	{Name: "workdir", Description: "Layer mode: the working directory (absolute)."},
	{Name: "user", Description: "Layer mode: the user (name or uid[:gid]) the image runs as."},
	{Name: "labels", Description: "Layer mode: KEY=VALUE lines merged into the base's labels."},
	{Name: "compression", Description: "Layer mode: gzip (readable by every client) or zstd for the new layers.", Default: "gzip"},
	{Name: "compression-level", Description: "Layer mode: compression level, gzip 1-9 or zstd 1-22; empty means gzip 2 (as fast as 1, smaller than crane's output; see docs/benchmarks.md) or zstd 3."},
	{Name: "created", Description: "Layer mode: the creation time of the new layers and config: RFC 3339, Unix seconds, or now. Default SOURCE_DATE_EPOCH, else the Unix epoch, so the same inputs give the same digests."},
	{Name: "delete-source-tags", Description: "true deletes the tags named in images once the index is published and verified on every target. Digest references are never deleted, nor is any manifest the index points at.", Default: "false"},
	{Name: "delete-tags", Description: "More tags to delete after success, separated by newlines or commas; the tag part may be a glob (ghcr.io/o/app:tmp-*), matched against the repository's tag list. A tag that cannot be deleted gives a warning, never a failure."},
	{Name: "timeout", Description: "Bound on the whole job, as a Go duration (90s, 10m, 1h).", Default: "30m"},
	{Name: "github-token", Description: "Token for GitHub's container registry (ghcr.io, or the GitHub Enterprise container host); never sent to another registry.", Default: "${{ github.token }}", Secret: true},
	{Name: "sign", Description: "Sign the index and its platform manifests with Sigstore: false, keyless (a Fulcio certificate for the job's OIDC identity) or key (signing-key).", Default: "false"},
	{Name: "signing-key", Description: "With sign: key, the private key as PEM text (from a secret) or the path of its file, as cosign generate-key-pair writes it; its password is read from COSIGN_PASSWORD.", Secret: true},
	{Name: "fulcio-url", Description: "Fulcio, which issues keyless signing certificates: an https URL (http only for hosts listed in insecure-registries).", Default: DefaultFulcioURL},
	{Name: "rekor-url", Description: "Rekor, the transparency log signatures are recorded in: an https URL (http only for hosts listed in insecure-registries), or none to record no entry (a keyless signature then needs tsa-url).", Default: DefaultRekorURL},
	{Name: "tsa-url", Description: "An RFC 3161 timestamp authority to countersign signatures; empty uses none."},
	{Name: "oidc-token-variable", Description: "The variable holding the OIDC token for keyless signing outside GitHub Actions (GitLab: the id_tokens name, with aud: sigstore).", Default: DefaultTokenVar},
	{Name: "sign-legacy-tags", Description: "true also writes cosign's sha256-<digest>.sig tag, for verifiers that read no OCI 1.1 referrers.", Default: "false"},
	{Name: "sign-failures", Description: "fail stops the job when signing fails; warn reports it as a warning and keeps what was published.", Default: "fail"},
	{Name: "provenance", Description: "true attaches signed SLSA provenance v1 of the index (cosign verify-attestation --type slsaprovenance1); needs sign.", Default: "false"},
	{Name: "sbom", Description: "Layer mode: true attaches a signed SPDX SBOM to each image built, listing its files and nix store packages (cosign verify-attestation --type spdxjson); needs sign.", Default: "false"},
}

// PublicInputs returns the inputs that are not secrets and not empty, by
// name, as given: what provenance records as the run's external
// parameters.
func PublicInputs(raw Raw) map[string]string {
	out := map[string]string{}
	for _, d := range Defs {
		if v := raw[d.Name]; !d.Secret && strings.TrimSpace(v) != "" {
			out[d.Name] = v
		}
	}
	return out
}
