// Package attemptstest provides a fake clock and a scripted random source
// for exact, instant tests of anything built on package attempts.
//
// # Clock
//
// Clock implements attempts.Clock on virtual time. Nothing moves until the
// test calls Advance, which fires every due timer in deadline order. A test
// that needs the code under test to be waiting first calls BlockUntil (or
// polls Waiters) instead of sleeping.
//
// # Rand
//
// Rand implements attempts.Rand by replaying a fixed sequence, so jitter is
// exact.
package attemptstest

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/stompft/stompft/attempts"
)

// BlockTimeout bounds BlockUntil in real time, so a test that waits for a
// timer that never comes fails instead of hanging.
var BlockTimeout = 10 * time.Second

// Clock is a fake attempts.Clock. The zero value is not usable; call
// NewClock. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	timers  []*timer // pending, unordered
	changed chan struct{}
}

var _ attempts.Clock = (*Clock)(nil)

// NewClock returns a fake clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, changed: make(chan struct{})}
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer firing d after the current virtual time. A timer
// with d <= 0 fires at once.
func (c *Clock) NewTimer(d time.Duration) attempts.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{c: c, when: c.now.Add(d), seq: c.seq, ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

// Advance moves the clock forward by d, firing every timer due by then in
// deadline order (creation order among equal deadlines); Now reads each
// timer's deadline while it fires.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(max(d, 0))
	sort.SliceStable(c.timers, func(i, j int) bool {
		a, b := c.timers[i], c.timers[j]
		if !a.when.Equal(b.when) {
			return a.when.Before(b.when)
		}
		return a.seq < b.seq
	})
	n := 0
	for _, t := range c.timers {
		if t.when.After(end) {
			break
		}
		c.now = t.when
		t.ch <- t.when // buffered, and fired once
		n++
	}
	c.timers = append(c.timers[:0], c.timers[n:]...)
	c.now = end
	c.notifyLocked()
}

// Waiters returns the number of timers pending (created, not yet fired or
// stopped).
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// BlockUntil waits until at least n timers are pending, for at most
// BlockTimeout of real time, and reports whether they were.
func (c *Clock) BlockUntil(n int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), BlockTimeout)
	defer cancel()
	return c.BlockUntilContext(ctx, n) == nil
}

// BlockUntilContext waits until at least n timers are pending or ctx is done.
func (c *Clock) BlockUntilContext(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		ok, ch := len(c.timers) >= n, c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return errors.Join(errors.New("attemptstest: timers still not pending"), ctx.Err())
		}
	}
}

func (c *Clock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

type timer struct {
	c    *Clock
	when time.Time
	seq  uint64
	ch   chan time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

// Stop prevents the timer from firing; it reports whether it was pending.
func (t *timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.timers {
		if p == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			c.notifyLocked()
			return true
		}
	}
	return false
}
