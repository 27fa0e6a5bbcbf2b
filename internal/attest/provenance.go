package attest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ProvenancePredicateType is SLSA provenance v1, what cosign's
// verify-attestation --type slsaprovenance1 matches.
// https://slsa.dev/spec/v1.0/provenance
const ProvenancePredicateType = "https://slsa.dev/provenance/v1"

// BuildType identifies how oci-assemble's provenance is to be read; its
// parameters are described in docs/provenance.md.
const BuildType = "https://github.com/oci-assemble/oci-assemble/provenance/v1"

// Dependency is one artifact the index or image was made from, recorded
// in buildDefinition.resolvedDependencies.
type Dependency struct {
	// URI names the artifact as the inputs did: a registry reference
	// (ghcr.io/o/app:tmp-amd64, or with @sha256:...), oci:PATH[:TAG],
	// docker-archive:PATH, or for layer mode's files FilesURI.
	URI string
	// Digest is the sha256 of what was read: the manifest (or index) for
	// registry images and OCI layouts, the archive file's bytes for a
	// docker-archive, FilesDigest for layer mode's files.
	Digest v1.Hash
	// Name is an optional label, such as the platform it served.
	Name string
	// MediaType is the artifact's media type, when known.
	MediaType string
}

// ProvenanceInput is what the provenance of one published index says.
type ProvenanceInput struct {
	// Index is the published index; Manifests are its platform manifests.
	// All are subjects of the statement.
	Index     Subject
	Manifests []Subject
	// Inputs are the action's inputs by name, as given, without secrets
	// (inputs.PublicInputs): externalParameters.inputs. Empty values may
	// be left out; the keys are written sorted.
	Inputs map[string]string
	// Dependencies are the sources, in the order they were given.
	Dependencies []Dependency
	// Version is oci-assemble's version: runDetails.builder.version.
	Version string
	// StartedOn and FinishedOn bound the run; zero leaves them out.
	StartedOn, FinishedOn time.Time
	// Getenv reads the CI's variables (GitHub Actions, GitLab CI) that
	// name the builder and the run; nil reads none, as outside CI.
	Getenv func(string) string
}

// Provenance returns an in-toto v1 statement of SLSA provenance v1 for the
// index and its platform manifests.
func Provenance(p ProvenanceInput) ([]byte, error) {
	getenv := p.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	run, err := readRun(getenv)
	if err != nil {
		return nil, err
	}
	def, err := buildDefinition(p, run)
	if err != nil {
		return nil, err
	}
	prov := &slsa.Provenance{BuildDefinition: def, RunDetails: runDetails(p, run)}
	if err := prov.Validate(); err != nil {
		return nil, fmt.Errorf("checking provenance: %w", err)
	}
	pred, err := protojson.Marshal(prov)
	if err != nil {
		return nil, fmt.Errorf("writing provenance: %w", err)
	}
	subjects := append([]Subject{p.Index}, p.Manifests...)
	return statement(subjects, ProvenancePredicateType, pred)
}

func buildDefinition(p ProvenanceInput, run runContext) (*slsa.BuildDefinition, error) {
	inputs := map[string]any{}
	for k, v := range p.Inputs {
		if err := checkText("input "+k, v); err != nil {
			return nil, err
		}
		inputs[k] = v
	}
	ext := map[string]any{"inputs": inputs}
	if run.workflow != nil {
		ext["workflow"] = run.workflow
	}
	extStruct, err := structpb.NewStruct(ext)
	if err != nil {
		return nil, fmt.Errorf("writing externalParameters: %w", err)
	}
	def := &slsa.BuildDefinition{BuildType: BuildType, ExternalParameters: extStruct}
	if run.internal != nil {
		if def.InternalParameters, err = structpb.NewStruct(run.internal); err != nil {
			return nil, fmt.Errorf("writing internalParameters: %w", err)
		}
	}
	deps, err := dependencies(p.Dependencies)
	if err != nil {
		return nil, err
	}
	if run.source != nil {
		deps = append(deps, run.source)
	}
	def.ResolvedDependencies = deps
	return def, nil
}

// dependencies checks and converts the sources, dropping exact repeats
// (one image named twice is one dependency).
func dependencies(in []Dependency) ([]*intoto.ResourceDescriptor, error) {
	var out []*intoto.ResourceDescriptor
	seen := map[Dependency]bool{}
	for _, d := range in {
		if seen[d] {
			continue
		}
		seen[d] = true
		if d.URI == "" {
			return nil, errors.New("a dependency has no URI; name it as the inputs did")
		}
		for what, s := range map[string]string{"dependency URI": d.URI, "dependency name": d.Name, "dependency media type": d.MediaType} {
			if err := checkText(what, s); err != nil {
				return nil, err
			}
		}
		if err := checkSHA256(d.Digest); err != nil {
			return nil, fmt.Errorf("dependency %q: %w", d.URI, err)
		}
		out = append(out, &intoto.ResourceDescriptor{
			Uri: d.URI, Name: d.Name, MediaType: d.MediaType,
			Digest: map[string]string{"sha256": d.Digest.Hex},
		})
	}
	return out, nil
}

func runDetails(p ProvenanceInput, run runContext) *slsa.RunDetails {
	rd := &slsa.RunDetails{Builder: &slsa.Builder{Id: run.builderID}}
	if p.Version != "" {
		rd.Builder.Version = map[string]string{"oci-assemble": p.Version}
	}
	md := &slsa.BuildMetadata{InvocationId: run.invocationID}
	if !p.StartedOn.IsZero() {
		md.StartedOn = timestamppb.New(p.StartedOn.UTC())
	}
	if !p.FinishedOn.IsZero() {
		md.FinishedOn = timestamppb.New(p.FinishedOn.UTC())
	}
	if md.InvocationId != "" || md.StartedOn != nil || md.FinishedOn != nil {
		rd.Metadata = md
	}
	return rd
}

// FilesURI is the URI of layer mode's files as one dependency.
const FilesURI = "oci-assemble:layers"

// FilesDigest is one sha256 over a set of files, for layer mode's
// resolvedDependencies: the hash of one line per file, sorted by path,
// "<sha256 hex> <byte length of path> <path>\n". The length keeps a path
// holding a newline from passing for two entries; the order makes the
// digest independent of the order the files were read in. Paths must be
// unique.
func FilesDigest(files []File) (v1.Hash, error) {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	h := sha256.New()
	for i, f := range sorted {
		if i > 0 && sorted[i-1].Path == f.Path {
			return v1.Hash{}, fmt.Errorf("file %q is listed twice; give each path once", f.Path)
		}
		if err := checkSHA256(f.SHA256); err != nil {
			return v1.Hash{}, fmt.Errorf("file %q: %w", f.Path, err)
		}
		fmt.Fprintf(h, "%s %d %s\n", f.SHA256.Hex, len(f.Path), f.Path)
	}
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}, nil
}
