package main

import (
	"fmt"
	"path/filepath"

	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/owner"
)

// giveWorkspace hands what the run wrote under the workspace (oci: layout
// targets, the dotenv report) to the workspace's owner when the program
// runs as root, as a container action and a GitLab job image do, so that
// the runner's later steps can change and delete them (package owner).
// The workspace is GITHUB_WORKSPACE, else CI_PROJECT_DIR, else the working
// directory; relative paths are under the working directory. A failure is
// a warning: the image was published.
func (u *ui) giveWorkspace(spec *inputs.Spec) {
	if u.e.geteuid == nil || u.e.getwd == nil {
		return
	}
	wd, err := u.e.getwd()
	if err != nil {
		return
	}
	ws := u.e.getenv("GITHUB_WORKSPACE")
	if ws == "" {
		ws = u.e.getenv("CI_PROJECT_DIR")
	}
	if ws == "" {
		ws = wd
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(wd, p)
	}
	var paths []string
	for _, t := range spec.Tags {
		if t.Transport == plan.Layout {
			paths = append(paths, t.Path)
		}
	}
	if spec.Dotenv != "" {
		paths = append(paths, spec.Dotenv)
	}
	opts := append([]owner.Option{owner.WithEUID(u.e.geteuid)}, u.e.ownerOpts...)
	for _, p := range paths {
		if err := owner.Give(abs(ws), abs(p), opts...); err != nil {
			u.warn(fmt.Sprintf("%v; later steps that run as the workspace's owner cannot change or delete it: give it to them with chown", err))
		}
	}
}
