// Package retry owns the reliability of registry requests: it retries
// what a registry or the network got wrong for a moment — 408, 429, 5xx,
// a 403 whose body says it is a rate limit (GHCR's secondary rate limits,
// hosts.RateLimited), reset connections, EOFs, timeouts — with
// exponential backoff and full
// jitter, honours Retry-After, waits out read-after-write lag, and gives
// up within a bounded number of attempts and a bounded total time.
//
// # How the work is divided with go-containerregistry
//
// go-containerregistry (ggcr) has retries of its own, configured through
// remote.WithRetryBackoff, remote.WithRetryPredicate and
// remote.WithRetryStatusCodes. Left at their defaults they would multiply
// with ours and would not honour Retry-After (ggcr #2111, #2301). So the
// work is divided in three levels:
//
//  1. This package's Transport, installed beneath ggcr with
//     remote.WithTransport and beneath our own writer, retries each HTTP
//     request on its own: every read, ping, token fetch, blob upload
//     request (POST, PATCH, PUT), manifest and tag PUT and DELETE whose
//     body can be sent again, which is a request with no body or with
//     req.GetBody set. It alone honours Retry-After (RFC 9110 section
//     10.2.3), bounds attempts and total time, wakes up the moment the
//     request's context ends, and retries a 404 on a manifest or blob this
//     process wrote (see below). A caller reads a response body after
//     RoundTrip has returned, beyond any retry, so Transport reads an
//     error response's body before returning it (at most 64 KiB of it; a
//     cut there is retried like a reset) and resumes a manifest or blob
//     GET cut mid-body with a Range request, at most four times its
//     attempts for one body.
//
//  2. Above Transport, ggcr retries single requests again. We rely on two
//     things of its exported options: remote.WithRetryStatusCodes() with
//     no codes retries no status, and the remote.WithRetryPredicate
//     predicate decides every error. Transport.RemoteOptions sets both;
//     the predicate is false for every error Transport already retried,
//     so nothing is attempted attempts×attempts times
//     (TestRetriesDoNotMultiplyWithGGCR pins this).
//
//  3. A whole upload session — existence check, POST, PATCH, PUT — is
//     started again for what no single request can fix, and only for
//     that: a request whose body could not be sent again (a layer streamed
//     once) failed with a retryable error, or the registry says the upload
//     session is gone or broken (BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID,
//     DIGEST_INVALID, SIZE_INVALID, 416; distribution-spec "Error Codes",
//     https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes),
//     which is what a replayed PATCH or PUT meets when its first try did
//     reach the registry. A new session begins with the existence check,
//     so a blob that did land is not sent again. oci-assemble writes
//     through its own writer (internal/oci/push), which gets this level
//     from Transport.Sessions; its count is WithUploadSessions. A caller
//     that still writes with ggcr's writers (remote.Write, remote.Pusher)
//     gets it from them: they run a failed upload again under the
//     remote.WithRetryBackoff steps when the remote.WithRetryPredicate
//     predicate says so (TestLostUploadReplyStartsANewSession pins this),
//     with sleeps that do not watch the context, which is why the waiting
//     that matters happens at level 1. A layer
//     that cannot be read a second time (ggcr's stream.Layer) fails its
//     new session with stream.ErrConsumed and the caller must start over;
//     the streamed layers of internal/oci/layer can be read again, so
//     the request that sends one can be sent again (req.GetBody) and is
//     retried at level 1.
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
// to the repository" on purpose: writers ask whether a blob or manifest
// exists before sending it (distribution-spec "Checking if content exists
// in the registry",
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#checking-if-content-exists-in-the-registry),
// and those 404s are answers, not lag.
//
// # Logging
//
// Each retry logs one line: method, URL path (never the query, which can
// carry upload state or tokens, and never a header), the status or error,
// and the wait.
package retry
