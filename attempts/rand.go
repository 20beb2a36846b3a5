package attempts

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"sync"
)

// NewRand returns a pseudo-random source seeded with seed. It is safe for
// concurrent use; the same seed gives the same sequence.
func NewRand(seed int64) Rand {
	return &lockedRand{r: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))}
}

// DefaultRand is the process-wide source used when none is injected. It is
// seeded from crypto/rand, so two processes started together (a fleet
// restarted by one deployment) still draw different jitter, and it is
// safe for concurrent use.
var DefaultRand Rand = newCryptoSeeded()

func newCryptoSeeded() Rand {
	var b [8]byte
	if _, err := crand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; fall back to
		// the runtime-seeded global source rather than panicking.
		return &lockedRand{r: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	}
	return NewRand(int64(binary.LittleEndian.Uint64(b[:])))
}

type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

// Float64 returns a number in [0, 1).
func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}
