// Package layout reads and writes OCI image layouts on disk, each through
// an os.Root: a source's blobs are opened as regular files inside it and
// verified against their digests, and a target's files are written to new
// files and renamed, never through a symlink.
package layout
