package push

import (
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
)

// Stats counts the blob bytes a repository got, by how it got them, so
// a user can see what a run cost: a re-run should upload nothing.
type Stats struct {
	// Uploaded bytes were sent.
	Uploaded int64
	// Mounted bytes came from another repository of the same registry
	// (a cross-repository mount), without being sent.
	Mounted int64
	// Reused bytes were there already: the repository held the blob.
	Reused int64
}

// counters are a repository's Stats while blobs are written; the Pusher
// keeps them by repository, so a Writer replaced for a wider token
// counts on.
type counters struct{ uploaded, mounted, reused atomic.Int64 }

func (c *counters) stats() Stats {
	return Stats{Uploaded: c.uploaded.Load(), Mounted: c.mounted.Load(), Reused: c.reused.Load()}
}

// Stats returns what the blob writes to repo have counted so far.
func (p *Pusher) Stats(repo name.Repository) Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.counts[repo.String()]; c != nil {
		return c.stats()
	}
	return Stats{}
}

// countersOf returns repo's counters, made on first use; p.mu held.
func (p *Pusher) countersOf(repo name.Repository) *counters {
	c := p.counts[repo.String()]
	if c == nil {
		c = &counters{}
		p.counts[repo.String()] = c
	}
	return c
}

// CountHeld records n bytes the repository was found to hold without a
// blob request: its tag already pointed at what is published, so every
// blob below it is there.
func (w *Writer) CountHeld(n int64) { w.count(&w.counts.reused, n) }
