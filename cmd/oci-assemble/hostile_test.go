package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Hostile text a registry may put in an error message: a line break, then
// what would end go-githubactions' fixed output delimiter and set digest,
// workflow commands in both syntaxes, terminal controls, markdown and
// HTML, and the credentials the program sent.
const (
	hostileUser     = "robot"
	hostilePassword = "pw-hostile-5e1d9"
	// hostileBearer is a registry token no input names: only its shape
	// gives it away.
	hostileBearer = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJyb2JvdCJ9.c2lnbmF0dXJl"
	// hostileJobToken is GitLab's CI_JOB_TOKEN, known to the program only
	// in a GitLab job.
	hostileJobToken = "glcbt-64_hostile-job-token"
)

var hostileBasic = base64.StdEncoding.EncodeToString([]byte(hostileUser + ":" + hostilePassword))

func hostileMessage() string {
	return "denied\n_GitHubActionsFileCommandDelimeter_\ndigest=sha256:evil\n" +
		"ghadelimiter_00000000-0000-4000-8000-000000000000\ndigest=sha256:evil2\n" +
		"::stop-commands::INJECTED\r::error::INJECTED\u2028::warning::INJECTED\u0085::notice::INJECTED " +
		"##[error]INJECTED \x1b[2K\x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \u202egnp.exe " +
		"| pipe | `tick` <img src=https://evil.example/x.png> [link](https://evil.example) " +
		"Authorization: Basic " + hostileBasic + " Bearer " + hostileBearer + " password " + hostilePassword +
		" JOB-TOKEN: " + hostileJobToken + " token " + hostileJobToken
}

// hostileRegistry is go-containerregistry's in-memory registry that
// answers the requests refuse picks with 403 and hostileMessage.
func hostileRegistry(t *testing.T, refuse func(*http.Request) bool) string {
	t.Helper()
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	body, err := json.Marshal(map[string]any{"errors": []map[string]string{{"code": "DENIED", "message": hostileMessage()}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(body)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestHostileRegistryText runs the program against a registry whose error
// text tries to rewrite the step outputs, issue workflow commands, drive
// the terminal, render markdown and HTML in the step summary and print
// the credentials it was sent. None of it may work, under GitHub, GitLab
// or on a command line, whether the error ends the run or is a warning.
func TestHostileRegistryText(t *testing.T) {
	t.Parallel()
	refuseDelete := func(r *http.Request) bool { return r.Method == http.MethodDelete }
	refuseTag := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/v1")
	}
	tests := []struct {
		name     string
		platform string // github, gitlab or cli
		refuse   func(*http.Request) bool
		want     int
	}{
		{"GitHub, a kept tag's reason", "github", refuseDelete, exitOK},
		{"GitHub, a publish error", "github", refuseTag, exitFailed},
		{"GitLab, a kept tag's reason", "gitlab", refuseDelete, exitOK},
		{"GitLab, a publish error", "gitlab", refuseTag, exitFailed},
		{"command line, a kept tag's reason", "cli", refuseDelete, exitOK},
		{"command line, a publish error", "cli", refuseTag, exitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			host := hostileRegistry(t, tt.refuse)
			tmp := pushTemp(t, host+"/o/app:tmp-1")
			dir := t.TempDir()
			in := map[string]string{
				"images": layoutSources(t), "tags": host + "/o/app:v1", "insecure-registries": host,
				"delete-tags":   tmp.String(),
				"registry-auth": "- registry: " + host + "\n  username: " + hostileUser + "\n  password: " + hostilePassword,
			}
			vars := map[string]string{}
			var args []string
			if tt.platform == "github" {
				vars = githubVars(dir, in)
			} else {
				if tt.platform == "gitlab" {
					vars["GITLAB_CI"], vars["CI_JOB_TOKEN"] = "true", hostileJobToken
				}
				for k, v := range in {
					args = append(args, "--"+k, v)
				}
				args = append(args, "--dotenv", filepath.Join(dir, "build.env"))
			}
			r := runAction(t, vars, args...)
			if r.code != tt.want {
				t.Fatalf("exit code = %d, want %d", r.code, tt.want)
			}
			checkInert(t, r, tt.platform == "gitlab")
			var masks []string
			if tt.platform == "github" {
				masks = []string{hostilePassword, hostileBasic}
			}
			secrets := []string{hostilePassword, hostileBasic, hostileBearer}
			if tt.platform == "gitlab" {
				secrets = append(secrets, hostileJobToken)
			}
			checkSecrets(t, r, dir, masks, secrets)
			if tt.platform == "github" {
				checkHostileOutputs(t, dir, tt.want == exitOK)
			}
		})
	}
}

// checkInert checks that no line of stdout or stderr is a workflow command
// the program did not mean, and that no terminal control reached them but
// GitLab's section markers.
func checkInert(t *testing.T, r result, gitlab bool) {
	t.Helper()
	for _, stream := range []struct{ name, text string }{{"stdout", r.stdout}, {"stderr", r.stderr}} {
		text := stream.text
		if gitlab {
			text = strings.ReplaceAll(text, "\x1b[0K", "")
		}
		for _, bad := range []string{"\x1b", "\u2028", "\u0085", "\u202e", "##["} {
			if strings.Contains(text, bad) {
				t.Errorf("%s holds %q", stream.name, bad)
			}
		}
		if strings.Count(text, "\r") != strings.Count(text, "section_") {
			t.Errorf("%s holds a carriage return that is not a GitLab section marker's", stream.name)
		}
		for _, line := range strings.Split(text, "\n") {
			l := strings.TrimLeft(line, " \t")
			if !strings.HasPrefix(l, "::") {
				continue
			}
			cmd, _, _ := strings.Cut(l[2:], "::")
			if cmd, _, _ = strings.Cut(cmd, " "); !ownCommands[cmd] {
				t.Errorf("%s line %q is a workflow command the program did not issue", stream.name, line)
			}
		}
	}
}

// ownCommands are the workflow commands the program issues.
var ownCommands = map[string]bool{"group": true, "endgroup": true, "error": true, "warning": true, "notice": true, "add-mask": true}

// checkHostileOutputs reads GITHUB_OUTPUT as the runner does and checks
// that digest is the index's and that kept-tags is one line per tag.
func checkHostileOutputs(t *testing.T, dir string, published bool) {
	t.Helper()
	out := fileCommands(t, readFile(t, filepath.Join(dir, "output")))
	if !published {
		if len(out) != 0 {
			t.Errorf("outputs %v after a failed publish, want none", out)
		}
		return
	}
	var md metadata
	if err := json.Unmarshal([]byte(out["metadata"]), &md); err != nil {
		t.Fatalf("metadata output %q: %v", out["metadata"], err)
	}
	if got, want := out["digest"], md.Digest; got != want || !strings.HasPrefix(got, "sha256:") || strings.Contains(got, "evil") {
		t.Errorf("digest output = %q, want the index's %q", got, want)
	}
	if got := out["kept-tags"]; strings.Contains(got, "\n") || !strings.Contains(got, "kept:") {
		t.Errorf("kept-tags output = %q, want one line", got)
	}
	summary := readFile(t, filepath.Join(dir, "summary"))
	for _, bad := range []string{"<img", "[link](", "\x1b", "\u202e"} {
		if strings.Contains(summary, bad) {
			t.Errorf("step summary holds %q raw:\n%s", bad, summary)
		}
	}
	for _, line := range strings.Split(summary, "\n") {
		if strings.Contains(line, "kept |") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != 4 {
			t.Errorf("summary row %q is not three cells", line)
		}
	}
}

// issuedToken is a bearer token only the token service knows: no input,
// no keychain and no pattern names it.
const issuedToken = "tok-issued-7c1f0b9e4d2a"

// TestEchoedTokenIsRedacted: a registry with token auth
// (https://distribution.github.io/distribution/spec/auth/token/) that
// quotes the bearer token it was sent, bare, in its error is not printed
// the token, on GitHub or a command line.
func TestEchoedTokenIsRedacted(t *testing.T) {
	t.Parallel()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"token":"`+issuedToken+`"}`)
		case r.Header.Get("Authorization") != "Bearer "+issuedToken:
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="registry"`)
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"errors":[{"code":"DENIED","message":"the token `+issuedToken+` may not read this"}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, platform := range []string{"github", "cli"} {
		t.Run(platform, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := map[string]string{
				"images": host + "/o/app:tmp-1", "tags": host + "/o/app:v1", "insecure-registries": host,
				"registry-auth": "- registry: " + host + "\n  username: " + hostileUser + "\n  password: " + hostilePassword,
			}
			vars := map[string]string{}
			var args []string
			if platform == "github" {
				vars = githubVars(dir, in)
			} else {
				for k, v := range in {
					args = append(args, "--"+k, v)
				}
			}
			r := runAction(t, vars, args...)
			if r.code == exitOK {
				t.Fatalf("exit code = %d, want a failure", r.code)
			}
			if !strings.Contains(r.stdout+r.stderr, "may not read this") {
				t.Fatalf("the registry's refusal is not reported:\n%s%s", r.stdout, r.stderr)
			}
			var masks []string
			if platform == "github" {
				masks = []string{hostilePassword, hostileBasic, issuedToken}
			}
			checkSecrets(t, r, dir, masks, []string{hostilePassword, hostileBasic, issuedToken})
		})
	}
}
