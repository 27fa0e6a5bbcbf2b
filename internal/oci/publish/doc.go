// Package publish finishes a run's Targets: built once from the target
// references, they stage new layers while the assembly is made, and then
// publish it to every destination (one per registry, one per layout):
// every blob and manifest by digest first, then the tags, then each tag
// read back. Referrers are copied with the index, by the referrers API or
// the fallback tag, and cosign's tags as cosign writes them.
package publish
