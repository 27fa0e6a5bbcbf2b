package attest

import (
	"strings"
	"testing"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

var gitHubEnv = map[string]string{
	"GITHUB_ACTIONS":             "true",
	"GITHUB_SERVER_URL":          "https://github.com",
	"GITHUB_REPOSITORY":          "o/app",
	"GITHUB_REPOSITORY_ID":       "42",
	"GITHUB_REPOSITORY_OWNER_ID": "7",
	"GITHUB_WORKFLOW_REF":        "o/app/.github/workflows/release.yml@refs/tags/v1.2.3",
	"GITHUB_WORKFLOW_SHA":        "0123456789abcdef0123456789abcdef01234567",
	"GITHUB_REF":                 "refs/tags/v1.2.3",
	"GITHUB_SHA":                 "0123456789abcdef0123456789abcdef01234567",
	"GITHUB_EVENT_NAME":          "push",
	"GITHUB_RUN_ID":              "1234",
	"GITHUB_RUN_ATTEMPT":         "2",
	"GITHUB_JOB":                 "publish",
	"RUNNER_ENVIRONMENT":         "github-hosted",
	"GITHUB_TOKEN":               "ghs_secret",
}

var gitLabEnv = map[string]string{
	"GITLAB_CI":          "true",
	"CI_SERVER_URL":      "https://gitlab.example.com/",
	"CI_PROJECT_PATH":    "group/app",
	"CI_PROJECT_ID":      "99",
	"CI_JOB_URL":         "https://gitlab.example.com/group/app/-/jobs/555",
	"CI_JOB_ID":          "555",
	"CI_JOB_NAME":        "publish",
	"CI_PIPELINE_ID":     "77",
	"CI_RUNNER_ID":       "12",
	"CI_COMMIT_SHA":      "89abcdef0123456789abcdef0123456789abcdef",
	"CI_COMMIT_BRANCH":   "main",
	"CI_COMMIT_REF_NAME": "main",
	"CI_JOB_TOKEN":       "glcbt-secret",
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func sampleProvenance(env map[string]string) ProvenanceInput {
	return ProvenanceInput{
		Index:     Subject{Name: "ghcr.io/o/app", Digest: hash('a')},
		Manifests: []Subject{{Name: "ghcr.io/o/app", Digest: hash('b')}, {Name: "ghcr.io/o/app", Digest: hash('c')}},
		Inputs: map[string]string{
			"images": "ghcr.io/o/app:tmp-amd64\nghcr.io/o/app:tmp-arm64",
			"tags":   "ghcr.io/o/app:1.2.3",
			"push":   "true",
		},
		Dependencies: []Dependency{
			{URI: "ghcr.io/o/app:tmp-amd64", Digest: hash('b'), Name: "linux/amd64", MediaType: "application/vnd.oci.image.manifest.v1+json"},
			{URI: "ghcr.io/o/app:tmp-arm64", Digest: hash('c'), Name: "linux/arm64"},
			{URI: "docker-archive:out/app.tar", Digest: hash('d')},
			{URI: "ghcr.io/o/app:tmp-amd64", Digest: hash('b'), Name: "linux/amd64", MediaType: "application/vnd.oci.image.manifest.v1+json"},
		},
		Version:    "1.2.3",
		StartedOn:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		FinishedOn: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC),
		Getenv:     envOf(env),
	}
}

// readProvenance reads the statement back with in-toto's SLSA bindings.
func readProvenance(t *testing.T, b []byte) (*slsa.Provenance, []string) {
	t.Helper()
	st, _ := readStatement(t, b, "https://slsa.dev/provenance/v1")
	raw, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		t.Fatal(err)
	}
	var p slsa.Provenance
	if err := protojson.Unmarshal(raw, &p); err != nil {
		t.Fatalf("predicate is not SLSA provenance v1: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("provenance.Validate() = %v", err)
	}
	var subjects []string
	for _, s := range st.GetSubject() {
		subjects = append(subjects, s.GetName()+"@"+s.GetDigest()["sha256"][:1])
	}
	return &p, subjects
}

func TestProvenanceGitHub(t *testing.T) {
	t.Parallel()
	b, err := Provenance(sampleProvenance(gitHubEnv))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "provenance-github.golden.json", b)
	p, subjects := readProvenance(t, b)
	if got, want := strings.Join(subjects, " "), "ghcr.io/o/app@a ghcr.io/o/app@b ghcr.io/o/app@c"; got != want {
		t.Errorf("subjects = %s, want %s (index first)", got, want)
	}
	rd := p.GetRunDetails()
	if got, want := rd.GetBuilder().GetId(), "https://github.com/actions/runner/github-hosted"; got != want {
		t.Errorf("builder.id = %q, want %q", got, want)
	}
	if got, want := rd.GetMetadata().GetInvocationId(), "https://github.com/o/app/actions/runs/1234/attempts/2"; got != want {
		t.Errorf("invocationId = %q, want %q", got, want)
	}
	if got := rd.GetBuilder().GetVersion()["oci-assemble"]; got != "1.2.3" {
		t.Errorf("builder.version = %v, want oci-assemble 1.2.3", rd.GetBuilder().GetVersion())
	}
	def := p.GetBuildDefinition()
	if got := def.GetBuildType(); got != BuildType {
		t.Errorf("buildType = %q, want %q", got, BuildType)
	}
	ext := def.GetExternalParameters().AsMap()
	if got := ext["inputs"].(map[string]any)["tags"]; got != "ghcr.io/o/app:1.2.3" {
		t.Errorf("externalParameters.inputs.tags = %v", got)
	}
	if got := ext["workflow"].(map[string]any)["github_workflow_ref"]; got != gitHubEnv["GITHUB_WORKFLOW_REF"] {
		t.Errorf("externalParameters.workflow.github_workflow_ref = %v", got)
	}
	deps := def.GetResolvedDependencies()
	if got, want := len(deps), 4; got != want {
		t.Fatalf("%d resolvedDependencies, want %d (3 distinct sources and the commit)", got, want)
	}
	if got := deps[2].GetUri() + " " + deps[2].GetDigest()["sha256"][:1]; got != "docker-archive:out/app.tar d" {
		t.Errorf("dependency 2 = %s", got)
	}
	if got, want := deps[3].GetUri(), "git+https://github.com/o/app@refs/tags/v1.2.3"; got != want {
		t.Errorf("source uri = %q, want %q", got, want)
	}
	if got := deps[3].GetDigest()["gitCommit"]; got != gitHubEnv["GITHUB_SHA"] {
		t.Errorf("source gitCommit = %q", got)
	}
	for _, secret := range []string{"ghs_secret", "GITHUB_TOKEN"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("provenance holds %q", secret)
		}
	}
}

func TestProvenanceBuilders(t *testing.T) {
	t.Parallel()
	selfHosted := map[string]string{}
	for k, v := range gitHubEnv {
		selfHosted[k] = v
	}
	selfHosted["RUNNER_ENVIRONMENT"] = "self-hosted"
	tests := []struct {
		name                    string
		env                     map[string]string
		wantBuilder, wantInvoke string
		wantSource              string
	}{
		{name: "github self-hosted", env: selfHosted, wantBuilder: "https://github.com/actions/runner/self-hosted",
			wantInvoke: "https://github.com/o/app/actions/runs/1234/attempts/2", wantSource: "git+https://github.com/o/app@refs/tags/v1.2.3"},
		{name: "gitlab", env: gitLabEnv, wantBuilder: "https://gitlab.example.com/group/app/-/runners/12",
			wantInvoke: "https://gitlab.example.com/group/app/-/jobs/555", wantSource: "git+https://gitlab.example.com/group/app@refs/heads/main"},
		{name: "local", env: nil, wantBuilder: LocalBuilderID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Provenance(sampleProvenance(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := readProvenance(t, b)
			if got := p.GetRunDetails().GetBuilder().GetId(); got != tt.wantBuilder {
				t.Errorf("builder.id = %q, want %q", got, tt.wantBuilder)
			}
			if got := p.GetRunDetails().GetMetadata().GetInvocationId(); got != tt.wantInvoke {
				t.Errorf("invocationId = %q, want %q", got, tt.wantInvoke)
			}
			deps := p.GetBuildDefinition().GetResolvedDependencies()
			last := deps[len(deps)-1].GetUri()
			if tt.wantSource == "" && strings.HasPrefix(last, "git+") || tt.wantSource != "" && last != tt.wantSource {
				t.Errorf("last dependency = %q, want source %q", last, tt.wantSource)
			}
			if strings.Contains(string(b), "secret") {
				t.Errorf("provenance holds a CI token: %s", b)
			}
		})
	}
}

func TestProvenanceDeterministic(t *testing.T) {
	t.Parallel()
	a, err := Provenance(sampleProvenance(gitLabEnv))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := Provenance(sampleProvenance(gitLabEnv))
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Fatalf("two runs differ:\n%s\n%s", a, b)
		}
	}
}

func TestProvenanceRefuses(t *testing.T) {
	t.Parallel()
	noRunID := map[string]string{}
	for k, v := range gitHubEnv {
		noRunID[k] = v
	}
	delete(noRunID, "GITHUB_RUN_ID")
	tests := []struct {
		name    string
		edit    func(*ProvenanceInput)
		wantErr string
	}{
		{name: "missing CI variable", edit: func(p *ProvenanceInput) { p.Getenv = envOf(noRunID) }, wantErr: "GitHub Actions sets no GITHUB_RUN_ID"},
		{name: "gitlab without runner", edit: func(p *ProvenanceInput) { p.Getenv = envOf(map[string]string{"GITLAB_CI": "true"}) }, wantErr: "GitLab CI sets no CI_SERVER_URL"},
		{name: "bad index digest", edit: func(p *ProvenanceInput) { p.Index.Digest.Hex = "zz" }, wantErr: "not sha256"},
		{name: "bad manifest digest", edit: func(p *ProvenanceInput) { p.Manifests[1].Digest.Algorithm = "sha512" }, wantErr: "not sha256"},
		{name: "dependency without uri", edit: func(p *ProvenanceInput) { p.Dependencies[0].URI = "" }, wantErr: "no URI"},
		{name: "dependency digest", edit: func(p *ProvenanceInput) { p.Dependencies[1].Digest.Hex = strings.Repeat("a", 63) }, wantErr: "not sha256"},
		{name: "input not UTF-8", edit: func(p *ProvenanceInput) { p.Inputs["tags"] = "\xff" }, wantErr: "not valid UTF-8"},
		{name: "no index", edit: func(p *ProvenanceInput) { p.Index = Subject{} }, wantErr: "not sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := sampleProvenance(gitHubEnv)
			in.Inputs = map[string]string{"tags": "x"}
			tt.edit(&in)
			_, err := Provenance(in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Provenance() error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestFilesDigest(t *testing.T) {
	t.Parallel()
	a, err := FilesDigest([]File{{Path: "/b", SHA256: hash('1')}, {Path: "/a", SHA256: hash('2')}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := FilesDigest([]File{{Path: "/a", SHA256: hash('2')}, {Path: "/b", SHA256: hash('1')}})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("FilesDigest depends on order: %s, %s", a, b)
	}
	// A newline in a path must not let one file pass for two.
	c, err := FilesDigest([]File{{Path: "/a\n" + hash('1').Hex + " 2 /b", SHA256: hash('2')}})
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Errorf("FilesDigest of one file with a newline equals that of two files")
	}
	if _, err := FilesDigest([]File{{Path: "/a", SHA256: hash('1')}, {Path: "/a", SHA256: hash('2')}}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("FilesDigest with a repeated path: %v, want an error", err)
	}
	if checkSHA256(a) != nil {
		t.Errorf("FilesDigest = %s, not a sha256 digest", a)
	}
}
