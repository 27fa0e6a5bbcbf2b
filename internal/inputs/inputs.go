// Package inputs reads the action's inputs (INPUT_* variables in GitHub),
// the same inputs as CLI flags (--NAME, for GitLab CI and local use), and
// CI variables once, and turns them into one typed, validated Spec. Every
// check happens here, before any network call, so a typo in the fifth
// annotation fails before a single blob is pushed.
package inputs

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/oci-assemble/oci-assemble/internal/auth"
	"github.com/oci-assemble/oci-assemble/internal/hosts"
	"github.com/oci-assemble/oci-assemble/internal/oci/cleanup"
	"github.com/oci-assemble/oci-assemble/internal/oci/layer"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
)

// Error is an invalid input: it names the input and says what to do.
type Error struct {
	Input string
	Msg   string
}

func (e *Error) Error() string { return "input " + e.Input + ": " + e.Msg }

// ErrHelp is returned when --help was asked for; the usage was written.
var ErrHelp = flag.ErrHelp

// ErrVersion is returned when --version was asked for: the caller prints
// the version it was built with and exits.
var ErrVersion = errors.New("version requested")

// Spec is every input, parsed and validated.
type Spec struct {
	Images      []plan.Ref
	Tags        []plan.Ref
	Annotations []plan.Annotation
	MediaType   plan.IndexMediaType
	// Referrers copies the platform images' referrers with the index.
	Referrers          bool
	Push               bool
	InsecureRegistries []string
	// GitHubToken is the github-token input as given. When it is empty the
	// keychain falls back to GITHUB_TOKEN (see auth.WithGitHubToken) and
	// names that source; ask the keychain for the token it settled on.
	GitHubToken  string
	RegistryAuth []auth.Entry
	// Build is layer mode (the base input); nil when joining images.
	Build *plan.Build
	// DeleteSourceTags and DeleteTags are cleanup after success.
	DeleteSourceTags bool
	DeleteTags       []string
	Timeout          time.Duration
	// Dotenv is the file for GitLab's dotenv report; empty writes none.
	Dotenv string
	// GitHubAPI is GitHub's REST API (GITHUB_API_URL, default
	// https://api.github.com), which deletes GHCR package versions.
	GitHubAPI string
	// GitHubServer is the GitHub instance (GITHUB_SERVER_URL), whose
	// container host cleanup treats as GHCR; empty outside GitHub.
	GitHubServer string
	// GitLab is the GitLab CI job's registry and API; nil outside GitLab CI.
	GitLab *GitLab
	// DigestFiles are the Images the digests input read from its folders.
	DigestFiles []DigestFile
	// Signing is what to sign and how; nil when sign is false.
	Signing *Signing
}

// GitLab is what GitLab CI tells a job about its project's registry and
// REST API, for deleting tags the registry will not delete itself.
// https://docs.gitlab.com/ci/variables/predefined_variables/
type GitLab struct {
	// Registry is CI_REGISTRY, the project's registry host.
	Registry string
	// APIURL is CI_API_V4_URL.
	APIURL string
	// ProjectID is CI_PROJECT_ID.
	ProjectID string
	// JobToken is CI_JOB_TOKEN, a secret.
	JobToken string
}

// Raw is every input's text as given, by name.
type Raw map[string]string

// Read collects inputs from flags (which win) and from INPUT_<NAME> in the
// environment; unset inputs get their Def default, except defaults that
// are GitHub expressions, which the runner fills in. usage receives --help.
func Read(getenv func(string) string, args []string, usage io.Writer) (Raw, error) {
	fs := flag.NewFlagSet("oci-assemble", flag.ContinueOnError)
	fs.SetOutput(usage)
	vals := map[string]*string{}
	for _, d := range Defs {
		// The default shows in --help; a GitHub expression means
		// nothing on a command line, so it is left out there.
		def := d.Default
		if strings.HasPrefix(def, "${{") {
			def = ""
		}
		vals[d.Name] = fs.String(d.Name, def, d.Description)
	}
	showVersion := fs.Bool("version", false, "Print oci-assemble's version and exit; command line only.")
	dotenv := fs.String(DotenvFlag, "", "Write the outputs to FILE as a GitLab dotenv report: OCI_ASSEMBLE_DIGEST, OCI_ASSEMBLE_IMAGE and one OCI_ASSEMBLE_DIGEST_<OS>_<ARCH>[_<VARIANT>] per platform. Default oci-assemble.env when GITLAB_CI is true; command line only.")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: oci-assemble [--INPUT VALUE ...]\n\nEach input is also read from INPUT_<NAME> (GitHub Actions).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *showVersion {
		return nil, ErrVersion
	}
	if fs.NArg() > 0 {
		return nil, &Error{Input: "arguments", Msg: fmt.Sprintf("unexpected %q; give inputs as --NAME VALUE", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	raw := Raw{}
	for _, d := range Defs {
		v := ""
		if set[d.Name] {
			v = *vals[d.Name]
		} else {
			v = getenv("INPUT_" + strings.ToUpper(d.Name))
		}
		if strings.TrimSpace(v) == "" && !strings.HasPrefix(d.Default, "${{") {
			v = d.Default
		}
		raw[d.Name] = v
	}
	raw[DotenvFlag] = *dotenv
	return raw, nil
}

// DotenvFlag is the command-line-only flag naming the dotenv report file.
const DotenvFlag = "dotenv"

// Parse validates raw inputs into a Spec. getenv supplies the CI
// variables the program needs (see Spec); the github-token input is kept as
// given, and its GITHUB_TOKEN fallback is left to the keychain, which names
// the source in its explanations. Every invalid input is reported, each as
// an *Error.
func Parse(raw Raw, getenv func(string) string) (*Spec, error) {
	s := &Spec{}
	var errs []error
	fail := func(input, format string, a ...any) {
		errs = append(errs, &Error{Input: input, Msg: fmt.Sprintf(format, a...)})
	}

	var err error
	if s.Push, err = parseBool(raw["push"]); err != nil {
		fail("push", "%v", err)
	}
	// Empty is the default, true: signatures and SBOMs travel unless
	// turned off.
	s.Referrers = true
	if v := raw["referrers"]; strings.TrimSpace(v) != "" {
		if s.Referrers, err = parseBool(v); err != nil {
			fail("referrers", "%v", err)
		}
	}
	for _, h := range splitList(raw["insecure-registries"]) {
		if _, err := name.NewRegistry(h, name.StrictValidation); err != nil || strings.Contains(h, "/") {
			fail("insecure-registries", "%q is not host[:port]", h)
			continue
		}
		s.InsecureRegistries = append(s.InsecureRegistries, strings.ToLower(h))
	}
	insecure := hosts.NewInsecure(s.InsecureRegistries...)

	switch mt := strings.ToLower(strings.TrimSpace(raw["media-type"])); mt {
	case "oci", "":
		s.MediaType = plan.OCIIndex
	case "docker":
		s.MediaType = plan.DockerManifestList
	default:
		fail("media-type", "%q is not oci or docker", mt)
	}

	layerMode := parseSources(s, raw, getenv, insecure, fail)
	parseDigests(s, raw, getenv, insecure, layerMode, fail)
	parseTargets(s, raw, insecure, fail)
	parseAnnotations(s, raw, fail)
	if strings.TrimSpace(raw["registry-auth"]) != "" {
		entries, err := auth.ParseRegistryAuth(raw["registry-auth"])
		if err != nil {
			fail("registry-auth", "%v", err)
		}
		s.RegistryAuth = entries
	}
	parseCleanup(s, raw, layerMode, fail)
	parseSigning(s, raw, getenv, insecure, layerMode, fail)
	if t := strings.TrimSpace(raw["timeout"]); t != "" {
		if s.Timeout, err = time.ParseDuration(t); err != nil || s.Timeout <= 0 {
			fail("timeout", "%q is not a positive duration such as 90s, 10m or 1h", t)
		}
	}
	if s.Dotenv = strings.TrimSpace(raw[DotenvFlag]); s.Dotenv == "" && getenv("GITLAB_CI") == "true" {
		s.Dotenv = "oci-assemble.env"
	}
	s.GitHubToken = strings.TrimSpace(raw["github-token"])
	readCI(s, getenv)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// parseSources reads the mode (images joins them, base builds layers) and
// the images input, and reports whether this is layer mode.
func parseSources(s *Spec, raw Raw, getenv func(string) string, insecure hosts.Insecure, fail func(input, format string, a ...any)) bool {
	images := splitList(raw["images"])
	layerMode := strings.TrimSpace(raw["base"]) != ""
	switch {
	case layerMode && len(images) > 0:
		fail("base", "give images (join mode) or base (layer mode), not both")
	case layerMode:
		parseBuild(s, raw, getenv, insecure, fail)
		if s.MediaType == plan.DockerManifestList && s.Build.Compression == layer.Zstd {
			// Docker's image manifest knows gzip layers only.
			fail("compression", "zstd layers have no Docker media type (media-type: docker); use compression: gzip, or media-type: oci")
		}
	case len(images) == 0 && strings.TrimSpace(raw["digests"]) == "":
		fail("images", "give at least one source image (registry reference, oci:PATH or docker-archive:PATH), or a base for layer mode")
	default:
		for _, in := range layerOnly {
			if strings.TrimSpace(raw[in]) != "" {
				fail(in, "applies only in layer mode; set base (an image or scratch) or remove it")
			}
		}
	}
	for _, v := range images {
		r, err := parseRef(v, insecure)
		if err != nil {
			fail("images", "%v", err)
			continue
		}
		if msg := checkSource(r); msg != "" {
			fail("images", "%s", msg)
			continue
		}
		s.Images = append(s.Images, r)
	}
	return layerMode
}

// parseTargets reads the tags input: where the index goes.
func parseTargets(s *Spec, raw Raw, insecure hosts.Insecure, fail func(input, format string, a ...any)) {
	tags := splitList(raw["tags"])
	if len(tags) == 0 && s.Push {
		fail("tags", "give at least one target (REPOSITORY[:TAG] or oci:PATH[:TAG]), or set push: false for a dry run")
	}
	for _, v := range tags {
		r, err := parseRef(v, insecure)
		if err != nil {
			fail("tags", "%v", err)
			continue
		}
		if msg := checkTarget(r); msg != "" {
			fail("tags", "%s", msg)
			continue
		}
		s.Tags = append(s.Tags, r)
	}
}

// parseAnnotations reads the annotations input, one per line; it needs
// s.MediaType, since a Docker manifest list carries none.
func parseAnnotations(s *Spec, raw Raw, fail func(input, format string, a ...any)) {
	for i, line := range strings.Split(raw["annotations"], "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		anns, err := ParseAnnotation(line)
		if err != nil {
			fail("annotations", "line %d: %v", i+1, err)
			continue
		}
		s.Annotations = append(s.Annotations, anns...)
	}
	if s.MediaType == plan.DockerManifestList && len(s.Annotations) > 0 {
		fail("annotations", "a docker manifest list cannot carry annotations; remove them or set media-type: oci")
	}
}

// parseCleanup reads delete-source-tags and delete-tags, checking every
// delete-tags entry now, before anything is written.
func parseCleanup(s *Spec, raw Raw, layerMode bool, fail func(input, format string, a ...any)) {
	if v := raw["delete-source-tags"]; strings.TrimSpace(v) != "" {
		var err error
		if s.DeleteSourceTags, err = parseBool(v); err != nil {
			fail("delete-source-tags", "%v", err)
		}
		if s.DeleteSourceTags && layerMode {
			fail("delete-source-tags", "layer mode has no source tags to delete; remove it or list temp tags in delete-tags")
		}
	}
	for _, v := range splitList(raw["delete-tags"]) {
		if err := cleanup.CheckPattern(v); err != nil {
			fail("delete-tags", "%v", err)
			continue
		}
		s.DeleteTags = append(s.DeleteTags, v)
	}
}

// readCI reads what the CI tells a job about its forge's APIs, which
// cleanup calls where a registry refuses to delete tags itself.
func readCI(s *Spec, getenv func(string) string) {
	// https://docs.github.com/en/actions/reference/workflows-and-actions/variables
	if s.GitHubAPI = getenv("GITHUB_API_URL"); s.GitHubAPI == "" {
		s.GitHubAPI = "https://api.github.com"
	}
	s.GitHubServer = getenv("GITHUB_SERVER_URL")
	// https://docs.gitlab.com/ci/variables/predefined_variables/
	if reg, api := getenv("CI_REGISTRY"), getenv("CI_API_V4_URL"); reg != "" && api != "" {
		s.GitLab = &GitLab{Registry: reg, APIURL: api, ProjectID: getenv("CI_PROJECT_ID"), JobToken: getenv("CI_JOB_TOKEN")}
	}
}

// splitList splits on newlines and commas, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "1", "on":
		return true, nil
	case "false", "no", "0", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}

// emptyPartCause is why a reference in a workflow ends in an empty tag
// or digest: it was built from a job output that is empty.
const emptyPartCause = "this usually comes from an empty job output: the build job did not set it, " +
	"or matrix jobs write one output name and the last to finish overwrote the others"

// parseRef parses a reference; registries listed as insecure are marked so
// go-containerregistry speaks plain HTTP to them.
func parseRef(s string, insecure hosts.Insecure) (plan.Ref, error) {
	r, err := plan.ParseRef(s)
	if errors.Is(err, plan.ErrEmptyPart) {
		return r, fmt.Errorf("%w; %s", err, emptyPartCause)
	}
	if err != nil {
		return r, err
	}
	if r.Transport == plan.Registry && insecure.Has(r.Repo.RegistryStr()) {
		return plan.ParseRef(s, insecure.NameOptions(r.Repo.RegistryStr())...)
	}
	return r, nil
}

func checkSource(r plan.Ref) string {
	switch r.Transport {
	case plan.Registry:
		if r.Tag == "" && r.Digest == "" {
			return fmt.Sprintf("%s: name the image with a tag or digest (REPOSITORY:TAG or REPOSITORY@sha256:...)", r)
		}
	case plan.Layout, plan.DockerArchive:
		if _, err := os.Stat(r.Path); err != nil {
			return fmt.Sprintf("%s: %s not found; check the path (relative paths are from the working directory)", r, r.Path)
		}
	}
	return ""
}

func checkTarget(r plan.Ref) string {
	switch r.Transport {
	case plan.Registry:
		if r.Digest != "" {
			return fmt.Sprintf("%s: a target cannot be a digest; give REPOSITORY[:TAG] (a repository alone pushes by digest)", r)
		}
	case plan.Layout:
		if r.Digest != "" {
			return fmt.Sprintf("%s: a layout target takes oci:PATH[:TAG], not a digest", r)
		}
	case plan.DockerArchive:
		return fmt.Sprintf("%s: docker-archive: is a source only; write oci:PATH[:TAG] instead", r)
	}
	return ""
}

// RawSecrets returns the secret-looking values of raw inputs before they
// are parsed: the github-token, every `password:` value of registry-auth
// even when it is not valid YAML, and a signing-key given as PEM text
// with each of its lines, so nothing that fails to parse can reach a log
// unmasked. A key read from a file is in Signing.Secrets.
func RawSecrets(raw Raw) []string {
	var out []string
	if t := strings.TrimSpace(raw["github-token"]); t != "" {
		out = append(out, t)
	}
	for _, line := range strings.Split(raw["registry-auth"], "\n") {
		_, v, ok := strings.Cut(line, "password:")
		if v = strings.Trim(strings.TrimSpace(v), `"'`); ok && v != "" {
			out = append(out, v)
		}
	}
	if k := strings.TrimSpace(raw["signing-key"]); strings.Contains(k, "-----BEGIN") {
		out = append(out, k)
		out = append(out, pemLines(k)...)
	}
	return out
}
