package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sethvargo/go-githubactions"

	"github.com/oci-assemble/oci-assemble/internal/auth"
	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/publish"
)

// run is the whole program: read and check every input, assemble the
// index, publish it, clean up and set the outputs. It returns the exit
// code.
func run(ctx context.Context, e env) int {
	ui := newUI(e)
	spec, code := ui.readSpec()
	if spec == nil {
		return code
	}
	defer ui.giveWorkspace(spec)
	kc, err := ui.keychain(spec)
	if err != nil {
		ui.fail(err)
		return exitInput
	}
	// The run's one registry client: every read, write and deletion goes
	// through it.
	rc, err := client.New(
		client.WithKeychain(ui.recorded(kc)),
		client.WithSentCredentials(ui.mask),
		client.WithInsecureRegistries(spec.InsecureRegistries),
		client.WithLogger(ui.logger),
		client.WithUserAgent("oci-assemble/"+version),
	)
	if err != nil {
		ui.fail(err)
		return exitFailed
	}
	asm := oci.New(rc)
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, spec.Timeout, fmt.Errorf("timed out after %s (input timeout)", spec.Timeout))
		defer cancel()
	}
	as, code := ui.assemble(ctx, asm, spec)
	if as == nil {
		return code
	}
	sig, code := ui.sign(ctx, rc, spec, as)
	if code != exitOK {
		return code
	}
	ui.signed = sig
	res, code := ui.publish(ctx, asm, as, spec)
	if code != exitOK {
		return code
	}
	cleaned := ui.cleanup(ctx, spec, kc, rc, as)
	if err := ui.outputs(as, res, spec, cleaned); err != nil {
		ui.fail(err)
		return exitFailed
	}
	return exitOK
}

// readSpec reads and validates every input. A nil spec ends the run with
// the code: exitOK after --help or --version, exitInput after an invalid
// input.
func (u *ui) readSpec() (*inputs.Spec, int) {
	raw, err := inputs.Read(u.e.getenv, u.e.args, u.stdout)
	if errors.Is(err, inputs.ErrHelp) {
		return nil, exitOK
	}
	if errors.Is(err, inputs.ErrVersion) {
		u.println("oci-assemble " + version)
		return nil, exitOK
	}
	if err != nil {
		u.fail(err)
		return nil, exitInput
	}
	// Mask before parsing: a malformed registry-auth input still holds
	// passwords, and parsing is the first thing that could echo it.
	for _, secret := range inputs.RawSecrets(raw) {
		u.mask(secret)
	}
	spec, err := inputs.Parse(raw, u.e.getenv)
	if err != nil {
		u.fail(err)
		return nil, exitInput
	}
	for _, secret := range spec.Signing.Secrets() {
		u.mask(secret)
	}
	u.publicInputs = inputs.PublicInputs(raw)
	return spec, exitOK
}

// keychain builds the keychain from the spec and the environment, and
// from then on explains a registry's refusal by the credential's source.
func (u *ui) keychain(spec *inputs.Spec) (*auth.Keychain, error) {
	kc, err := auth.New(
		auth.WithGetenv(u.e.getenv),
		auth.WithMask(u.mask), // the keychain masks every secret it reads
		auth.WithGitHubToken(spec.GitHubToken),
		auth.WithRegistryAuth(spec.RegistryAuth),
		auth.WithLogger(u.logger),
	)
	if err != nil {
		return nil, err
	}
	u.explain = kc.Explain
	return kc, nil
}

// assemble reads the sources (or builds the layers) into the index. A nil
// assembly ends the run with the code.
func (u *ui) assemble(ctx context.Context, asm *oci.Assembler, spec *inputs.Spec) (*assembly.Assembly, int) {
	plan := oci.Plan{Sources: spec.Images, Build: spec.Build, Targets: spec.Tags, Annotations: spec.Annotations, MediaType: spec.MediaType,
		Referrers: spec.Referrers, Stage: spec.Push}
	end := func() { u.endGroup() }
	if spec.Build != nil {
		end = u.openSection("Building layers") // uploads: progress stays in sight
	} else {
		u.group("Resolving sources")
	}
	as, err := asm.Assemble(ctx, plan)
	end()
	if err != nil {
		return nil, u.failAssemble(ctx, err, spec)
	}
	u.printAssembly(as)
	for _, w := range as.Warnings {
		u.warn(w)
	}
	return as, exitOK
}

// publish pushes the index to every target, or in a dry run says what it
// would push. Its code is exitOK, or how publishing failed: exitPartial
// when some tags moved and others did not.
func (u *ui) publish(ctx context.Context, asm *oci.Assembler, as *assembly.Assembly, spec *inputs.Spec) (*publish.Result, int) {
	if !spec.Push {
		u.logger.Info("dry run: nothing written (push: false)")
		if len(spec.Tags) > 0 {
			u.logger.Info("would publish", "targets", refsString(spec.Tags))
		}
		return nil, exitOK
	}
	end := u.openSection("Publishing") // uploads: progress stays in sight
	res, err := asm.Publish(ctx, as)
	end()
	if err != nil {
		u.fail(withCause(ctx, indexHint(err, spec)))
		var te *publish.TagError
		if errors.As(err, &te) && len(te.Moved) > 0 {
			return nil, exitPartial
		}
		return nil, exitFailed
	}
	for _, t := range res.Targets {
		if len(t.SkippedReferrers) > 0 {
			u.warn(fmt.Sprintf("%s: published without %d referrer(s): %s", t.Ref, len(t.SkippedReferrers), strings.Join(t.SkippedReferrers, "; ")))
		}
	}
	return res, exitOK
}

// ui is the edge where the GitHub and GitLab protocols live. Everything
// it writes passes the redactor: stdout and stderr through redactWriter,
// the output, summary and dotenv files value by value.
type ui struct {
	e      env
	stdout io.Writer // e.stdout, redacted
	stderr io.Writer // e.stderr, redacted
	gha    *githubactions.Action
	// maskGHA writes ::add-mask:: to e.stdout unredacted: the runner must
	// read the very value it is asked to mask.
	maskGHA *githubactions.Action
	red     *redactor
	logger  *slog.Logger
	github  bool
	gitlab  bool
	// explain turns a registry's 401/403 into guidance naming the
	// credential's source; nil before the keychain exists.
	explain func(error, name.Reference) error
	maskMu  sync.Mutex // the keychain masks from parallel Resolve calls
	masked  map[string]bool
	section string // the open GitLab section
	now     func() time.Time
	start   time.Time // when the run began, for the summary's elapsed time
	// publicInputs are the inputs that are not secrets, for provenance.
	publicInputs map[string]string
	// signed is what the run signed; nil when it signed nothing.
	signed *signed
}

// mask keeps secret out of everything the program writes (redactor) and,
// in GitHub, out of the runner's log with ::add-mask::, once per value.
// Only GitHub's runner reads ::add-mask::; anywhere else the line would
// print the very secret it is meant to hide.
func (u *ui) mask(secret string) {
	u.red.add(secret)
	if !u.github {
		return
	}
	u.maskMu.Lock()
	defer u.maskMu.Unlock()
	if secret == "" || u.masked[secret] {
		return
	}
	u.masked[secret] = true
	u.maskGHA.AddMask(secret)
}

// recorded is kc, recording each credential as it is sent: the Basic
// credential base64(user:password) is a secret no input names.
func (u *ui) recorded(kc authn.Keychain) authn.Keychain {
	return recordKeychain{kc: kc, record: func(cfg authn.AuthConfig) {
		for _, s := range u.red.addAuth(cfg) {
			u.mask(s)
		}
	}}
}

func newUI(e env) *ui {
	red := newRedactor()
	u := &ui{
		e:       e,
		stdout:  redactWriter{w: e.stdout, r: red},
		stderr:  redactWriter{w: e.stderr, r: red},
		maskGHA: githubactions.New(githubactions.WithGetenv(e.getenv), githubactions.WithWriter(e.stdout)),
		red:     red,
		github:  e.getenv("GITHUB_ACTIONS") == "true",
		gitlab:  e.getenv("GITLAB_CI") == "true",
		masked:  map[string]bool{},
		now:     time.Now,
		start:   time.Now(),
	}
	u.gha = githubactions.New(githubactions.WithGetenv(e.getenv), githubactions.WithWriter(u.stdout))
	u.logger = slog.New(newLineHandler(u.stdout, red.redact))
	return u
}

// fail reports err as one line per problem: an ::error annotation in
// GitHub, "error: ..." elsewhere.
func (u *ui) fail(err error) {
	var re *plan.RefError
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
		u.annotate("error", l)
	}
}

// annotate reports msg as one line: a ::error, ::warning or ::notice
// annotation in GitHub, "level: msg" on stderr elsewhere. msg is
// redacted and put on one line with its control characters escaped, so a
// registry's text can neither add a line nor start a workflow command.
func (u *ui) annotate(level, msg string) {
	msg = inertLine(oneLine(u.red.redact(msg)))
	if u.github {
		switch level {
		case "error":
			u.gha.Errorf("%s", msg)
		case "warning":
			u.gha.Warningf("%s", msg)
		default:
			u.gha.Noticef("%s", msg)
		}
		return
	}
	fmt.Fprintf(u.stderr, "%s: %s\n", level, msg)
}

// notice is a ::notice annotation in GitHub, a plain line elsewhere.
func (u *ui) notice(msg string) {
	if u.github {
		u.annotate("notice", msg)
		return
	}
	u.println(msg)
}

// println writes one line of text to stdout, redacted and inert.
func (u *ui) println(line string) {
	fmt.Fprintf(u.stdout, "%s\n", inertLine(oneLine(u.red.redact(line))))
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

// group opens a collapsible log section: ::group:: in GitHub, a section
// in GitLab's job log viewer, a heading elsewhere.
func (u *ui) group(title string) {
	switch {
	case u.github:
		u.gha.Group(title)
	case u.gitlab:
		u.section = sectionName(title)
		fmt.Fprintf(u.stdout, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", u.now().Unix(), u.section, title)
	default:
		u.println("== " + title)
	}
}

func (u *ui) endGroup() {
	switch {
	case u.github:
		u.gha.EndGroup()
	case u.gitlab && u.section != "":
		fmt.Fprintf(u.stdout, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", u.now().Unix(), u.section)
		u.section = ""
	}
}

// sectionName makes a GitLab section name (letters, digits, _ . -).
func sectionName(title string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '_'
	}, title)
}

func (u *ui) printAssembly(as *assembly.Assembly) {
	for _, m := range as.Manifests {
		u.logger.Info("platform", "platform", m.Platform, "digest", m.Digest, "size", m.Size, "source", m.Source)
	}
	raw, err := as.Index.RawManifest()
	if err == nil {
		var pretty bytes.Buffer
		if json.Indent(&pretty, raw, "", "  ") == nil {
			// A source's annotations are in it: each line made inert.
			out := []string{"index " + as.Digest.String() + ":"}
			for _, l := range strings.Split(pretty.String(), "\n") {
				out = append(out, inertLine(escapeControls(u.red.redact(l))))
			}
			fmt.Fprintf(u.stdout, "%s\n", strings.Join(out, "\n"))
		}
	}
}

func refsString(refs []plan.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// failAssemble reports a failure to read the sources or build the images.
// What the user can fix in the inputs — a layer file that is missing, a
// source that does not exist in its registry or layout, a layout source
// that holds several images and names none — exits as bad input, naming
// the input, whatever the transport: the same mistake has one code.
func (u *ui) failAssemble(ctx context.Context, err error, spec *inputs.Spec) int {
	if ie, ok := missingDigest(err, spec); ok {
		u.fail(ie)
		return exitInput
	}
	input := "images"
	if spec.Build != nil {
		input = "base"
	}
	var re *plan.RefError
	var te *transport.Error
	switch {
	case errors.Is(err, layer.ErrInput):
		u.fail(&inputs.Error{Input: "layers", Msg: err.Error()})
		return exitInput
	case errors.As(err, &re) && re.Op == "reading" && errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		u.fail(&inputs.Error{Input: input, Msg: fmt.Sprintf("%s does not exist in its registry; check the name and tag (in a matrix, that the job that pushes it ran first)", re.Ref)})
		return exitInput
	case errors.Is(err, plan.ErrNotFound), errors.Is(err, plan.ErrAmbiguous):
		// The layout twin of the registry's 404: the input names an
		// image the layout does not hold, or not one image.
		u.fail(&inputs.Error{Input: input, Msg: err.Error()})
		return exitInput
	}
	u.fail(withCause(ctx, err))
	return exitFailed
}

// withCause names the timeout when the job's deadline cut err short.
func withCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) && ctx.Err() != cause {
		return fmt.Errorf("%v: %w", cause, err)
	}
	return err
}

// indexHint says what to do when a registry refuses the OCI index: the
// Docker format, which such registries accept, unless annotations were
// asked for, which a Docker manifest list cannot carry.
func indexHint(err error, spec *inputs.Spec) error {
	if !errors.Is(err, publish.ErrIndexRefused) || spec.MediaType != plan.OCIIndex {
		return err
	}
	if len(spec.Annotations) > 0 {
		return fmt.Errorf("%w; a Docker manifest list (media-type: docker) cannot carry the annotations input: drop the annotations to publish to this registry", err)
	}
	return fmt.Errorf("%w; set media-type: docker to publish a Docker manifest list instead", err)
}
