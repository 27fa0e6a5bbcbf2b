// Package oci is the engine of oci-assemble: it wires the steps of the flow
// that its sub-packages are, and does no registry work of its own.
//
//	plan     what to join and how: references, annotations, the build spec
//	source   reading sources: the Source interface, the registry reader,
//	         referrers; source/archive reads docker archives; layout
//	         reads and writes OCI layouts on disk
//	assembly members to one annotated index, no I/O of its own
//	publish  the run's Targets: staging, blobs and manifests by digest
//	         everywhere, then tags, then each tag read back; referrer
//	         copies; publish/reuse proves the layers the targets held
//
// Arrows run one way, plan ← source ← assembly ← publish ← oci. Every
// request goes through one client.Client, built once by the caller: reads
// through its Puller, blobs through Blob and HeldLayer, writes through its
// Pusher (package push), everything over the transport of package stack.
// The engine never speaks a CI system's protocol; outputs, masks and
// summaries belong to the caller.
package oci
