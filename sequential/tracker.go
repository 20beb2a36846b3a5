package sequential

import (
	"math"
	"sync"
	"time"
)

// ByteRateHalfLife is the half-life of Tracker's byte rate: bytes sent this
// long ago count half as much as bytes sent now.
const ByteRateHalfLife = 10 * time.Second

// Tracker measures the load this process puts on each endpoint: live
// connections and a decayed byte rate. Walkers read it to pick the least
// loaded group of a '|' list. It is safe for concurrent use. Endpoints are
// compared as values, so use the normalised ones Parse returns.
type Tracker struct {
	now func() time.Time

	mu    sync.Mutex
	stats map[Endpoint]*load
}

type load struct {
	conns int
	// decayed is the byte count decayed to time at: each byte counts
	// 2^(-age/ByteRateHalfLife).
	decayed float64
	at      time.Time
}

// NewTracker returns an empty Tracker reading time from now (time.Now if nil).
func NewTracker(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now, stats: make(map[Endpoint]*load)}
}

// DefaultTracker is the process-wide Tracker used when WalkOptions.Tracker
// is nil.
var DefaultTracker = NewTracker(nil)

// Connected records a live connection to e. Call release when the
// connection ends; calling it more than once has no further effect.
func (t *Tracker) Connected(e Endpoint) (release func()) {
	t.mu.Lock()
	t.entry(e).conns++
	t.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			t.entry(e).conns--
			t.mu.Unlock()
		})
	}
}

// AddBytes records n bytes sent to e. Negative or zero n is ignored.
func (t *Tracker) AddBytes(e Endpoint, n int) {
	if n <= 0 {
		return
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.entry(e)
	l.decayed = l.decayAt(now) + float64(n)
	if now.After(l.at) {
		l.at = now
	}
}

// Connections returns the number of live connections to e.
func (t *Tracker) Connections(e Endpoint) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.stats[e]; ok {
		return l.conns
	}
	return 0
}

// ByteRate returns the bytes per second recently sent to e, an exponentially
// decayed average with half-life ByteRateHalfLife. A steady r bytes/s reads
// as about r; after sending stops it halves every ByteRateHalfLife.
func (t *Tracker) ByteRate(e Endpoint) float64 {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.stats[e]
	if !ok {
		return 0
	}
	// The decayed sum of a steady rate r converges to r*H/ln 2.
	return l.decayAt(now) * math.Ln2 / ByteRateHalfLife.Seconds()
}

// entry returns e's record, creating it; t.mu must be held.
func (t *Tracker) entry(e Endpoint) *load {
	l, ok := t.stats[e]
	if !ok {
		l = &load{at: t.now()}
		t.stats[e] = l
	}
	return l
}

// decayAt returns the decayed byte count as seen at now. A clock that goes
// backwards is treated as no time passing.
func (l *load) decayAt(now time.Time) float64 {
	age := now.Sub(l.at)
	if age <= 0 {
		return l.decayed
	}
	return l.decayed * math.Exp2(-age.Seconds()/ByteRateHalfLife.Seconds())
}
