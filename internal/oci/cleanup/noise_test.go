package cleanup

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// lockedBuffer collects log lines from parallel deletes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFallbackLoggedOncePerRegistry: a registry that refuses the tag
// DELETE for every tag gets one line saying so, not one per tag, and a
// kept tag's reason is in the Result only, for the caller's one warning.
func TestFallbackLoggedOncePerRegistry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		digestRefused bool // the tombstone cannot be deleted: tags kept
	}{
		{"deleted through tombstones", false},
		{"kept", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := newMemRegistry(t, func(m *memRegistry) { m.refuseTagDelete, m.refuseDigestDelete = true, tt.digestRefused })
			p := publish(t, reg.host, "o/app")
			var logs lockedBuffer
			d, err := New(WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			if err != nil {
				t.Fatal(err)
			}
			res := d.Delete(context.Background(), p.tmpTags, p.protected())
			out := logs.String()
			t.Log(out)
			if n := strings.Count(out, "refused the tag DELETE"); n != 1 {
				t.Errorf("%d lines about the refused tag DELETE for %d tags, want 1", n, len(p.tmpTags))
			}
			if tt.digestRefused {
				if len(res.Kept) != len(p.tmpTags) {
					t.Fatalf("Kept = %+v, want every tag", res.Kept)
				}
				if n := strings.Count(out, "registry refused to delete the tombstone"); n != 0 {
					t.Errorf("the log repeats %d kept tags' reasons, want none (the caller warns once)", n)
				}
			} else if len(res.Deleted) != len(p.tmpTags) {
				t.Fatalf("Deleted = %v, want every tag", res.Deleted)
			}
		})
	}
}

// TestCleanReportsUnmatchedGlob: a delete-tags glob that matches no tag
// is named in the Result, so the user hears that it deleted nothing.
func TestCleanReportsUnmatchedGlob(t *testing.T) {
	t.Parallel()
	reg := newMemRegistry(t, nil)
	p := publish(t, reg.host, "o/app")
	d, err := New(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	miss, hit := reg.host+"/o/app:nightly-*", reg.host+"/o/app:tmp-*"
	res, err := d.Clean(context.Background(), Request{Patterns: []string{miss, hit}, Protected: []v1.Hash{p.index}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Unmatched, ","); got != miss {
		t.Errorf("Unmatched = %q, want %q", got, miss)
	}
	if len(res.Deleted) != 2 {
		t.Errorf("Deleted = %v, want the two tmp tags", res.Deleted)
	}
}
