package layer

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// kind is the tar entry type of a planned entry.
type kind uint8

const (
	kindDir kind = iota
	kindFile
	kindSymlink
	kindHardlink
)

// inode identifies a file on disk for hardlink detection.
type inode struct{ dev, ino uint64 }

// entry is one planned tar entry. Only metadata is held, so a plan costs
// memory per file, never per byte of content.
type entry struct {
	name     string // image path without leading or trailing "/", e.g. "usr/bin/app"
	kind     kind
	mode     int64  // permission bits plus setuid, setgid and sticky
	src      string // file on disk, for kindFile
	size     int64  // for kindFile
	link     string // symlink target as stored, or hardlink target entry name
	explicit bool   // from disk, as opposed to an implied parent directory
	ino      inode
	hasIno   bool
}

// impliedDirMode is the mode of parent directories no SRC provides.
const impliedDirMode = 0o755

// planner collects the entries of one layer by image path.
type planner struct {
	byName map[string]*entry
	origin map[string]string // image path → file on disk, for conflict messages
}

// plan walks files (resolved: absolute SRC, clean DEST) and returns the
// layer's tar entries sorted by path, parents before children, each parent
// once, with hardlinks resolved: the first path of an inode in sorted order
// holds the content, later ones link to it.
func plan(files []File) ([]*entry, error) {
	pl := &planner{byName: map[string]*entry{}, origin: map[string]string{}}
	for _, f := range files {
		if err := pl.addFile(f); err != nil {
			return nil, err
		}
	}
	if err := pl.addParents(); err != nil {
		return nil, err
	}
	entries := make([]*entry, 0, len(pl.byName))
	for _, e := range pl.byName {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	first := map[inode]string{}
	for _, e := range entries {
		if e.kind != kindFile || !e.hasIno {
			continue
		}
		if target, ok := first[e.ino]; ok {
			e.kind, e.link, e.size, e.src = kindHardlink, target, 0, ""
			continue
		}
		first[e.ino] = e.name
	}
	return entries, nil
}

func (pl *planner) addFile(f File) error {
	dest := strings.TrimPrefix(f.Dest, "/")
	src := filepath.Clean(f.Src)
	if strings.HasSuffix(f.Src, string(filepath.Separator)) {
		fi, err := os.Stat(src)
		if err != nil {
			return &inputError{msg: fmt.Sprintf("SRC %s: %v", f.Src, err), err: err}
		}
		if !fi.IsDir() {
			return inputErrorf("SRC %s ends in / (copy contents) but is not a directory", f.Src)
		}
		// DEST itself is an implied 0755 directory: only the contents are copied.
		return pl.walk(src, dest)
	}
	if dest == "" {
		return inputErrorf("SRC %s: only a directory's contents (SRC/) can go to DEST /", f.Src)
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return &inputError{msg: fmt.Sprintf("SRC %s: %v", f.Src, err), err: err}
	}
	if err := pl.add(src, dest, fi); err != nil {
		return err
	}
	if fi.IsDir() {
		return pl.walk(src, dest)
	}
	return nil
}

// walk adds everything below directory dir at image path dest. Symlinks are
// stored, never followed.
func (pl *planner) walk(dir, dest string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return &inputError{msg: fmt.Sprintf("reading %s: %v", dir, err), err: err}
	}
	for _, de := range des {
		full := filepath.Join(dir, de.Name())
		fi, err := de.Info() // lstat
		if err != nil {
			return &inputError{msg: fmt.Sprintf("%s: %v", full, err), err: err}
		}
		name := path.Join(dest, de.Name())
		if err := pl.add(full, name, fi); err != nil {
			return err
		}
		if fi.IsDir() {
			if err := pl.walk(full, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (pl *planner) add(src, name string, fi fs.FileInfo) error {
	if err := checkType(src, fi); err != nil {
		return err
	}
	e := &entry{name: name, mode: modeBits(fi.Mode()), explicit: true}
	switch fi.Mode().Type() {
	case fs.ModeDir:
		e.kind = kindDir
	case fs.ModeSymlink:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("reading symlink %s: %w", src, err)
		}
		e.kind, e.link = kindSymlink, target
	default:
		e.kind, e.src, e.size = kindFile, src, fi.Size()
		e.ino, e.hasIno = inodeOf(fi)
	}
	if old, ok := pl.byName[name]; ok {
		// Directories merge, as copying two trees into one place does; the
		// later one's mode wins, in the order the user listed them.
		if old.kind == kindDir && e.kind == kindDir {
			old.mode = e.mode
			pl.origin[name] = src
			return nil
		}
		return inputErrorf("/%s is written twice, from %s and from %s", name, pl.origin[name], src)
	}
	pl.byName[name] = e
	pl.origin[name] = src
	return nil
}

// addParents adds every missing ancestor directory as 0755 and refuses a
// path below a file or symlink.
func (pl *planner) addParents() error {
	names := make([]string, 0, len(pl.byName))
	for n := range pl.byName {
		names = append(names, n)
	}
	sort.Strings(names) // only for a deterministic error message
	for _, n := range names {
		for dir := path.Dir(n); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if e, ok := pl.byName[dir]; ok {
				if e.kind != kindDir {
					return inputErrorf("/%s (from %s) needs /%s to be a directory, but %s puts a %s there",
						n, pl.origin[n], dir, pl.origin[dir], kindName(e.kind))
				}
				continue
			}
			pl.byName[dir] = &entry{name: dir, kind: kindDir, mode: impliedDirMode}
		}
	}
	return nil
}

func kindName(k kind) string {
	switch k {
	case kindDir:
		return "directory"
	case kindSymlink:
		return "symlink"
	}
	return "file"
}

// modeBits keeps the permission bits exactly as on disk, plus the setuid,
// setgid and sticky bits in their tar (Unix) positions.
func modeBits(m fs.FileMode) int64 {
	bits := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}
