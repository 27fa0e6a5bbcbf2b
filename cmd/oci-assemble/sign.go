package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/attest"
	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/oci/signing"
	"github.com/oci-assemble/oci-assemble/internal/sign"
)

// signed is what the run signed, for the outputs and the summary.
type signed struct {
	mode     inputs.SignMode
	identity sign.Identity
	items    []signing.Signed
	// tlog: the signatures are in a transparency log (Rekor).
	tlog bool
}

// sign signs the assembly before anything is published, so that a
// signature that cannot be made stops the run before any tag moves (or,
// with sign-failures: warn, the run publishes unsigned and says so). A dry
// run signs nothing: it asks no service anything.
func (u *ui) sign(ctx context.Context, rc *client.Client, spec *inputs.Spec, as *assembly.Assembly) (*signed, int) {
	g := spec.Signing
	if g == nil {
		return nil, exitOK
	}
	if !spec.Push {
		u.logger.Info("dry run: nothing signed (push: false)")
		return nil, exitOK
	}
	u.group("Signing")
	defer u.endGroup()
	s, err := u.signAssembly(ctx, rc, spec, as)
	if err != nil {
		if g.WarnOnFailure {
			u.warn(fmt.Sprintf("published unsigned (sign-failures: warn): %v", err))
			return nil, exitOK
		}
		u.fail(fmt.Errorf("nothing was published: %w", err))
		return nil, exitFailed
	}
	for _, it := range s.items {
		u.logger.Info("signed", "kind", it.Kind, "subject", it.Subject, "referrer", it.Digest)
	}
	return s, exitOK
}

func (u *ui) signAssembly(ctx context.Context, rc *client.Client, spec *inputs.Spec, as *assembly.Assembly) (*signed, error) {
	g := spec.Signing
	o := sign.Options{Mode: string(g.Mode), Key: g.Key, Password: g.Password,
		FulcioURL: g.FulcioURL, RekorURL: g.RekorURL, TSAURL: g.TSAURL, Transport: rc.Transport()}
	if g.Mode == inputs.SignKeyless {
		// The runner's request token and an OIDC token in a variable are
		// credentials: neither may reach what the step prints.
		for _, v := range []string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN", g.TokenVar} {
			if secret := u.e.getenv(v); secret != "" {
				u.mask(secret)
			}
		}
		o.Token = tokenSource(g, u.e.getenv)
	}
	signer, err := sign.New(ctx, o)
	if err != nil {
		return nil, err
	}
	so := signing.Options{Signer: signer, Legacy: g.LegacyTags, SBOM: g.SBOM, Version: version,
		Created: u.start.UTC().Truncate(time.Second), Jobs: rc.Jobs()}
	if spec.Build != nil {
		// The images' own creation time (SOURCE_DATE_EPOCH, else the
		// epoch): the same files give the same SBOM.
		so.Created = spec.Build.Created
	}
	so.Repository, so.Name = subjectName(spec.Tags)
	if g.Provenance {
		deps, err := dependencies(spec, as)
		if err != nil {
			return nil, fmt.Errorf("provenance: %w", err)
		}
		so.Dependencies = deps
		so.Provenance = &attest.ProvenanceInput{Inputs: u.publicInputs, Version: version,
			StartedOn: u.start, FinishedOn: u.now(), Getenv: u.e.getenv}
	}
	items, err := signing.Sign(ctx, as, so)
	if err != nil {
		return nil, err
	}
	return &signed{mode: g.Mode, identity: signer.Identity(), items: items, tlog: g.RekorURL != ""}, nil
}

// tokenSource is where keyless signing gets its OIDC token: the variable
// named by oidc-token-variable when it is set, else GitHub's runner.
func tokenSource(g *inputs.Signing, getenv func(string) string) sign.TokenSource {
	if getenv(g.TokenVar) == "" && getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != "" {
		return sign.GitHubToken(getenv)
	}
	return sign.EnvToken(g.TokenVar, getenv)
}

// subjectName names the signed manifests: the first registry target's
// repository, else the first layout's path.
func subjectName(tags []plan.Ref) (name.Repository, string) {
	for _, t := range tags {
		if t.Transport == plan.Registry {
			return t.Repo, t.Repo.Name()
		}
	}
	for _, t := range tags {
		return name.Repository{}, "oci:" + t.Path
	}
	return name.Repository{}, ""
}

// dependencies are the provenance's resolved dependencies: every source
// by the digest it was read at (a docker archive by its file's sha256),
// or in layer mode the base and the files of each platform's new layers.
func dependencies(spec *inputs.Spec, as *assembly.Assembly) ([]attest.Dependency, error) {
	var deps []attest.Dependency
	for i, s := range as.Sources {
		d := attest.Dependency{URI: s.String()}
		switch {
		case s.Transport == plan.DockerArchive:
			h, err := fileSHA256(s.Path)
			if err != nil {
				return nil, err
			}
			d.Digest = h
		case i < len(as.SourceDigests):
			d.Digest = as.SourceDigests[i]
		}
		deps = append(deps, d)
	}
	if b := spec.Build; b != nil {
		if !b.Scratch {
			deps = append(deps, attest.Dependency{URI: b.Base.String(), Digest: as.Base})
		}
		files, err := signing.FilesDependencies(as)
		if err != nil {
			return nil, err
		}
		deps = append(deps, files...)
	}
	return deps, nil
}

// fileSHA256 is the sha256 of a file's bytes.
func fileSHA256(path string) (v1.Hash, error) {
	f, err := os.Open(path)
	if err != nil {
		return v1.Hash{}, err
	}
	defer f.Close() //nolint:errcheck // read-only
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return v1.Hash{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

// signingOutput is the signing part of the metadata output.
type signingOutput struct {
	// Mode is key or keyless.
	Mode string `json:"mode"`
	// KeyHint is base64 of the SHA-256 of the public key (key mode).
	KeyHint string `json:"keyHint,omitempty"`
	// Identity and Issuer are the certificate's subject and OIDC issuer
	// (keyless).
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	// Signed are the signatures and attestations, each with the digest of
	// its referrer.
	Signed []signing.Signed `json:"signed"`
	// Verify are cosign commands that check what was published.
	Verify []string `json:"verify"`
}

func newSigningOutput(s *signed, image string) *signingOutput {
	if s == nil {
		return nil
	}
	o := &signingOutput{Mode: string(s.mode), KeyHint: s.identity.KeyHint, Identity: s.identity.SAN,
		Issuer: s.identity.Issuer, Signed: s.items}
	if o.Signed == nil {
		o.Signed = []signing.Signed{}
	}
	o.Verify = verifyCommands(s, image)
	return o
}

// verifyCommands are the cosign 3 commands that verify the index's
// signature and each attestation kind signed; the platform manifests
// verify the same way by their own digests.
func verifyCommands(s *signed, image string) []string {
	if image == "" || strings.HasPrefix(image, "oci:") {
		return []string{}
	}
	var who string
	if s.mode == inputs.SignKeyless {
		who = fmt.Sprintf("--certificate-identity %s --certificate-oidc-issuer %s", shellQuote(s.identity.SAN), shellQuote(s.identity.Issuer))
	} else {
		who = "--key cosign.pub"
		if !s.tlog {
			// Without a transparency log cosign wants a trusted root
			// even for a key: an empty one (README, Signing).
			who += " --insecure-ignore-tlog --trusted-root empty-trusted-root.json"
		}
	}
	cmds := []string{"cosign verify " + who + " " + image}
	seen := map[string]bool{}
	for _, it := range s.items {
		t := map[string]string{signing.KindProvenance: "slsaprovenance1", signing.KindSBOM: "spdxjson"}[it.Kind]
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		img := image
		if it.Platform != "" {
			img = repoOf(image) + "@" + it.Subject
		}
		cmds = append(cmds, "cosign verify-attestation --type "+t+" "+who+" "+img)
	}
	return cmds
}

// repoOf is image (repository@digest) without its digest.
func repoOf(image string) string {
	if i := strings.LastIndexByte(image, '@'); i >= 0 {
		return image[:i]
	}
	return image
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '@') {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
