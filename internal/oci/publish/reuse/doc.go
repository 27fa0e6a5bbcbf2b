// Package reuse knows what the targets held before this run (their first
// tags, and the diffIDs of the images those name) and reuses a held blob
// for a new layer only once it is proven, by reading it, to be that layer.
package reuse
