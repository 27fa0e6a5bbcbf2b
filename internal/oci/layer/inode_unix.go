//go:build unix

package layer

import (
	"io/fs"
	"syscall"
)

// inodeOf identifies the file behind fi so that hardlinks within a layer are
// stored as tar hardlinks, not as copies.
func inodeOf(fi fs.FileInfo) (inode, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return inode{}, false
	}
	return inode{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true //nolint:unconvert // Dev is int32 on some platforms
}
