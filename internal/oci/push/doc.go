// Package push is oci-assemble's one write path to registries: every
// blob, manifest, tag and delete the program sends goes through a Writer,
// and a Pusher owns one Writer per repository (one authenticated client,
// so one token), the way go-containerregistry's remote.Pusher owns its
// writers.
//
// A Writer sends the fewest requests the distribution spec allows
// (https://github.com/opencontainers/distribution-spec/blob/main/spec.md):
//
//   - A blob whose digest is known and that was read from another
//     repository of the same registry is one POST that asks to mount it
//     from there, then, unless the registry answered 201, one PUT with the
//     whole body ("mounting a blob from another repository"). Any other
//     blob is a HEAD ("checking if content exists in the registry") and,
//     when it is not there, a plain POST — no mount, no from — and one PUT
//     ("monolithic upload, POST then PUT"). A mount is asked only from a
//     repository known to hold the blob: registries that refuse mounts
//     refuse one from the target itself too.
//   - A blob whose digest is learnt while it is read (a layer built from
//     files) is one POST, one streamed PATCH and one PUT that names the
//     digest ("pushing a blob in chunks" with a single chunk): the digest
//     cannot be in the request that carries the body.
//   - A manifest is one PUT, without a HEAD before it: a manifest is a few
//     hundred bytes, a HEAD costs the same round trip.
//
// A refused mount — an error status instead of 202, as Harbor's 401 and
// Docker Hub's 403 are (goharbor/harbor#17097,
// goreleaser/goreleaser#5853) — is retried as a plain upload, as go-containerregistry's own writer does (its issues #1404 and
// #1679). An upload whose body cannot be sent again is retried as a whole
// new session through WithSessions.
package push
