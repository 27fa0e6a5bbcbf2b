package inputs

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
	"github.com/oci-assemble/oci-assemble/internal/platform"
)

func TestParseAnnotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    string
		want    []string // level|platform|key|value
		wantErr string
	}{
		{name: "no level is index", line: "org.opencontainers.image.title=app", want: []string{"index||org.opencontainers.image.title|app"}},
		{name: "value keeps = and spaces", line: "index:k=a = b, c", want: []string{"index||k|a = b, c"}},
		{name: "metadata-action manifest line", line: "manifest:org.opencontainers.image.created=2026-01-02T03:04:05.000Z", want: []string{"manifest||org.opencontainers.image.created|2026-01-02T03:04:05.000Z"}},
		{name: "several levels", line: "index,manifest-descriptor:k=v", want: []string{"index||k|v", "manifest-descriptor||k|v"}},
		{name: "platform filter", line: "manifest-descriptor[linux/arm64]:k=v", want: []string{"manifest-descriptor|linux/arm64|k|v"}},
		{name: "filter with variant and second level", line: "manifest[linux/arm/v7],index:k=v", want: []string{"manifest|linux/arm/v7|k|v", "index||k|v"}},
		{name: "key with colon after level", line: "index:com.example:x=1", want: []string{"index||com.example:x|1"}},
		{name: "empty value", line: "index:k=", want: []string{"index||k|"}},
		{name: "no equals", line: "index:k", wantErr: "no '='"},
		{name: "empty key", line: "index:=v", wantErr: "empty key"},
		{name: "unknown level", line: "manifests:k=v", wantErr: "unknown level"},
		{name: "filter trimmed", line: "manifest[ linux/arm64 ]:k=v", want: []string{"manifest|linux/arm64|k|v"}},
		{name: "bad platform", line: "manifest[linux]:k=v", wantErr: "not os/arch"},
		{name: "filter with os.version", line: "manifest[windows/amd64:10.0.17763]:k=v", wantErr: `level "manifest[windows/amd64:10.0.17763]": platform "windows/amd64:10.0.17763" is not os/arch[/variant]`},
		{name: "filter with inner space", line: "manifest[linux/ arm64]:k=v", wantErr: `platform "linux/ arm64" is not os/arch[/variant]`},
		{name: "filter on index", line: "index[linux/amd64]:k=v", wantErr: "applies only"},
		{name: "unclosed filter", line: "manifest[linux/amd64:k=v", wantErr: "brackets"},
		{name: "filter without level", line: "[linux/amd64]k=v", wantErr: "brackets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAnnotation(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAnnotation(%q) error = %v, want containing %q", tt.line, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAnnotation(%q) = %v", tt.line, err)
			}
			var s []string
			for _, a := range got {
				p := ""
				if a.Platform != nil {
					p = platform.String(*a.Platform)
				}
				s = append(s, strings.Join([]string{a.Level.String(), p, a.Key, a.Value}, "|"))
			}
			if strings.Join(s, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("ParseAnnotation(%q) = %q, want %q", tt.line, s, tt.want)
			}
		})
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestReadFlagsWinOverEnvAndDefaultsApply(t *testing.T) {
	t.Parallel()
	raw, err := Read(env(map[string]string{
		"INPUT_IMAGES":              "oci:a",
		"INPUT_TAGS":                "r/x:1",
		"INPUT_INSECURE-REGISTRIES": "h:5000",
	}), []string{"--tags", "r/y:2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"images": "oci:a", "tags": "r/y:2", "insecure-registries": "h:5000", "push": "true", "media-type": "oci", "github-token": ""} {
		if got := raw[k]; got != want {
			t.Errorf("raw[%q] = %q, want %q", k, got, want)
		}
	}
	if _, err := Read(env(nil), []string{"stray"}, io.Discard); err == nil {
		t.Error("Read with a positional argument succeeded")
	}
	if _, err := Read(env(nil), []string{"--help"}, io.Discard); !errors.Is(err, ErrHelp) {
		t.Errorf("Read(--help) = %v, want ErrHelp", err)
	}
}

func TestParseSpec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	raw := Raw{
		"images":              " reg.example:5000/o/app:tmp-amd64 ,\n\n reg.example:5000/o/app@sha256:" + strings.Repeat("b", 64) + "\noci:" + dir + ":x",
		"tags":                "ghcr.io/o/app:1.2.3\nghcr.io/o/app:latest\ndocker.io/o/app\noci:" + dir + "/out:v1",
		"annotations":         "index:a=1\n\nmanifest-descriptor[linux/arm64]:b=2",
		"media-type":          "oci",
		"push":                "true",
		"insecure-registries": "reg.example:5000",
	}
	s, err := Parse(raw, env(map[string]string{"GITHUB_TOKEN": "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Images); got != 3 {
		t.Errorf("len(Images) = %d, want 3", got)
	}
	if got := s.Images[0].Repo.Scheme(); got != "http" {
		t.Errorf("insecure registry scheme = %q, want http", got)
	}
	if got := s.Tags[2]; got.Tag != "" || got.Repo.String() != "index.docker.io/o/app" {
		t.Errorf("bare repository target = %+v, want no tag", got)
	}
	if got := s.Tags[3]; got.Transport != plan.Layout || got.Tag != "v1" {
		t.Errorf("layout target = %+v", got)
	}
	if got := len(s.Annotations); got != 2 {
		t.Errorf("len(Annotations) = %d, want 2", got)
	}
	// GITHUB_TOKEN is the keychain's fallback, not the input's: the
	// keychain then names the real source of a refused token.
	if s.GitHubToken != "" {
		t.Errorf("GitHubToken = %q, want \"\" (the GITHUB_TOKEN fallback belongs to auth)", s.GitHubToken)
	}
}

func TestParseCI(t *testing.T) {
	t.Parallel()
	raw := Raw{"images": "reg.example/o/app:a", "push": "false", "github-token": " ght-input "}
	tests := []struct {
		name       string
		vars       map[string]string
		wantAPI    string
		wantGitLab *GitLab
		wantDotenv string
	}{{
		name:    "no CI",
		wantAPI: "https://api.github.com",
	}, {
		name:    "GitHub Enterprise",
		vars:    map[string]string{"GITHUB_API_URL": "https://github.example.com/api/v3", "GITHUB_TOKEN": "ght-env"},
		wantAPI: "https://github.example.com/api/v3",
	}, {
		name: "GitLab",
		vars: map[string]string{
			"GITLAB_CI": "true", "CI_REGISTRY": "registry.gitlab.example", "CI_API_V4_URL": "https://gitlab.example/api/v4",
			"CI_PROJECT_ID": "42", "CI_JOB_TOKEN": "job-secret",
		},
		wantAPI:    "https://api.github.com",
		wantGitLab: &GitLab{Registry: "registry.gitlab.example", APIURL: "https://gitlab.example/api/v4", ProjectID: "42", JobToken: "job-secret"},
		wantDotenv: "oci-assemble.env",
	}, {
		name:    "a registry without its API is not GitLab",
		vars:    map[string]string{"CI_REGISTRY": "registry.gitlab.example", "CI_JOB_TOKEN": "job-secret"},
		wantAPI: "https://api.github.com",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(raw, env(tt.vars))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := s.GitHubAPI, tt.wantAPI; got != want {
				t.Errorf("GitHubAPI = %q, want %q", got, want)
			}
			if got, want := s.GitLab, tt.wantGitLab; (got == nil) != (want == nil) || got != nil && *got != *want {
				t.Errorf("GitLab = %+v, want %+v", got, want)
			}
			if got, want := s.Dotenv, tt.wantDotenv; got != want {
				t.Errorf("Dotenv = %q, want %q", got, want)
			}
			if got, want := s.GitHubToken, "ght-input"; got != want {
				t.Errorf("GitHubToken = %q, want %q", got, want)
			}
		})
	}
}

func TestParseReportsEveryBadInput(t *testing.T) {
	t.Parallel()
	_, err := Parse(Raw{"images": "", "tags": "", "push": "nope", "media-type": "x", "annotations": "zzz"}, env(nil))
	if err == nil {
		t.Fatal("Parse() error = nil, want one error per bad input")
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Parse() error = %v (%T), want one joining an error per bad input", err, err)
	}
	var names []string
	for _, e := range joined.Unwrap() {
		var ie *Error
		if !errors.As(e, &ie) {
			t.Fatalf("%v is not an *Error", e)
		}
		names = append(names, ie.Input)
	}
	if got, want := strings.Join(names, ","), "push,media-type,images,annotations"; got != want {
		t.Errorf("inputs named = %s, want %s", got, want)
	}
}

// TestActionYAMLMatchesDefs keeps action.yml, --help and the README's table
// one source of truth.
func TestActionYAMLMatchesDefs(t *testing.T) {
	if *update {
		writeActionInputs(t, "../../action.yml")
	}
	b, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs yaml.Node `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(b, &action); err != nil {
		t.Fatal(err)
	}
	type in struct {
		Description string  `yaml:"description"`
		Default     *string `yaml:"default"`
	}
	n := action.Inputs
	if got, want := len(n.Content)/2, len(Defs); got != want {
		t.Fatalf("action.yml declares %d inputs, Defs has %d", got, want)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range Defs {
		key := n.Content[2*i].Value
		var got in
		if err := n.Content[2*i+1].Decode(&got); err != nil {
			t.Fatal(err)
		}
		if key != d.Name {
			t.Errorf("action.yml input %d = %q, want %q", i, key, d.Name)
		}
		if got.Description != d.Description {
			t.Errorf("%s: action.yml description differs from Defs", d.Name)
		}
		def := ""
		if got.Default != nil {
			def = *got.Default
		}
		if def != d.Default {
			t.Errorf("%s: action.yml default %q, Defs %q", d.Name, def, d.Default)
		}
		row, ok := readmeRows(string(readme), "Input")[d.Name]
		switch {
		case !ok:
			t.Errorf("README's inputs table lacks %s", d.Name)
		case len(row) < 2:
			t.Errorf("README's row for %s has no default column", d.Name)
		case row[0] != readmeDefault(d.Default):
			t.Errorf("README: %s defaults to %q, action.yml to %q", d.Name, row[0], d.Default)
		}
	}

	var outs struct {
		Outputs yaml.Node `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(b, &outs); err != nil {
		t.Fatal(err)
	}
	rows := readmeRows(string(readme), "Output")
	var declared []string
	for i := 0; i+1 < len(outs.Outputs.Content); i += 2 {
		out := outs.Outputs.Content[i].Value
		declared = append(declared, out)
		if _, ok := rows[out]; !ok {
			t.Errorf("README's outputs table lacks %s", out)
		}
	}
	for out := range rows {
		if !slices.Contains(declared, out) {
			t.Errorf("README lists output %s, which action.yml does not declare", out)
		}
	}
	if len(declared) == 0 {
		t.Errorf("action.yml declares no outputs")
	}
}

// readmeRows reads the README table whose header starts with "| first |":
// name → the cells after the name, trimmed. A name cell is `name`.
func readmeRows(readme, first string) map[string][]string {
	out := map[string][]string{}
	in := false
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "| "+first+" |"):
			in = true
		case in && !strings.HasPrefix(line, "|"):
			return out
		case in && strings.HasPrefix(line, "| `"):
			// Escaped pipes (\|) are inside cells, not between them.
			line = strings.ReplaceAll(strings.TrimSpace(line), `\|`, "\x00")
			cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|"), "|")
			for i := range cells {
				cells[i] = strings.ReplaceAll(strings.TrimSpace(cells[i]), "\x00", `\|`)
			}
			out[strings.Trim(cells[0], "`")] = cells[1:]
		}
	}
	return out
}

// readmeDefault is how the README's table writes a default.
func readmeDefault(def string) string {
	if def == "" {
		return ""
	}
	return "`" + def + "`"
}

func TestHelpShowsDefaults(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if _, err := Read(env(nil), []string{"--help"}, &out); !errors.Is(err, ErrHelp) {
		t.Fatalf("Read(--help) = %v, want ErrHelp", err)
	}
	for _, d := range Defs {
		if !strings.Contains(out.String(), "-"+d.Name) {
			t.Errorf("--help lacks --%s", d.Name)
		}
		switch {
		case d.Default == "" || strings.HasPrefix(d.Default, "${{"):
		case !strings.Contains(out.String(), fmt.Sprintf("(default %q)", d.Default)):
			t.Errorf("--help does not show %s's default %q:\n%s", d.Name, d.Default, out.String())
		}
	}
	if strings.Contains(out.String(), "${{") {
		t.Errorf("--help shows a GitHub expression:\n%s", out.String())
	}
}

func TestRawSecretsMasksUnparsableRegistryAuth(t *testing.T) {
	t.Parallel()
	got := RawSecrets(Raw{"github-token": " t0k ", "registry-auth": "- registry: r\n  password: 'p@ss'\n  : broken [yaml"})
	if strings.Join(got, ",") != "t0k,p@ss" {
		t.Errorf("RawSecrets() = %q, want [t0k p@ss]", got)
	}
}

var update = flag.Bool("update", false, "rewrite action.yml's inputs from Defs")

// writeActionInputs replaces the inputs section of action.yml with Defs:
// go test ./internal/inputs -run TestActionYAMLMatchesDefs -update
func writeActionInputs(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start, end := strings.Index(s, "\ninputs:\n"), strings.Index(s, "\noutputs:\n")
	if start < 0 || end < start {
		t.Fatal("action.yml: inputs section not found before outputs")
	}
	var out strings.Builder
	out.WriteString(s[:start] + "\ninputs:\n")
	quote := func(v string) string {
		j, err := json.Marshal(v) // a JSON string is a valid YAML double-quoted scalar
		if err != nil {
			t.Fatal(err)
		}
		return string(j)
	}
	for _, d := range Defs {
		fmt.Fprintf(&out, "  %s:\n    description: %s\n    required: false\n", d.Name, quote(d.Description))
		if d.Default != "" {
			fmt.Fprintf(&out, "    default: %s\n", quote(d.Default))
		}
	}
	out.WriteString(s[end:])
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseReferrers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string
		want    bool
		wantErr bool
	}{
		{name: "default", value: "", want: true},
		{name: "true", value: "true", want: true},
		{name: "false", value: "false", want: false},
		{name: "bad", value: "sometimes", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(Raw{"images": "reg.example/o/app:a", "push": "false", "referrers": tc.value}, env(nil))
			if tc.wantErr {
				var ie *Error
				if !errors.As(err, &ie) || ie.Input != "referrers" {
					t.Fatalf("Parse(referrers=%q) error = %v, want one naming referrers", tc.value, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Referrers != tc.want {
				t.Errorf("Referrers = %v, want %v", s.Referrers, tc.want)
			}
		})
	}
}
