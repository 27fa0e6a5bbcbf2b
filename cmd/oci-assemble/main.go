// Command oci-assemble joins per-platform images into one annotated
// multi-platform index and publishes it to every tag. It runs as a GitHub
// docker action (inputs from INPUT_*) and as a CLI / GitLab CI job image
// (the same inputs as --flags).
//
// Exit codes (README's "Exit codes" lists what falls in each): 0 success;
// 1 the inputs are wrong: malformed, or naming an image, tag, digest, path
// or platform that is not there, found before anything is written; 2 a
// registry or source that exists failed (refused, unreachable, corrupt,
// timed out) before any tag moved; 3 some tags moved and others did not
// (the error lists both).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/oci-assemble/oci-assemble/internal/owner"
)

// Exit codes.
const (
	exitOK      = 0
	exitInput   = 1
	exitFailed  = 2
	exitPartial = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, env{
		getenv: os.Getenv, stdout: os.Stdout, stderr: os.Stderr, args: os.Args[1:],
		geteuid: os.Geteuid, getwd: os.Getwd,
	})
	stop()
	os.Exit(code)
}

// env is everything the program touches, injected so tests run in
// parallel.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	args   []string
	// geteuid and getwd decide whether and where files written under the
	// workspace are given to its owner (giveWorkspace); nil skips that.
	geteuid   func() int
	getwd     func() (string, error)
	ownerOpts []owner.Option // for tests: owner.WithLchown, WithOwnerOf
}
