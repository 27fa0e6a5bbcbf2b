// Package attest builds the in-toto statements oci-assemble signs: SLSA
// provenance for an assembled index and SPDX SBOMs for images built in
// layer mode. It does no I/O: callers hand it digests, the inputs and the
// CI's variables, and get back the statement's JSON, ready to be signed as
// a DSSE envelope with payload type application/vnd.in-toto+json.
//
// Statements follow in-toto's v1 Statement
// (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md),
// built and checked with its Go bindings. The predicate types are the ones
// cosign's verify-attestation matches: --type slsaprovenance1 is
// https://slsa.dev/provenance/v1 and --type spdxjson is
// https://spdx.dev/Document.
//
// The provenance's buildType is [BuildType], described in
// docs/provenance.md.
package attest
