package inputs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
)

// maxDigestFiles bounds the entries read from one digests folder: one file
// per platform image, so a few dozen at most; more means the wrong folder.
const maxDigestFiles = 256

// maxStrayShown bounds the stray names one error quotes.
const maxStrayShown = 5

// DigestFile is a source the digests input read from a folder, kept so
// that a digest its registry lacks is reported against that input, with
// its folder, rather than as an image.
type DigestFile struct {
	Ref plan.Ref
	// Repository is REPOSITORY as the input gives it.
	Repository string
	// Folder is FOLDER as the input gives it.
	Folder string
}

// parseDigests reads the digests input, REPOSITORY=FOLDER items, into
// s.Images after the images input's sources, and records each in
// s.DigestFiles. FOLDER is what Docker's multi-runner recipe leaves in its
// merge job
// (https://docs.docker.com/build/ci/github-actions/multi-platform/#distribute-build-across-multiple-runners):
// one empty file per platform image, named by the hex of the sha256
// digest the build job pushed by. Only the names are read, each must be
// such a hex digest, and each becomes REPOSITORY@sha256:NAME, the
// reference `docker buildx imagetools create` is given there.
func parseDigests(s *Spec, raw Raw, getenv func(string) string, insecure hosts.Insecure, layerMode bool, fail func(input, format string, a ...any)) {
	items := splitList(raw["digests"])
	if len(items) == 0 {
		return
	}
	if layerMode {
		fail("digests", "joins the images the build jobs pushed; remove it or base (layer mode)")
		return
	}
	github := getenv("GITHUB_ACTIONS") == "true"
	ws, err := digestsWorkspace(getenv)
	if err != nil {
		fail("digests", "cannot find the workspace: %v", err)
		return
	}
	for _, item := range items {
		repoText, dir, ok := strings.Cut(item, "=")
		repoText, dir = strings.TrimSpace(repoText), strings.TrimSpace(dir)
		if !ok || repoText == "" || dir == "" {
			fail("digests", "%q is not REPOSITORY=FOLDER (for example ghcr.io/o/app=digests)", item)
			continue
		}
		repo, err := parseRef(repoText, insecure)
		if err != nil || repo.Transport != plan.Registry || repo.Tag != "" || repo.Digest != "" {
			fail("digests", "%q is not a repository: give the one the build jobs pushed to, without a tag or digest (for example ghcr.io/o/app=digests)", repoText)
			continue
		}
		names, msg := readDigestNames(dir, ws, github)
		if msg != "" {
			fail("digests", "%s", msg)
			continue
		}
		for _, n := range names {
			r, err := parseRef(repoText+"@sha256:"+n, insecure)
			if err != nil { // unreachable: the repository and the hex parsed
				fail("digests", "%v", err)
				continue
			}
			s.Images = append(s.Images, r)
			s.DigestFiles = append(s.DigestFiles, DigestFile{Ref: r, Repository: repoText, Folder: dir})
		}
	}
}

// digestsWorkspace is the folder a docker action's container shares with
// the runner: GITHUB_WORKSPACE, else GitLab's CI_PROJECT_DIR, else the
// working directory.
func digestsWorkspace(getenv func(string) string) (string, error) {
	ws := getenv("GITHUB_WORKSPACE")
	if ws == "" {
		ws = getenv("CI_PROJECT_DIR")
	}
	if ws == "" {
		return os.Getwd()
	}
	return filepath.Abs(ws)
}

// readDigestNames returns the sorted file names of dir, each checked to
// be a sha256 digest's hex, or a message saying what is wrong. Nothing in
// the folder is skipped: a stray file means the folder is not what the
// build jobs uploaded, and joining without it could publish an index that
// lacks a platform. ws is the workspace; github tailors the advice to
// GitHub Actions.
func readDigestNames(dir, ws string, github bool) ([]string, string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Sprintf("folder %q: %v", dir, err)
	}
	f, err := os.Open(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !within(ws, abs) && github:
		// A docker action's container sees the workspace, not the
		// runner's other folders: ${{ runner.temp }}, where Docker's
		// recipe downloads the digests, does not exist in it.
		return nil, fmt.Sprintf("folder %q is outside the workspace %q, the only folder of the runner the action's container sees; download the artifacts under the workspace (actions/download-artifact path: digests) and give that relative path", dir, ws)
	case errors.Is(err, fs.ErrNotExist) && github:
		return nil, fmt.Sprintf("folder %q not found; download the build jobs' digests into it first (actions/download-artifact with pattern: digests-*, merge-multiple: true and path: %q)", dir, dir)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Sprintf("folder %q not found; check the path (relative paths are from the working directory)", dir)
	case err != nil:
		return nil, fmt.Sprintf("folder %q: %v", dir, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.IsDir() {
		return nil, fmt.Sprintf("%q is not a folder; give the folder the digest files were downloaded into", dir)
	}
	entries, err := f.ReadDir(maxDigestFiles + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Sprintf("reading folder %q: %v", dir, err)
	}
	switch {
	case len(entries) == 0:
		return nil, fmt.Sprintf("folder %q holds no digest files; each build job writes one, named by the hex of the digest it pushed, and uploads it as an artifact", dir)
	case len(entries) > maxDigestFiles:
		return nil, fmt.Sprintf("folder %q holds more than %d files; give the folder that holds only the digest files, one per platform image", dir, maxDigestFiles)
	}
	var names, stray []string
	perArtifact := false
	for _, e := range entries {
		switch {
		case e.IsDir():
			stray = append(stray, e.Name()+"/")
			perArtifact = perArtifact || strings.HasPrefix(e.Name(), "digests-")
		case isHexDigest(e.Name()):
			names = append(names, e.Name())
		default:
			stray = append(stray, e.Name())
		}
	}
	if len(stray) > 0 {
		return nil, strayMessage(dir, stray, perArtifact, github)
	}
	// Sorted as the shell's * sorts them in Docker's merge step, not in
	// the order the file system happens to list them.
	slices.Sort(names)
	return names, ""
}

// strayMessage says which entries of a digests folder are not digest
// files, quoting each name so that no name can forge a log line.
func strayMessage(dir string, stray []string, perArtifact, github bool) string {
	slices.Sort(stray)
	quoted := make([]string, 0, maxStrayShown)
	for _, n := range stray[:min(len(stray), maxStrayShown)] {
		quoted = append(quoted, fmt.Sprintf("%q", n))
	}
	shown := strings.Join(quoted, ", ")
	if more := len(stray) - maxStrayShown; more > 0 {
		shown += fmt.Sprintf(" and %d more", more)
	}
	msg := fmt.Sprintf("folder %q holds %s, not a file named by a sha256 digest's 64 lowercase hex digits; the folder must hold only the digest files", dir, shown)
	if perArtifact && github {
		msg += " (a folder per artifact: set merge-multiple: true on actions/download-artifact)"
	}
	return msg
}

// isHexDigest reports whether s is the hex of a sha256 digest as Docker's
// recipe writes it (${digest#sha256:}): 64 lowercase hex digits.
func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// within reports whether path lies in dir; both are absolute and clean.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
