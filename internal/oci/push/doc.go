// Package push is oci-assemble's one write path to registries: every
// blob, manifest, tag and delete the program sends goes through a Writer,
// and a Pusher owns one Writer per repository (one authenticated client,
// so one token), the way go-containerregistry's remote.Pusher owns its
// writers.
//
// A Writer sends the fewest requests the distribution spec allows
// (https://github.com/opencontainers/distribution-spec/blob/main/spec.md):
//
//   - A blob whose digest is known is one POST that asks to mount it —
//     from the repository it was read from when that is on the same
//     registry, else from the target repository itself — then, unless the
//     registry answered 201 (mounted, or already there), one PUT with the
//     whole body ("mounting a blob from another repository"; "monolithic
//     upload, POST then PUT"). A POST that mounts from the target itself is
//     the existence check: no HEAD before, no PATCH between.
//   - A blob whose digest is learnt while it is read (a layer built from
//     files) is one POST, one streamed PATCH and one PUT that names the
//     digest ("pushing a blob in chunks" with a single chunk): the digest
//     cannot be in the request that carries the body.
//   - A manifest is one PUT, without a HEAD before it: a manifest is a few
//     hundred bytes, a HEAD costs the same round trip.
//
// A refused mount — an error status instead of 202, as Harbor's 401 and
// Docker Hub's 403 are (see registry-quirks) — is retried as a plain
// upload, as go-containerregistry's own writer does (its issues #1404 and
// #1679). An upload whose body cannot be sent again is retried as a whole
// new session through WithSessions.
package push
