package sequential

import (
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable time source for Tracker.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestTrackerConnections(t *testing.T) {
	tr := NewTracker(nil)
	a, b := tcp("a", 1), tcp("b", 1)
	if n := tr.Connections(a); n != 0 {
		t.Fatalf("unknown endpoint has %d connections", n)
	}
	r1 := tr.Connected(a)
	r2 := tr.Connected(a)
	rb := tr.Connected(b)
	if tr.Connections(a) != 2 || tr.Connections(b) != 1 {
		t.Fatalf("connections a=%d b=%d, want 2 1", tr.Connections(a), tr.Connections(b))
	}
	r1()
	r1() // idempotent
	if n := tr.Connections(a); n != 1 {
		t.Errorf("after one release (twice) a has %d, want 1", n)
	}
	r2()
	rb()
	if tr.Connections(a) != 0 || tr.Connections(b) != 0 {
		t.Errorf("after all releases a=%d b=%d", tr.Connections(a), tr.Connections(b))
	}
}

func TestTrackerByteRate(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	tr := NewTracker(clk.now)
	a := tcp("a", 1)
	h := ByteRateHalfLife.Seconds()
	if r := tr.ByteRate(a); r != 0 {
		t.Fatalf("unknown endpoint rate %v", r)
	}
	tr.AddBytes(a, 1000)
	tr.AddBytes(a, 0)  // ignored
	tr.AddBytes(a, -5) // ignored
	steps := []struct {
		after time.Duration
		want  float64
	}{
		{0, 1000 * math.Ln2 / h},
		{ByteRateHalfLife, 500 * math.Ln2 / h},
		{ByteRateHalfLife, 250 * math.Ln2 / h},
		{3 * ByteRateHalfLife, 31.25 * math.Ln2 / h},
	}
	for i, s := range steps {
		clk.advance(s.after)
		if got := tr.ByteRate(a); math.Abs(got-s.want) > 1e-9 {
			t.Errorf("step %d: ByteRate = %v, want %v", i, got, s.want)
		}
	}
}

func TestTrackerByteRateSteady(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	tr := NewTracker(clk.now)
	a := tcp("a", 1)
	// 100 bytes every 100 ms is 1000 B/s; after 20 half-lives the
	// estimate has converged to within the sampling error.
	for range int(20 * ByteRateHalfLife / (100 * time.Millisecond)) {
		clk.advance(100 * time.Millisecond)
		tr.AddBytes(a, 100)
	}
	if got := tr.ByteRate(a); got < 990 || got > 1010 {
		t.Errorf("steady 1000 B/s reads as %v", got)
	}
	clk.advance(ByteRateHalfLife)
	if got := tr.ByteRate(a); got < 495 || got > 505 {
		t.Errorf("one half-life after stopping reads %v, want ~500", got)
	}
}

func TestTrackerClockBackwards(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	tr := NewTracker(clk.now)
	a := tcp("a", 1)
	tr.AddBytes(a, 1000)
	want := tr.ByteRate(a)
	clk.advance(-time.Hour)
	if got := tr.ByteRate(a); got != want {
		t.Errorf("rate after clock went back = %v, want unchanged %v", got, want)
	}
	tr.AddBytes(a, 1000)
	if got := tr.ByteRate(a); math.Abs(got-2*want) > 1e-9 {
		t.Errorf("rate after adding with clock behind = %v, want %v", got, 2*want)
	}
}

func TestTrackerConcurrent(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	tr := NewTracker(clk.now)
	a := tcp("a", 1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				release := tr.Connected(a)
				tr.AddBytes(a, 1)
				_ = tr.ByteRate(a)
				release()
			}
		}()
	}
	wg.Wait()
	if n := tr.Connections(a); n != 0 {
		t.Errorf("connections = %d after all released", n)
	}
	if got, want := tr.ByteRate(a), 2000*math.Ln2/ByteRateHalfLife.Seconds(); math.Abs(got-want) > 1e-6 {
		t.Errorf("rate = %v, want %v (2000 bytes, no time passed)", got, want)
	}
}
