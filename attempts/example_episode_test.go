package attempts_test

import (
	"fmt"
	"time"

	"github.com/stompft/stompft/attempts"
)

// fixedRand always draws 0.5, so the example's output is exact.
type fixedRand struct{}

func (fixedRand) Float64() float64 { return 0.5 }

// An Episode's first pass goes at once; a refusal (a storm signal) moves
// the client onto the spread, then the jittered back-off.
func ExamplePolicy_Episode() {
	p := attempts.Policy{
		Params:     attempts.DefaultReconnect, // 4 passes, 500 ms
		Multiplier: attempts.DefaultMultiplier,
		MaxDelay:   attempts.DefaultMaxDelay,
		Jitter:     attempts.DefaultJitter,
		Spread:     attempts.DefaultSpread,
		Probe:      attempts.DefaultProbe,
	}
	e := p.Episode(fixedRand{})
	for {
		w, ok := e.Next()
		if !ok {
			break
		}
		fmt.Printf("pass %d after %v (spread %v), connect bound %v\n", e.Attempt(), w, e.Spreading(), e.ConnectBound())
		e.Report(attempts.Refused, time.Millisecond, false)
	}
	// Output:
	// pass 1 after 0s (spread false), connect bound 250ms
	// pass 2 after 500ms (spread true), connect bound 0s
	// pass 3 after 250ms (spread false), connect bound 0s
	// pass 4 after 500ms (spread false), connect bound 0s
}
