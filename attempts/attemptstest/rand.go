package attemptstest

import (
	"math"
	"sync"

	"github.com/stompft/stompft/attempts"
)

// Rand replays a fixed sequence of values, cycling when it runs out. With
// no values it always returns 0.5. Values outside [0, 1) are clamped into
// it. It is safe for concurrent use.
type Rand struct {
	mu    sync.Mutex
	vs    []float64
	calls int
}

var _ attempts.Rand = (*Rand)(nil)

// NewRand returns a Rand replaying vs.
func NewRand(vs ...float64) *Rand {
	out := make([]float64, len(vs))
	for i, v := range vs {
		switch {
		case math.IsNaN(v) || v < 0:
			v = 0
		case v >= 1:
			v = math.Nextafter(1, 0)
		}
		out[i] = v
	}
	return &Rand{vs: out}
}

// Float64 returns the next value of the sequence.
func (r *Rand) Float64() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if len(r.vs) == 0 {
		return 0.5
	}
	return r.vs[(r.calls-1)%len(r.vs)]
}

// Calls returns how many values were drawn.
func (r *Rand) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}
