package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sethvargo/go-githubactions"

	"github.com/oci-assemble/oci-assemble/internal/auth"
	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci"
)

func run(ctx context.Context, e env) int {
	ui := newUI(e)
	raw, err := inputs.Read(e.getenv, e.args, e.stdout)
	if errors.Is(err, inputs.ErrHelp) {
		return exitOK
	}
	if err != nil {
		ui.fail(err)
		return exitInput
	}
	// Mask before parsing: a malformed registry-auth input still holds
	// passwords, and parsing is the first thing that could echo it.
	for _, secret := range inputs.RawSecrets(raw) {
		ui.mask(secret)
	}
	spec, err := inputs.Parse(raw, e.getenv)
	if err != nil {
		ui.fail(err)
		return exitInput
	}

	kc, err := auth.New(
		auth.WithGetenv(e.getenv),
		auth.WithMask(ui.mask), // the keychain masks every secret it reads
		auth.WithGitHubToken(spec.GitHubToken),
		auth.WithRegistryAuth(spec.RegistryAuth),
		auth.WithLogger(ui.logger),
	)
	if err != nil {
		ui.fail(err)
		return exitInput
	}
	ui.explain = kc.Explain
	asm, err := oci.New(
		oci.WithKeychain(kc),
		oci.WithInsecureRegistries(spec.InsecureRegistries),
		oci.WithLogger(ui.logger),
		oci.WithUserAgent("oci-assemble/"+version),
	)
	if err != nil {
		ui.fail(err)
		return exitFailed
	}
	plan := oci.Plan{Sources: spec.Images, Targets: spec.Tags, Annotations: spec.Annotations, MediaType: spec.MediaType}

	ui.group("Resolving sources")
	as, err := asm.Assemble(ctx, plan)
	ui.endGroup()
	if err != nil {
		ui.fail(err)
		return exitFailed
	}
	ui.printAssembly(as)

	var res *oci.Result
	if spec.Push {
		ui.group("Publishing")
		res, err = asm.Publish(ctx, as, spec.Tags)
		ui.endGroup()
		if err != nil {
			ui.fail(err)
			var te *oci.TagError
			if errors.As(err, &te) && len(te.Moved) > 0 {
				return exitPartial
			}
			return exitFailed
		}
	} else {
		ui.logger.Info("dry run: nothing written (push: false)")
		if len(spec.Tags) > 0 {
			ui.logger.Info("would publish", "targets", refsString(spec.Tags))
		}
	}
	if err := ui.outputs(as, res, spec); err != nil {
		ui.fail(err)
		return exitFailed
	}
	return exitOK
}

// ui is the edge where the GitHub and GitLab protocols live.
type ui struct {
	e      env
	gha    *githubactions.Action
	logger *slog.Logger
	github bool
	gitlab bool
	// explain turns a registry's 401/403 into guidance naming the
	// credential's source; nil before the keychain exists.
	explain func(error, name.Reference) error
	maskMu  sync.Mutex // the keychain masks from parallel Resolve calls
	masked  map[string]bool
}

// mask hides secret in the runner's log, once per value.
func (u *ui) mask(secret string) {
	u.maskMu.Lock()
	defer u.maskMu.Unlock()
	if secret == "" || u.masked[secret] {
		return
	}
	u.masked[secret] = true
	u.gha.AddMask(secret)
}

func newUI(e env) *ui {
	u := &ui{
		e:      e,
		gha:    githubactions.New(githubactions.WithGetenv(e.getenv), githubactions.WithWriter(e.stdout)),
		github: e.getenv("GITHUB_ACTIONS") == "true",
		gitlab: e.getenv("GITLAB_CI") == "true",
		masked: map[string]bool{},
	}
	u.logger = slog.New(newLineHandler(e.stdout))
	return u
}

// fail reports err as one line per problem: an ::error annotation in
// GitHub, "error: ..." elsewhere.
func (u *ui) fail(err error) {
	var re *oci.RefError
	if u.explain != nil && errors.As(err, &re) {
		err = u.explain(err, re.Ref)
	}
	var lines []string
	if j, ok := err.(interface{ Unwrap() []error }); ok && isInputErrors(j.Unwrap()) {
		for _, e := range j.Unwrap() {
			lines = append(lines, e.Error())
		}
	} else {
		lines = append(lines, err.Error())
	}
	for _, l := range lines {
		l = strings.Join(strings.Fields(strings.ReplaceAll(l, "\n", "; ")), " ")
		if u.github {
			u.gha.Errorf("%s", l)
		} else {
			fmt.Fprintf(u.e.stderr, "error: %s\n", l)
		}
	}
}

func isInputErrors(errs []error) bool {
	for _, e := range errs {
		var ie *inputs.Error
		if !errors.As(e, &ie) {
			return false
		}
	}
	return len(errs) > 0
}

func (u *ui) group(title string) {
	switch {
	case u.github:
		u.gha.Group(title)
	default:
		fmt.Fprintf(u.e.stdout, "== %s\n", title)
	}
}

func (u *ui) endGroup() {
	if u.github {
		u.gha.EndGroup()
	}
}

func (u *ui) printAssembly(as *oci.Assembly) {
	for _, m := range as.Manifests {
		u.logger.Info("platform", "platform", m.Platform, "digest", m.Digest, "size", m.Size, "source", m.Source)
	}
	raw, err := as.Index.RawManifest()
	if err == nil {
		var pretty bytes.Buffer
		if json.Indent(&pretty, raw, "", "  ") == nil {
			fmt.Fprintf(u.e.stdout, "index %s:\n%s\n", as.Digest, pretty.String())
		}
	}
}

func refsString(refs []oci.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
