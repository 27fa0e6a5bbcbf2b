package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci/signing"
	"github.com/oci-assemble/oci-assemble/internal/sign"
)

// TestSummarySigningHostileIdentity: a certificate's identity is what
// the OIDC provider put there, not ours. In the summary it is inert
// markdown; in the verify command it is one shell word, whatever it holds.
func TestSummarySigningHostileIdentity(t *testing.T) {
	t.Parallel()
	san := "x@y\n## <b>`$(touch pwned)`</b> ';rm -rf ~;'"
	s := &signed{mode: inputs.SignKeyless, identity: sign.Identity{SAN: san, Issuer: "https://issuer.example"},
		items: []signing.Signed{{Subject: "sha256:aa", Kind: signing.KindSignature, Digest: "sha256:bb"}}}
	md := metadata{Digest: "sha256:aa", Pushed: true, Image: "reg.example/app@sha256:aa"}
	md.Signing = newSigningOutput(s, md.Image)
	got := summary(report{md: md}, func(s string) string { return s })
	// Outside code spans and the fenced block, nothing of it is left.
	prose := regexp.MustCompile("(?s)```sh\n.*?\n```|``[^\n]*?``|`[^`\n]*`").ReplaceAllString(got, "")
	if strings.Contains(prose, "\n## ") || strings.Contains(prose, "<b>") || strings.Contains(prose, "pwned") {
		t.Errorf("the identity became markdown or HTML:\n%s\nprose:\n%s", got, prose)
	}
	if len(md.Signing.Verify) != 1 {
		t.Fatalf("verify = %q, want one command", md.Signing.Verify)
	}
	// The shell reads the identity back as one argument, unexpanded.
	cmd := strings.Replace(md.Signing.Verify[0], "cosign verify", "printf '%s\\n'", 1)
	out, err := exec.Command("sh", "-c", "set -f; "+cmd+" | sed -n 2p").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSuffix(string(out), "\n") != strings.SplitN(san, "\n", 2)[0] {
		t.Errorf("the shell read the identity as %q, want it whole (%q)\ncommand: %s", out, san, md.Signing.Verify[0])
	}
}

// TestVerifyCommands: the commands name the key or the identity, and
// each attestation kind signed, once; a layout target gets none.
func TestVerifyCommands(t *testing.T) {
	t.Parallel()
	s := &signed{mode: inputs.SignKey, items: []signing.Signed{
		{Subject: "sha256:aa", Kind: signing.KindSignature},
		{Subject: "sha256:aa", Kind: signing.KindProvenance},
		{Subject: "sha256:cc", Platform: "linux/amd64", Kind: signing.KindProvenance},
		{Subject: "sha256:cc", Platform: "linux/amd64", Kind: signing.KindSBOM},
	}}
	got := verifyCommands(s, "reg.example/app@sha256:aa")
	want := []string{
		"cosign verify --key cosign.pub --insecure-ignore-tlog --trusted-root empty-trusted-root.json reg.example/app@sha256:aa",
		"cosign verify-attestation --type slsaprovenance1 --key cosign.pub --insecure-ignore-tlog --trusted-root empty-trusted-root.json reg.example/app@sha256:aa",
		"cosign verify-attestation --type spdxjson --key cosign.pub --insecure-ignore-tlog --trusted-root empty-trusted-root.json reg.example/app@sha256:cc",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("verifyCommands() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	s.tlog = true
	if got := verifyCommands(s, "reg.example/app@sha256:aa")[0]; got != "cosign verify --key cosign.pub reg.example/app@sha256:aa" {
		t.Errorf("with a transparency log: %q", got)
	}
	if got := verifyCommands(s, "oci:out/app@sha256:aa"); len(got) != 0 {
		t.Errorf("layout target: %q, want none", got)
	}
}
