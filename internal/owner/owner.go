// Package owner gives what the program writes under the CI workspace to the
// workspace's owner.
//
// A GitHub docker action runs as root in its container, and so does a
// GitLab job image without a USER; the workspace on the host belongs to
// the runner's user (actions/runner mounts it at /github/workspace; GitLab
// mounts the project directory at CI_PROJECT_DIR). A file that root writes
// there stays root's on the host, and the runner's later steps, which run
// as that user, can neither change nor delete it (actions/runner#434 and
// the "permission denied" reports that followed). So, when the program
// runs as root, every file and directory it wrote under the workspace is
// given the workspace directory's uid and gid.
package owner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Option configures Give.
type Option func(*options)

type options struct {
	euid   func() int
	lchown func(path string, uid, gid int) error
	owner  func(path string) (uid, gid int, err error)
}

// WithEUID reports the effective user ID. Default os.Geteuid.
func WithEUID(f func() int) Option { return func(o *options) { o.euid = f } }

// WithLchown changes the owner of one path without following symlinks.
// Default os.Lchown.
func WithLchown(f func(path string, uid, gid int) error) Option {
	return func(o *options) { o.lchown = f }
}

// WithOwnerOf reports the uid and gid that own a path. Default lstat's.
func WithOwnerOf(f func(path string) (uid, gid int, err error)) Option {
	return func(o *options) { o.owner = f }
}

// Give hands path, and everything below it when it is a directory, to the
// owner of workspace, together with the directories between workspace and
// path that root owns (the ones the program made on the way). It does
// nothing unless the effective user is root, path lies under workspace
// (both absolute, or relative to the same working directory), and the
// workspace belongs to another user. Symlinks are not followed.
func Give(workspace, path string, opts ...Option) error {
	o := options{euid: os.Geteuid, lchown: os.Lchown, owner: lstatOwner}
	for _, opt := range opts {
		opt(&o)
	}
	if o.euid() != 0 || workspace == "" || path == "" {
		return nil
	}
	ws, p := filepath.Clean(workspace), filepath.Clean(path)
	rel, err := filepath.Rel(ws, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil
	}
	uid, gid, err := o.owner(ws)
	if err != nil {
		return fmt.Errorf("reading the owner of the workspace %s: %w", ws, err)
	}
	if uid == 0 && gid == 0 {
		return nil
	}
	var errs []error
	// The directories on the way, from the workspace down.
	dir := ws
	parts := strings.Split(rel, string(filepath.Separator))
	for _, part := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, part)
		if u, _, err := o.owner(dir); err == nil && u == 0 {
			errs = append(errs, o.lchown(dir, uid, gid))
		}
	}
	err = filepath.WalkDir(p, func(q string, _ fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && q == p {
				return nil // nothing was written there
			}
			return err
		}
		if err := o.lchown(q, uid, gid); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("giving %s to the workspace owner %d:%d: %w", p, uid, gid, err)
	}
	return nil
}

func lstatOwner(path string) (int, int, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("%s: no owner information on this system", path)
	}
	return int(st.Uid), int(st.Gid), nil
}
