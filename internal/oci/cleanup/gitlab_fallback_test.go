package cleanup

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestGitLabWithoutAPI: a GitLab registry whose API cannot be used (no job
// token, no project, an unreachable API) still gets the registry's own
// ways, and a kept tag's one line names each way tried, why it failed
// once, and the fix.
func TestGitLabWithoutAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		legacy         bool // registry refuses the tag DELETE
		noDigestDelete bool // registry refuses manifest deletes too
		apiURL         string
		project, token string
		wantDeleted    bool
		wantReason     []string // substrings, in order
		wantFix        string
		wantTombstone  bool
	}{
		{name: "16.4+: OCI tag DELETE needs no token", token: "", project: "1217", wantDeleted: true},
		{name: "no token: tombstone", legacy: true, project: "1217", wantDeleted: true, wantTombstone: true},
		{name: "no project, no token: tombstone", legacy: true, wantDeleted: true, wantTombstone: true},
		{
			name: "no token, tombstone refused", legacy: true, noDigestDelete: true, project: "1217",
			wantReason: []string{
				"registry refused the tag DELETE (405 UNSUPPORTED",
				"and registry refused to delete the tombstone by digest (405 UNSUPPORTED",
				"the GitLab API was not tried (CI_JOB_TOKEN is not set)",
			},
			wantFix:       "CI_JOB_TOKEN",
			wantTombstone: true,
		},
		{
			name: "bad API URL, tombstone refused", legacy: true, noDigestDelete: true, apiURL: "gitlab.example/api/v4", project: "1217", token: "t",
			wantReason:    []string{"registry refused the tag DELETE (405", "the GitLab API was not tried (CI_API_V4_URL is not usable"},
			wantFix:       "CI_API_V4_URL",
			wantTombstone: true,
		},
		{
			name: "API unreachable: tombstone", legacy: true, apiURL: "http://127.0.0.1:1/api/v4", project: "1217", token: "t",
			wantDeleted: true, wantTombstone: true,
		},
		{
			name: "API unreachable, tombstone refused", legacy: true, noDigestDelete: true, apiURL: "http://127.0.0.1:1/api/v4", project: "1217", token: "t",
			wantReason: []string{
				"registry refused the tag DELETE (405",
				"and registry refused to delete the tombstone by digest (405",
				"the GitLab API failed: the GitLab API could not be reached to list the project's registry repositories", "connection refused",
			},
			wantFix:       "CI_API_V4_URL",
			wantTombstone: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newMemRegistry(t, func(m *memRegistry) { m.refuseTagDelete, m.refuseDigestDelete = tc.legacy, tc.noDigestDelete })
			gl := newFakeGitLab(t, reg, nil)
			api := tc.apiURL
			if api == "" {
				api = gl.srv.URL + "/api/v4"
			}
			p := publish(t, reg.host, "group/proj/app")
			rec := newRecorder()
			d, err := New(WithGitLab(reg.host, api, tc.project, tc.token), WithTransport(rec), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatalf("New() = %v: a missing GitLab setting must not stop the cleanup", err)
			}
			res := d.Delete(context.Background(), p.tmpTags[:1], p.protected())

			assertNoProtectedDeleted(t, rec, p.protected())
			if status, _ := reg.get(t, "group/proj/app", p.children[0].String()); status != http.StatusOK {
				t.Errorf("child by digest: status %d, want 200", status)
			}
			if got := len(tombstonesPut(t, rec)) > 0; got != tc.wantTombstone {
				t.Errorf("tombstone tried = %v, want %v", got, tc.wantTombstone)
			}
			if tc.apiURL == "" && len(gl.hit()) != 0 {
				t.Errorf("GitLab API hits = %v, want none without a token", gl.hit())
			}
			if tc.wantDeleted {
				if !slices.Equal(res.Deleted, []string{p.tmpTags[0].String()}) {
					t.Fatalf("Deleted = %v, Kept = %+v", res.Deleted, res.Kept)
				}
				return
			}
			if len(res.Kept) != 1 {
				t.Fatalf("Kept = %+v, want the tag", res.Kept)
			}
			line := res.Kept[0].String()
			rest := line
			for _, want := range tc.wantReason {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("kept line %q lacks %q (in order)", line, want)
				}
				rest = rest[i+len(want):]
			}
			if !strings.HasPrefix(line, p.tmpTags[0].String()+" kept: ") || !strings.Contains(res.Kept[0].Fix, tc.wantFix) {
				t.Errorf("kept line %q: want the tag first and a fix naming %s", line, tc.wantFix)
			}
			// Each failure once: no text repeated within the line.
			for _, part := range []string{"405 UNSUPPORTED: The operation is unsupported.", "/registry/repositories", "connection refused"} {
				if n := strings.Count(line, part); n > 2 || (part != "405 UNSUPPORTED: The operation is unsupported." && n > 1) {
					t.Errorf("kept line repeats %q %d times: %q", part, n, line)
				}
			}
		})
	}
}
