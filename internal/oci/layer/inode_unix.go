//go:build unix

package layer

import (
	"io/fs"
	"syscall"
)

// inodeOf identifies the file behind fi, and counts its links, so that
// hardlinks within a layer are stored as tar hardlinks, not as copies.
func inodeOf(fi fs.FileInfo) (inode, uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return inode{}, 0, false
	}
	return inode{dev: uint64(st.Dev), ino: uint64(st.Ino)}, uint64(st.Nlink), true //nolint:unconvert // Dev and Nlink differ in size between platforms
}
