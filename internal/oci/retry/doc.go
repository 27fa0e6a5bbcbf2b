// Package retry owns the reliability of registry requests: it retries
// what a registry or the network got wrong for a moment — 408, 429, 5xx,
// reset connections, EOFs, timeouts — with exponential backoff and full
// jitter, honours Retry-After, waits out read-after-write lag, and gives
// up within a bounded number of attempts and a bounded total time.
//
// # How the work is divided with go-containerregistry
//
// go-containerregistry (ggcr) retries at two levels of its own, and both
// are configured with the same three knobs (remote.WithRetryBackoff,
// WithRetryPredicate, WithRetryStatusCodes). Used as they come, they would
// multiply with any retry of ours and never honour Retry-After or a
// context while sleeping. So the levels divide the work like this:
//
//  1. This package's Transport, installed beneath ggcr with
//     remote.WithTransport, retries each HTTP request on its own: every
//     read, ping, token fetch, blob upload request (POST, PATCH, PUT),
//     manifest and tag PUT and DELETE whose body can be sent again, which
//     is a request with no body or with req.GetBody set. It alone honours
//     Retry-After, bounds attempts and total time, wakes up the moment the
//     request's context ends, and retries a 404 on a manifest or blob this
//     process wrote (see below). Because ggcr reads bodies after RoundTrip
//     has returned, beyond any retry, it also reads an error response's
//     body before returning it (a cut there is retried like a reset) and
//     resumes a manifest or blob GET cut mid-body with a Range request.
//
//  2. ggcr's per-request retry (transport.NewRetry, which ggcr wraps
//     around our Transport) is switched off: Transport.RemoteOptions sets
//     no retry status codes, and its predicate is false for every error
//     this package already retried. It can only ever fire on a request
//     with a body that cannot be replayed, and ggcr sends those only under
//     its retry.Never context, which that level skips.
//
//  3. ggcr's upload-session retry (in uploadOne and commitManifest, which
//     runs a whole HEAD, POST, PATCH, PUT sequence again) is kept for what
//     no single request can fix, and only for that: a request whose body
//     could not be replayed — ggcr's streamed PATCH of a layer whose
//     content it cannot read twice — failed with a retryable error, or
//     the registry says the upload session is gone or broken
//     (BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID, DIGEST_INVALID,
//     SIZE_INVALID, 416), which is what a replayed PATCH or PUT meets when
//     its first try did reach the registry. A new session starts with
//     ggcr's existence check, so a blob that did land is not sent again.
//     Its count is WithUploadSessions; its short sleeps do not watch the
//     context, which is why the waiting that matters happens at level 1.
//     (ggcr's own stream.Layer cannot be read a second time, so its new
//     session fails with stream.ErrConsumed and the caller must start over
//     with a fresh layer; the streamed layers of internal/oci/layer can be
//     read again, get GetBody from ggcr, and are retried at level 1.)
//
// Uploads that oci-assemble makes without ggcr's writer (a blob sent as
// one mount POST and one PUT, internal/oci's writer) get the same third
// level from Transport.Sessions.
//
// A request that exhausted its retries here therefore fails upward once,
// not attempts×sessions times.
//
// # Read-after-write
//
// GHCR and Docker Hub serve reads from replicas that can lag a write by
// seconds. A 404 on GET or HEAD of /v2/<name>/manifests/<ref> or
// /v2/<name>/blobs/<digest> is retried for up to WithReadAfterWrite
// (10s) only when this Transport saw a successful PUT (or mount) of that
// very manifest reference, manifest digest or blob digest in that
// repository, and no DELETE of it since. It is narrower than "any write
// to the repository" on purpose: ggcr checks whether each blob and
// manifest exists before uploading it, and those 404s are answers, not
// lag.
//
// # Logging
//
// Each retry logs one line: method, URL path (never the query, which can
// carry upload state or tokens, and never a header), the status or error,
// and the wait.
package retry
