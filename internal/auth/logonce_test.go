package auth

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestNoCredentialsLoggedOncePerRegistry: a run resolves credentials for
// every request; the line saying a registry has none comes once per
// registry, and a credential's source once per repository.
func TestNoCredentialsLoggedOncePerRegistry(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	kc := newKeychain(t, WithGetenv(env(nil)),
		WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithRegistryAuth([]Entry{{Registry: "private.example", Username: "u", Password: "p"}}))
	for range 5 {
		for _, r := range []string{"a.example/o/app", "a.example/o/other", "b.example/o/app", "private.example/o/app"} {
			resolve(t, kc, r)
		}
	}
	out := logs.String()
	t.Log(out)
	for _, tt := range []struct {
		line string
		want int
	}{
		{"msg=\"no credentials\" registry=a.example", 1},
		{"msg=\"no credentials\" registry=b.example", 1},
		{"msg=credentials resource=private.example/o/app", 1},
	} {
		if got := strings.Count(out, tt.line); got != tt.want {
			t.Errorf("%d lines %q, want %d", got, tt.line, tt.want)
		}
	}
}
