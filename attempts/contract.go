package attempts

// This file pins the API that confparse and factory build on. Implementations
// may add to it but must not change these names or signatures.

import "time"

// Forever as an attempt count means "never give up".
const Forever = -1

// Params are EMS's attempt parameters: Count passes through the URL list,
// Delay between passes, Timeout per attempt to one URL (0 = none).
type Params struct {
	Count   int
	Delay   time.Duration
	Timeout time.Duration
}

// EMS defaults: "2 attempts, 500 ms apart" to connect, 4 to reconnect.
var (
	DefaultConnect   = Params{Count: 2, Delay: 500 * time.Millisecond}
	DefaultReconnect = Params{Count: 4, Delay: 500 * time.Millisecond}
)

// Jitter is how a computed delay is randomised.
type Jitter string

// Jitter modes.
const (
	JitterNone         Jitter = "none"
	JitterFull         Jitter = "full"         // uniform 0..d
	JitterEqual        Jitter = "equal"        // d/2 + uniform 0..d/2
	JitterDecorrelated Jitter = "decorrelated" // min(cap, uniform(base, 3*prev))
)

// Clock is the time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the library uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Rand is the randomness source; tests inject a fixed one.
type Rand interface {
	Float64() float64 // in [0, 1)
}
