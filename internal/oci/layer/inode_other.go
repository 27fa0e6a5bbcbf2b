//go:build !unix

package layer

import "io/fs"

// inodeOf reports no identity where the platform has no inode numbers;
// hardlinked files are then stored as separate copies.
func inodeOf(fs.FileInfo) (inode, uint64, bool) { return inode{}, 0, false }
