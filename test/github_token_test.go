package test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestGitHubTokenNeverLeavesGitHub points the action at a registry that
// asks for Basic auth (as any registry may, per the distribution spec's
// WWW-Authenticate challenge) and records every Authorization header: the
// GitHub token must never be among them.
func TestGitHubTokenNeverLeavesGitHub(t *testing.T) {
	t.Parallel()
	const token = "ghs_neverSendThisAnywhereElse123"
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	res := runAction(t, map[string]string{
		"images": host + "/o/app:tmp", "tags": host + "/o/app:1",
		"github-token": token, "insecure-registries": host,
	}, "GITHUB_TOKEN="+token, "GITHUB_ACTOR=octocat")
	if res.code != 2 {
		t.Errorf("exit %d, want 2\n%s", res.code, res.stdout)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the server saw no request")
	}
	for _, h := range seen {
		if h != "" && (strings.Contains(h, token) || strings.Contains(h, basic("octocat", token))) {
			t.Errorf("the GitHub token was sent to %s: %q", host, h)
		}
	}
	if lines := errorLines(res.stdout); len(lines) != 1 || !strings.Contains(lines[0], "none was found") {
		t.Errorf("error lines = %q, want one saying no credentials were found", lines)
	}
}
