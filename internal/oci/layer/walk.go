package layer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// kind is the tar entry type of an entry.
type kind uint8

const (
	kindDir kind = iota
	kindFile
	kindSymlink
	kindHardlink
)

// inode identifies a file on disk for hardlink detection.
type inode struct{ dev, ino uint64 }

// entry is one tar entry, handed to the walk's callback and then dropped:
// the walk holds metadata of the directories it is in, never of the whole
// tree, so memory does not grow with the number of files.
type entry struct {
	name string // image path without leading or trailing "/", e.g. "usr/bin/app"
	kind kind
	mode int64  // permission bits plus setuid, setgid and sticky
	src  string // file on disk, for kindFile
	size int64  // for kindFile
	link string // symlink target as stored, or hardlink target entry name
}

// impliedDirMode is the mode of parent directories no SRC provides.
const impliedDirMode = 0o755

// mapping is one resolved File, as the walk uses it.
type mapping struct {
	src      string // absolute and clean
	dest     string // image path without leading "/"; "" is the root
	contents bool   // SRC/: the directory's contents go to dest
}

// source is a directory on disk whose children are merged into the image
// directory being walked; pos is its mapping's place in the list, which
// decides which of two directories at one path gives the mode.
type source struct {
	dir string
	pos int
}

// walker streams the entries of one layer in the order of their image
// paths (byte-wise, so parents come before children), merging the
// mappings' trees directory by directory.
type walker struct {
	maps []mapping
	emit func(*entry) error
	// links maps an inode to the first path that holds its content; later
	// paths of the same inode become hardlinks. Only files with more than
	// one link are kept, unless two mappings overlap on disk (then one
	// file can appear twice with a single link).
	links    map[inode]string
	trackAll bool
}

// walk calls emit with every entry of the layer made of files (resolved:
// absolute SRC, clean DEST), sorted by path, parents before children, each
// parent once, with hardlinks resolved: the first path of an inode in
// sorted order holds the content, later ones link to it. emit may be nil
// to only check the files. Errors about the files wrap ErrInput.
func walk(files []File, emit func(*entry) error) error {
	w := &walker{emit: emit, links: map[inode]string{}}
	var roots []source
	for i, f := range files {
		m := mapping{
			src:      filepath.Clean(f.Src),
			dest:     strings.Trim(path.Clean("/"+f.Dest), "/"),
			contents: strings.HasSuffix(f.Src, string(filepath.Separator)),
		}
		if err := checkMapping(f, m); err != nil {
			return err
		}
		w.maps = append(w.maps, m)
		if m.contents && m.dest == "" {
			roots = append(roots, source{dir: m.src, pos: i})
		}
	}
	w.trackAll = overlapping(w.maps)
	return w.dir("", roots)
}

func checkMapping(f File, m mapping) error {
	if m.contents {
		fi, err := os.Stat(m.src)
		if err != nil {
			return &inputError{msg: fmt.Sprintf("SRC %s: %v", f.Src, err), err: err}
		}
		if !fi.IsDir() {
			return inputErrorf("SRC %s ends in / (copy contents) but is not a directory", f.Src)
		}
		return nil
	}
	if m.dest == "" {
		return inputErrorf("SRC %s: only a directory's contents (SRC/) can go to DEST /", f.Src)
	}
	return nil
}

// overlapping reports whether one mapping's SRC is, or is below, another's
// on disk, symlinks resolved.
func overlapping(maps []mapping) bool {
	real := make([]string, len(maps))
	for i, m := range maps {
		p, err := filepath.EvalSymlinks(m.src)
		if err != nil {
			p = m.src
		}
		real[i] = p
	}
	for i, a := range real {
		for j, b := range real {
			if i != j && (a == b || strings.HasPrefix(a, strings.TrimSuffix(b, string(filepath.Separator))+string(filepath.Separator))) {
				return true
			}
		}
	}
	return false
}

// pending is a directory whose entry is written and whose children are
// written once every sibling that sorts before "name/" is.
type pending struct {
	key     string // the directory's base name plus "/"
	name    string
	sources []source
}

// dir writes the children of image directory name, whose contents come
// from sources (in mapping order) and from the mappings below it. A child
// directory's subtree sorts at "child/", after siblings such as "child.d"
// or "child-x" ('.' and '-' sort before '/'), so it waits on a stack until
// the first sibling after that key; the stack's top is always its
// smallest key.
func (w *walker) dir(name string, sources []source) error {
	children, err := w.children(name, sources)
	if err != nil {
		return err
	}
	var stack []pending
	flush := func(until string) error {
		for len(stack) > 0 && (until == "" || stack[len(stack)-1].key < until) {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if err := w.dir(p.name, p.sources); err != nil {
				return err
			}
		}
		return nil
	}
	for i, c := range children {
		children[i] = "" // let the name go once handled
		if err := flush(c); err != nil {
			return err
		}
		full := path.Join(name, c)
		e, sub, err := w.resolve(full, sources, c)
		if err != nil {
			return err
		}
		if w.emit != nil {
			if err := w.emit(e); err != nil {
				return err
			}
		}
		if e.kind == kindDir {
			stack = append(stack, pending{key: c + "/", name: full, sources: sub})
		}
	}
	return flush("")
}

// children lists the names directly below image directory name: those in
// its source directories and the first component of every mapping DEST
// below it, sorted and each once.
func (w *walker) children(name string, sources []source) ([]string, error) {
	var names []string
	for _, s := range sources {
		f, err := os.Open(s.dir)
		if err != nil {
			return nil, &inputError{msg: fmt.Sprintf("reading %s: %v", s.dir, err), err: err}
		}
		ns, err := f.Readdirnames(-1)
		f.Close() //nolint:errcheck // read-only
		if err != nil {
			return nil, &inputError{msg: fmt.Sprintf("reading %s: %v", s.dir, err), err: err}
		}
		names = append(names, ns...)
	}
	prefix := name + "/"
	if name == "" {
		prefix = ""
	}
	for _, m := range w.maps {
		if rest, ok := strings.CutPrefix(m.dest, prefix); ok && rest != "" && m.dest != name {
			first, _, _ := strings.Cut(rest, "/")
			names = append(names, first)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// provider is one thing on disk that puts an entry at a path.
type provider struct {
	path string
	fi   fs.FileInfo
	pos  int
}

// resolve makes the entry at image path full (base name base) from what
// the sources and the mappings put there, and returns the sources of its
// children when it is a directory. Directories merge, as copying two
// trees into one place does; the later one's mode wins, in the order the
// user listed them.
func (w *walker) resolve(full string, sources []source, base string) (*entry, []source, error) {
	var provs []provider
	for _, s := range sources {
		p := filepath.Join(s.dir, base)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, nil, &inputError{msg: fmt.Sprintf("%s: %v", p, err), err: err}
		}
		provs = append(provs, provider{p, fi, s.pos})
	}
	implied := -1 // a mapping that needs full to be a directory
	var sub []source
	for i, m := range w.maps {
		switch {
		case m.dest == full && !m.contents:
			fi, err := os.Lstat(m.src)
			if err != nil {
				return nil, nil, &inputError{msg: fmt.Sprintf("SRC %s: %v", m.src, err), err: err}
			}
			provs = append(provs, provider{m.src, fi, i})
		case m.dest == full && m.contents:
			// DEST itself is an implied 0755 directory: only the
			// contents are copied.
			sub = append(sub, source{m.src, i})
			implied = max(implied, i)
		case strings.HasPrefix(m.dest, full+"/"):
			implied = max(implied, i)
		}
	}
	slices.SortStableFunc(provs, func(a, b provider) int { return a.pos - b.pos })
	e := &entry{name: full, kind: kindDir, mode: impliedDirMode}
	origin := ""
	for i, p := range provs {
		ne, err := w.entryOf(full, p)
		if err != nil {
			return nil, nil, err
		}
		if i > 0 {
			if e.kind != kindDir || ne.kind != kindDir {
				return nil, nil, inputErrorf("/%s is written twice, from %s and from %s", full, origin, p.path)
			}
			e.mode = ne.mode
		} else {
			e = ne
		}
		origin = p.path
		if ne.kind == kindDir {
			sub = append(sub, source{p.path, p.pos})
		}
	}
	if implied >= 0 && e.kind != kindDir {
		m := w.maps[implied]
		return nil, nil, inputErrorf("/%s (from %s) needs /%s to be a directory, but %s puts a %s there",
			m.dest, m.src, full, origin, kindName(e.kind))
	}
	if e.kind != kindDir {
		return e, nil, nil
	}
	slices.SortStableFunc(sub, func(a, b source) int { return a.pos - b.pos })
	return e, sub, nil
}

// entryOf is the entry p puts at full, with hardlinks resolved.
func (w *walker) entryOf(full string, p provider) (*entry, error) {
	if err := checkType(p.path, p.fi); err != nil {
		return nil, err
	}
	e := &entry{name: full, mode: modeBits(p.fi.Mode())}
	switch p.fi.Mode().Type() {
	case fs.ModeDir:
		e.kind = kindDir
	case fs.ModeSymlink:
		target, err := os.Readlink(p.path)
		if err != nil {
			return nil, fmt.Errorf("reading symlink %s: %w", p.path, err)
		}
		e.kind, e.link = kindSymlink, target
	default:
		e.kind, e.src, e.size = kindFile, p.path, p.fi.Size()
		ino, links, ok := inodeOf(p.fi)
		if !ok || (links < 2 && !w.trackAll) {
			break
		}
		if target, seen := w.links[ino]; seen {
			e.kind, e.link, e.size, e.src = kindHardlink, target, 0, ""
			break
		}
		w.links[ino] = full
	}
	return e, nil
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
