package retry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Option configures a Transport.
type Option func(*options) error

type options struct {
	attempts       int
	maxElapsed     time.Duration
	base, max      time.Duration
	retryAfterCap  time.Duration
	readAfterWrite time.Duration
	sessions       int
	logger         *slog.Logger
	clock          Clock
	rand           *lockedRand
}

func defaults() options {
	return options{
		attempts:       5,
		maxElapsed:     2 * time.Minute,
		base:           500 * time.Millisecond,
		max:            15 * time.Second,
		retryAfterCap:  30 * time.Second,
		readAfterWrite: 10 * time.Second,
		sessions:       3,
		logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock:          realClock{},
	}
}

// WithAttempts bounds how many times one request is sent, the first time
// included. 1 turns retries off. Default 5.
func WithAttempts(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithAttempts: %d, want at least 1", n)
		}
		o.attempts = n
		return nil
	}
}

// WithMaxElapsed bounds the time from a request's first attempt to the
// start of its last one: a wait that would end past it is not taken and
// the last answer is returned instead. It does not cut a transfer short.
// Default 2 minutes.
func WithMaxElapsed(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("WithMaxElapsed: %v, want more than 0", d)
		}
		o.maxElapsed = d
		return nil
	}
}

// WithBackoff sets the exponential backoff: before retry n the wait is
// drawn uniformly from [0, min(max, base·2ⁿ⁻¹)] ("full jitter"), so that
// clients failed by one outage do not come back in step. Default 500ms
// and 15s.
func WithBackoff(base, max time.Duration) Option {
	return func(o *options) error {
		if base <= 0 || max < base {
			return fmt.Errorf("WithBackoff: base %v, max %v; want 0 < base <= max", base, max)
		}
		o.base, o.max = base, max
		return nil
	}
}

// WithRetryAfterCap caps the wait a Retry-After header can ask for, in
// either of its forms (delta seconds or HTTP date). Default 30s.
func WithRetryAfterCap(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("WithRetryAfterCap: %v, want 0 or more", d)
		}
		o.retryAfterCap = d
		return nil
	}
}

// WithReadAfterWrite bounds how long a 404 on a manifest or blob this
// Transport wrote is retried, waiting for the registry's replicas to
// catch up. 0 turns it off. Default 10s.
func WithReadAfterWrite(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("WithReadAfterWrite: %v, want 0 or more", d)
		}
		o.readAfterWrite = d
		return nil
	}
}

// WithUploadSessions bounds how many upload sessions one blob or manifest
// gets: from ggcr's writers through Transport.RemoteOptions, from ours
// through Transport.Sessions. 1 turns session retries off. Default 3.
func WithUploadSessions(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithUploadSessions: %d, want at least 1", n)
		}
		o.sessions = n
		return nil
	}
}

// WithLogger sets where the one line per retry goes. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithClock replaces the clock and the sleep, for tests that must not
// wait for real. Default: the system clock.
func WithClock(c Clock) Option {
	return func(o *options) error {
		if c == nil {
			return fmt.Errorf("WithClock: nil clock")
		}
		o.clock = c
		return nil
	}
}

// WithRand sets the source of the backoff jitter, for tests that want a
// seeded sequence; the Transport serialises its use. Default: a randomly
// seeded source.
func WithRand(r *rand.Rand) Option {
	return func(o *options) error {
		if r == nil {
			return fmt.Errorf("WithRand: nil source")
		}
		o.rand = &lockedRand{r: r}
		return nil
	}
}

// Clock is the Transport's view of time.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx is done and then returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockedRand makes a seeded *rand.Rand, which is not safe for concurrent
// use, shareable by concurrent requests.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

// int64N returns a number in [0, n].
func (l *lockedRand) int64N(n int64) int64 {
	if l == nil {
		return rand.Int64N(n + 1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Int64N(n + 1)
}
