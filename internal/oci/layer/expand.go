package layer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/platform"
)

// Resolved is a Spec expanded for one platform: SRC made absolute with
// placeholders replaced (a trailing "/" kept: copy the directory's contents)
// and DEST cleaned (a DEST ending in "/" for a file or directory already has
// the SRC's base name appended). Expand also walks the files once to check
// them, so bad input fails before anything is built or sent; it keeps
// nothing of the walk, so memory does not grow with the number of files.
type Resolved struct {
	Files []File

	shown   []File // SRC as the user wrote it, expanded; for history
	checked bool   // every file was walked and checked (made by Expand)
}

// Key identifies the layer content by its expanded SRC/DEST list, so a caller
// builds a layer shared by several platforms once. It is deterministic across
// runs; options such as compression are not part of it (see Builder.Key).
func (r Resolved) Key() string {
	h := sha256.New()
	for _, f := range r.Files {
		// Length prefixes keep ("a:", "b") and ("a", ":b") apart.
		fmt.Fprintf(h, "%d:%s%d:%s", len(f.Src), f.Src, len(f.Dest), f.Dest)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CreatedBy describes the layer for its history entry, e.g.
// "oci-assemble: COPY dist/linux-amd64/app -> /usr/local/bin/app". It names
// SRC as the user wrote it (expanded), never the runner's absolute paths, so
// the config stays the same on every machine.
func (r Resolved) CreatedBy() string {
	files := r.shown
	if files == nil {
		files = r.Files
	}
	parts := make([]string, len(files))
	for i, f := range files {
		parts[i] = f.Src + " -> " + f.Dest
	}
	return "oci-assemble: COPY " + strings.Join(parts, ", ")
}

// History returns the history entry for this layer, created at created.
func (r Resolved) History(created time.Time) v1.History {
	return v1.History{Created: v1.Time{Time: created}, CreatedBy: r.CreatedBy(), Comment: "oci-assemble"}
}

// Expand resolves spec for platform p: it returns false when the spec's
// platform filter excludes p. Relative SRC is taken under workspace, which
// must be absolute, and must stay in it once placeholders are filled and
// symlinks resolved: only an absolute SRC, as the user wrote it, names
// files elsewhere. p fills the placeholders, so it must pass
// platform.Check whatever it came from (the error then wraps
// platform.ErrInvalid). Every SRC must exist, and every file under it must
// be a regular file, directory or symlink; sockets, devices and FIFOs are
// refused. Errors about the files wrap ErrInput (and fs.ErrNotExist for a
// missing SRC, ErrOutside for one outside the workspace) and name the
// item and the expanded SRC.
func Expand(spec Spec, p v1.Platform, workspace string) (Resolved, bool, error) {
	if err := platform.Check(p); err != nil {
		return Resolved{}, false, fmt.Errorf("%s: %w", itemName(spec.pos, -1), err)
	}
	if !spec.matches(p) {
		return Resolved{}, false, nil
	}
	if !filepath.IsAbs(workspace) {
		return Resolved{}, false, fmt.Errorf("workspace %q must be an absolute path", workspace)
	}
	if len(spec.Files) == 0 {
		return Resolved{}, false, inputErrorf("%s: no files", itemName(spec.pos, -1))
	}
	ws := &workspaceRoot{dir: filepath.Clean(workspace)}
	var r Resolved
	for i, f := range spec.Files {
		name := itemName(spec.pos, i)
		if err := checkDest(f.Dest); err != nil {
			return Resolved{}, false, fmt.Errorf("%s: %w", name, err)
		}
		src := expandSrc(f.Src, p)
		rf, err := ws.place(f, src)
		if err != nil {
			where := fmt.Sprintf("SRC %q", src)
			if src != f.Src {
				where += fmt.Sprintf(" (from %q for %s)", f.Src, platform.String(p))
			}
			return Resolved{}, false, fmt.Errorf("%s: %s %w", name, where, err)
		}
		r.Files = append(r.Files, rf)
		r.shown = append(r.shown, File{Src: src, Dest: rf.Dest})
	}
	if err := walk(r.Files, nil); err != nil {
		return Resolved{}, false, fmt.Errorf("%s: %w", itemName(spec.pos, -1), err)
	}
	r.checked = true
	return r, true, nil
}

// place resolves one File whose SRC, as the user wrote it, is f.Src and,
// expanded, src: SRC made absolute (a relative one under the workspace,
// its symlinks resolved), DEST cleaned, and a DEST ending in "/" for a
// file or directory given the SRC's base name.
func (w *workspaceRoot) place(f File, src string) (File, error) {
	contents := strings.HasSuffix(src, "/")
	// Whether SRC is relative is read from what the user wrote: an
	// empty {variant} must not turn "{variant}/x" into "/x".
	relative := !filepath.IsAbs(filepath.FromSlash(f.Src))
	abs := filepath.Clean(filepath.FromSlash(src))
	if relative {
		abs = filepath.Join(w.dir, abs)
		if !within(w.dir, abs) {
			return File{}, &inputError{msg: "is outside the workspace; write an absolute SRC to copy files from elsewhere", err: ErrOutside}
		}
	}
	dest := cleanDest(f.Dest)
	if !contents && strings.HasSuffix(f.Dest, "/") {
		dest = path.Join(dest, filepath.Base(abs))
	}
	rf := File{Src: abs, Dest: dest}
	if contents && abs != string(filepath.Separator) {
		rf.Src += string(filepath.Separator)
	}
	if err := checkSrc(rf, contents); err != nil {
		return File{}, err
	}
	if !relative {
		return rf, nil
	}
	real, err := w.confine(abs, contents)
	if err != nil {
		return File{}, err
	}
	rf.Src = real
	if contents && real != string(filepath.Separator) {
		rf.Src += string(filepath.Separator)
	}
	return rf, nil
}

// ErrOutside marks a relative SRC that leads out of the workspace, by ".."
// or through a symlink. Only an absolute SRC names files elsewhere, so
// neither a placeholder filled from a base image nor a symlink in the
// workspace can choose files on the runner the user did not name.
var ErrOutside = errors.New("outside the workspace")

// workspaceRoot is the directory relative SRCs are confined to; its own
// symlinks are resolved once, on first use.
type workspaceRoot struct {
	dir  string // absolute and clean
	real string
}

// confine resolves the symlinks of a relative SRC's path abs, which
// exists: all of it for SRC/, whose directory is read through a symlink,
// else all but the last element, which is copied as it is (a symlink as a
// symlink). It refuses a path that then lies outside the workspace, as
// containerd's archive resolves every entry inside its root, and returns
// the resolved path, so the files read later are the ones checked here.
func (w *workspaceRoot) confine(abs string, contents bool) (string, error) {
	if w.real == "" {
		real, err := filepath.EvalSymlinks(w.dir)
		if err != nil {
			return "", &inputError{msg: fmt.Sprintf("cannot be checked: the workspace %s cannot be read: %v", w.dir, err), err: err}
		}
		w.real = real
	}
	real, err := w.resolve(abs, contents)
	if err != nil {
		return "", &inputError{msg: "cannot be read: " + err.Error(), err: err}
	}
	if !within(w.real, real) {
		return "", &inputError{msg: fmt.Sprintf("leads through a symlink to %q, outside the workspace; write an absolute SRC to copy files from there", real), err: ErrOutside}
	}
	return real, nil
}

func (w *workspaceRoot) resolve(abs string, contents bool) (string, error) {
	switch {
	case abs == w.dir:
		return w.real, nil
	case contents:
		return filepath.EvalSymlinks(abs)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	return filepath.Join(dir, filepath.Base(abs)), err
}

// within reports whether p is root or below it; both are absolute and clean.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && filepath.IsLocal(rel)
}

// checkSrc gives the common first error for a SRC with a message that says
// what to do; walk repeats the checks for every file below it.
func checkSrc(f File, contents bool) error {
	stat := os.Lstat
	if contents {
		stat = os.Stat // "link/" means the directory the link points to
	}
	fi, err := stat(f.Src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &inputError{msg: "does not exist; build it before this step or fix the path", err: err}
	case err != nil:
		return &inputError{msg: "cannot be read: " + err.Error(), err: err}
	case contents && !fi.IsDir():
		return inputErrorf("ends in / (copy contents) but is not a directory")
	case f.Dest == "/" && !contents:
		return inputErrorf("only a directory's contents (SRC/) can go to DEST /")
	}
	return checkType("", fi)
}

func checkType(name string, fi fs.FileInfo) error {
	switch fi.Mode().Type() {
	case 0, fs.ModeDir, fs.ModeSymlink:
		return nil
	}
	if name != "" {
		name += " "
	}
	return inputErrorf("%sis a %s; only regular files, directories and symlinks can go in a layer", name, typeName(fi.Mode()))
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file (" + m.Type().String() + ")"
}

func itemName(pos, file int) string {
	item := "layer"
	if pos > 0 {
		item = "layers[" + strconv.Itoa(pos-1) + "]"
	}
	if file < 0 {
		return item
	}
	return item + ".files[" + strconv.Itoa(file) + "]"
}
