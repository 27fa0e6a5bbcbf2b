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

// oEntry is an entry of the reference planner below: the implementation
// of the layer's entry order before the walk streamed it, which planned
// every entry of the tree in memory. TestWalkMatchesPlan holds the walk to
// its output.
type oEntry struct {
	name     string
	kind     kind
	mode     int64
	src      string
	size     int64
	link     string
	explicit bool
	ino      inode
	hasIno   bool
}

// planner collects the entries of one layer by image path.
type planner struct {
	byName map[string]*oEntry
	origin map[string]string // image path → file on disk, for conflict messages
}

// oraclePlan walks files (resolved: absolute SRC, clean DEST) and returns the
// layer's tar entries sorted by path, parents before children, each parent
// once, with hardlinks resolved: the first path of an inode in sorted order
// holds the content, later ones link to it.
func oraclePlan(files []File) ([]*oEntry, error) {
	pl := &planner{byName: map[string]*oEntry{}, origin: map[string]string{}}
	for _, f := range files {
		if err := pl.addFile(f); err != nil {
			return nil, err
		}
	}
	if err := pl.addParents(); err != nil {
		return nil, err
	}
	entries := make([]*oEntry, 0, len(pl.byName))
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
	e := &oEntry{name: name, mode: modeBits(fi.Mode()), explicit: true}
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
		e.ino, _, e.hasIno = inodeOf(fi)
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
			pl.byName[dir] = &oEntry{name: dir, kind: kindDir, mode: impliedDirMode}
		}
	}
	return nil
}
