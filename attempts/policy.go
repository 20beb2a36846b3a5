package attempts

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Project defaults for the failover extensions beyond EMS; confparse uses
// them when a factory leaves the key out. A reconnect (an Episode) makes
// its first pass at once; after a storm signal, with EMS's reconnect delay
// of 500 ms as the base, they give: uniform over [0, 1s) (the spread),
// then uniform [0, 500ms), then uniform [0, 1s) for every later pass.
//
// They were picked with the storm simulation (go run ./tests/storm; see
// docs/storm.md), which sweeps spread, cap, multiplier and jitter
// mode against 10 000 and 100 000 clients and both accept-queue overflow
// behaviours, and keeps the one setting that meets the goal everywhere
// without knowing N: at least 10× fewer failed attempts than EMS's fixed
// delay and at most 1.5× the ideal N ÷ handshake-rate time.
//
//   - Spread 1s: a fleet arriving over a second fits through Linux's first
//     SYN retransmit (1 s later); 500 ms overflows twice and the attempts
//     die on their timeout; longer spreads cost small fleets more.
//   - Full jitter: keeps the retries decorrelated, so the arrivals stay at
//     the backup's capacity instead of in waves.
//   - MaxDelay 1s: the tail matters more than the peak once jitter has
//     spread the fleet; a larger cap leaves the backup idle while the last
//     clients sleep (2 s already costs 1.6× the ideal at N = 10 000).
//     Refused attempts are cheap, so a short cap costs few failures.
//   - Multiplier 2: with this cap it only doubles the first retry's window.
//
// The per-process Scheduler (DefaultSchedulerConfig) then cuts failed
// attempts by another two orders of magnitude for processes holding many
// connections.
const (
	// DefaultMultiplier grows the reconnect delay after every failed pass.
	DefaultMultiplier float64 = 2
	// DefaultMaxDelay caps the computed reconnect delay.
	DefaultMaxDelay time.Duration = 1 * time.Second
	// DefaultJitter randomises every reconnect delay.
	DefaultJitter Jitter = JitterFull
	// DefaultSpread is the window the first reconnect attempt is spread over.
	DefaultSpread time.Duration = 1 * time.Second
)

// maxDuration is the largest delay ever returned; computed delays saturate
// here instead of overflowing.
const maxDuration = time.Duration(math.MaxInt64)

// Policy is a full connect or reconnect policy: EMS's Params plus the
// backoff, jitter, spread and budget extensions.
//
// # Formulas
//
// A walk is a sequence of attempts (passes through the URL list). The wait
// before attempt 1 is the spread, s = uniform[0, Spread) (0 when Spread is 0).
// The wait before attempt n+1, i.e. after the n-th failed attempt, is first
// computed as
//
//	d(n) = min(MaxDelay, Delay × Multiplier^(n-1))      (no cap when MaxDelay is 0)
//
// and then jittered, with u = uniform[0, 1) from the injected Rand:
//
//	none:          w = d(n)
//	full:          w = u × d(n)                         (uniform 0..d)
//	equal:         w = d(n)/2 + u × d(n)/2              (d/2 + uniform 0..d/2)
//	decorrelated:  w = min(cap, Delay + u × (3×prev − Delay)), prev = previous w
//	               (prev starts at Delay; cap is MaxDelay, or none when 0;
//	               Multiplier is not used by this mode)
//
// AddJitter, when set, then adds uniform[0, AddJitter) to w (nats.go's
// additive ReconnectJitter).
//
// Multiplier 1 with JitterNone and Spread 0 is EMS exactly: "4 attempts,
// 500 ms apart" is 0, 500ms, 500ms, 500ms. ActiveMQ's exponential back-off
// (initialReconnectDelay 10 ms, backOffMultiplier 2, maxReconnectDelay 30 s)
// is Delay 10ms, Multiplier 2, MaxDelay 30s; Artemis's retryInterval and
// retryIntervalMultiplier map to Delay and Multiplier, maxRetryInterval to
// MaxDelay.
//
// # Worked table
//
// Delay 500ms, Multiplier 2, MaxDelay 4s, and u = 0.5 on every draw:
//
//	wait before attempt   d(n)    none    full    equal   decorrelated
//	2 (n=1)               500ms   500ms   250ms   375ms   1s       (500ms + 0.5×(1.5s−500ms))
//	3 (n=2)               1s      1s      500ms   750ms   1.75s    (500ms + 0.5×(3s−500ms))
//	4 (n=3)               2s      2s      1s      1.5s    2.875s
//	5 (n=4)               4s      4s      2s      3s      4s       (capped)
//	6 (n=5)               4s      4s      2s      3s      4s       (capped)
//
// The project's default reconnect policy (EMS's 4 attempts, 500 ms, plus
// DefaultMultiplier, DefaultMaxDelay, DefaultJitter, DefaultSpread), as
// Delays yields it:
//
//	attempt   d(n)     wait before it
//	1         -        uniform [0, 1s)      (Spread)
//	2         500ms    uniform [0, 500ms)   (full jitter)
//	3         1s       uniform [0, 1s)
//	4         1s       uniform [0, 1s)      (capped; Count 4 ends the episode)
//
// and as an Episode (what a factory's reconnect uses) yields it after a
// storm signal in pass 1:
//
//	attempt   wait before it
//	1         0                    (at once; connects bounded by Probe)
//	2         uniform [0, 1s)      (Spread)
//	3         uniform [0, 500ms)
//	4         uniform [0, 1s)
//
// # Budget
//
// Budget bounds a whole reconnect episode: once it has elapsed since the
// loss, no new attempt starts, whatever Count says. Delays.NextWithin
// applies it to the time the caller measured on its clock.
type Policy struct {
	Params                   // Count passes, base Delay, per-URL attempt Timeout
	Multiplier float64       // >= 1; 1 = EMS fixed delay (0 is treated as 1)
	MaxDelay   time.Duration // cap on the computed delay; 0 = none
	Jitter     Jitter        // "" = JitterNone
	Spread     time.Duration // window the FIRST attempt of a reconnect is spread over (uniform); 0 = immediate
	Budget     time.Duration // total time after which no new attempt starts; 0 = none

	// AddJitter adds uniform [0, AddJitter) to every backoff wait, after
	// the Jitter mode: nats.go's ReconnectJitter (ReconnectWait 2s plus up
	// to 100ms is Delay 2s, AddJitter 100ms). 0 = none.
	AddJitter time.Duration

	// Probe bounds the TCP connect of a reconnect's attempts until a
	// storm signal (see Episode): a SYN unanswered that long is abandoned
	// and counts as the signal. 0 = no bound beyond Timeout. Delays does
	// not use it.
	Probe time.Duration
}

// Policy errors; Validate wraps them with the offending value.
var (
	ErrCount      = errors.New("attempts: count must be >= 1 or -1 (forever)")
	ErrNegative   = errors.New("attempts: durations must not be negative")
	ErrMultiplier = errors.New("attempts: multiplier must be >= 1 (or 0 for 1)")
	ErrJitter     = errors.New("attempts: unknown jitter mode")
)

// ParseJitter parses a jitter mode name, case-insensitively and ignoring
// surrounding space. The empty string is JitterNone.
func ParseJitter(s string) (Jitter, error) {
	switch j := Jitter(strings.ToLower(strings.TrimSpace(s))); j {
	case "", JitterNone:
		return JitterNone, nil
	case JitterFull, JitterEqual, JitterDecorrelated:
		return j, nil
	}
	return "", fmt.Errorf("%w %q (want none, full, equal or decorrelated)", ErrJitter, s)
}

// Validate reports the first invalid field of p, or nil.
func (p Policy) Validate() error {
	switch {
	case p.Count < 1 && p.Count != Forever:
		return fmt.Errorf("%w, got %d", ErrCount, p.Count)
	case p.Delay < 0:
		return fmt.Errorf("%w: delay %v", ErrNegative, p.Delay)
	case p.Timeout < 0:
		return fmt.Errorf("%w: timeout %v", ErrNegative, p.Timeout)
	case p.MaxDelay < 0:
		return fmt.Errorf("%w: max delay %v", ErrNegative, p.MaxDelay)
	case p.Spread < 0:
		return fmt.Errorf("%w: spread %v", ErrNegative, p.Spread)
	case p.Budget < 0:
		return fmt.Errorf("%w: budget %v", ErrNegative, p.Budget)
	case p.AddJitter < 0:
		return fmt.Errorf("%w: added jitter %v", ErrNegative, p.AddJitter)
	case p.Probe < 0:
		return fmt.Errorf("%w: probe %v", ErrNegative, p.Probe)
	case math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0) || (p.Multiplier != 0 && p.Multiplier < 1):
		return fmt.Errorf("%w, got %v", ErrMultiplier, p.Multiplier)
	}
	if _, err := ParseJitter(string(p.Jitter)); err != nil {
		return err
	}
	return nil
}

// Delays yields the waits of one walk (a connect, or one reconnect episode).
// r supplies the randomness for Spread and Jitter; nil means DefaultRand.
// Invalid fields are clamped rather than rejected (call Validate for that):
// a Count below 1 other than Forever gives one attempt, negative durations
// count as 0, a Multiplier below 1 counts as 1 and an unknown Jitter as none.
func (p Policy) Delays(r Rand) *Delays {
	if r == nil {
		r = DefaultRand
	}
	if p.Count < 1 && p.Count != Forever {
		p.Count = 1
	}
	p.Delay = max(p.Delay, 0)
	p.MaxDelay = max(p.MaxDelay, 0)
	p.Spread = max(p.Spread, 0)
	p.AddJitter = max(p.AddJitter, 0)
	p.Probe = max(p.Probe, 0)
	if !(p.Multiplier >= 1) || math.IsInf(p.Multiplier, 0) {
		p.Multiplier = 1
	}
	if j, err := ParseJitter(string(p.Jitter)); err == nil {
		p.Jitter = j
	} else {
		p.Jitter = JitterNone
	}
	return &Delays{p: p, r: r, prev: p.Delay}
}

// Delays is the iterator returned by Policy.Delays. It is not safe for
// concurrent use; one walk owns it.
type Delays struct {
	p    Policy
	r    Rand
	n    int           // attempts handed out so far
	prev time.Duration // previous backoff wait, for decorrelated jitter

	spent bool // the Budget ran out (NextWithin)
}

// Next returns the wait before the next attempt (pass) and false once Count
// attempts have been made (never false for Forever). The first call returns
// the wait before attempt 1: uniform over [0, Spread) (0 when Spread is 0;
// connect policies use Spread 0); later calls return the backoff for attempt
// n as described on Policy.
func (d *Delays) Next() (time.Duration, bool) {
	if d.p.Count != Forever && d.n >= d.p.Count {
		return 0, false
	}
	d.n++
	if d.n == 1 {
		if d.p.Spread == 0 {
			return 0, true
		}
		return scale(d.p.Spread, d.r.Float64()), true
	}
	w := d.backoff(d.n - 1)
	if d.p.AddJitter > 0 {
		w = min(w, maxDuration-d.p.AddJitter) + scale(d.p.AddJitter, d.r.Float64())
	}
	return w, true
}

// NextWithin is Next under the policy's Budget: elapsed is the time since
// the walk began (the loss, for a reconnect), measured by the caller on its
// clock. It returns false, whatever Count says, when the next attempt would
// start after Budget has elapsed, and keeps returning false from then on.
// With Budget 0 it is Next.
func (d *Delays) NextWithin(elapsed time.Duration) (time.Duration, bool) {
	if d.spent {
		return 0, false
	}
	w, ok := d.Next()
	if ok && d.p.Budget > 0 && (elapsed > d.p.Budget || w > d.p.Budget-elapsed) {
		d.n-- // not handed out after all
		d.spent = true
		return 0, false
	}
	return w, ok
}

// Attempt returns the number of attempts handed out so far: after the k-th
// successful call of Next it is k.
func (d *Delays) Attempt() int { return d.n }

// Policy returns the (clamped) policy the iterator walks.
func (d *Delays) Policy() Policy { return d.p }

// backoff is the jittered wait after the n-th failed attempt (n >= 1).
func (d *Delays) backoff(n int) time.Duration {
	p := d.p
	if p.Jitter == JitterDecorrelated {
		hi := 3 * float64(d.prev)
		lo := float64(p.Delay)
		w := fromFloat(lo + d.r.Float64()*(hi-lo))
		if p.MaxDelay > 0 {
			w = min(w, p.MaxDelay)
		}
		d.prev = w
		return w
	}
	c := Backoff(p.Delay, p.Multiplier, p.MaxDelay, n)
	switch p.Jitter {
	case JitterFull:
		return scale(c, d.r.Float64())
	case JitterEqual:
		return c/2 + scale(c-c/2, d.r.Float64())
	}
	return c
}

// Backoff is the un-jittered delay after the n-th failed attempt:
// min(maxDelay, base × multiplier^(n-1)), saturating instead of
// overflowing; maxDelay 0 means no cap, n below 1 counts as 1 and a
// multiplier below 1 as 1.
func Backoff(base time.Duration, multiplier float64, maxDelay time.Duration, n int) time.Duration {
	if base <= 0 {
		return 0
	}
	if !(multiplier >= 1) {
		multiplier = 1
	}
	n = max(n, 1)
	d := fromFloat(float64(base) * math.Pow(multiplier, float64(n-1)))
	if maxDelay > 0 {
		d = min(d, maxDelay)
	}
	return d
}

// scale returns u×d for u in [0, 1), rounded down to the nanosecond.
func scale(d time.Duration, u float64) time.Duration {
	if u <= 0 || d <= 0 {
		return 0
	}
	if u >= 1 {
		u = math.Nextafter(1, 0)
	}
	return fromFloat(float64(d) * u)
}

// fromFloat converts nanoseconds to a Duration, saturating at the bounds.
func fromFloat(f float64) time.Duration {
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f >= float64(maxDuration):
		return maxDuration
	}
	return time.Duration(f)
}
