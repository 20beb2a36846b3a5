package attempts

import (
	"errors"
	"time"
)

// ErrAbandoned marks a TCP connect given up at the Episode's probe bound
// (Policy.Probe) with its SYN unanswered; callers wrap it and report the
// attempt as Abandoned.
var ErrAbandoned = errors.New("TCP connect abandoned: SYN unanswered past the probe bound")

// DefaultProbe bounds the TCP connect of the attempts a reconnect makes
// before any storm signal (Policy.Probe): a SYN still unanswered after
// 250 ms was dropped by a full accept queue, or went to a host that is
// gone, since Linux itself resends an unanswered SYN only after 1 s. Any
// round trip short of 250 ms (every LAN, most WANs) completes within it.
const DefaultProbe = 250 * time.Millisecond

// StormSlowAttempt is the attempt duration (dial, TLS and CONNECT) above
// which a failed attempt counts as a storm signal even when it was neither
// refused nor timed out: a server that needed that long was overloaded. It
// matches SchedulerConfig.SlowHandshake's default.
const StormSlowAttempt = 2 * time.Second

// Episode decides the waits of one reconnect episode from what its
// attempts met. The first pass through the URL list goes at once, and
// stays at once: a lone client that lost its server is back as fast as a
// loop that redials the next address. Only a storm signal moves the client
// onto the Policy's spread and jittered back-off:
//
//   - an attempt refused (the server's accept queue is full, or it is not
//     listening yet: the two look the same);
//   - an attempt that timed out, including a TCP connect abandoned because
//     its SYN stayed unanswered past Policy.Probe;
//   - an attempt that failed after more than StormSlowAttempt;
//   - an attempt the Scheduler could not admit at once (its window was
//     already full: many connections of this process are reconnecting).
//
// After a signal, the next wait is drawn from [0, Spread) and the waits
// after it follow the Policy's back-off and jitter (see Policy), exactly as
// Delays would yield them from its first call. A pass that fails without a
// signal (an ERROR frame that is not permanent, a host unreachable) waits
// the jittered back-off of Policy for that pass, without a spread. A signal
// after that back-off has begun still brings the spread draw, and the waits
// after it continue the back-off where it was: a signal never restarts the
// back-off from its first step. Count
// and Budget bound the episode as they bound Delays: Count passes in all,
// the first one included.
//
// The caller's loop, for each pass: Next gives the wait before it;
// Spreading says whether that wait is the spread draw (a Scheduler may
// shorten it with WaitSpread); ConnectBound bounds each TCP connect of the
// pass; Report records how each attempt to one URL ended.
//
// With Spread 0 and Probe 0, an Episode yields exactly what Delays yields
// (EMS's "first pass at once, then Delay between passes").
//
// An Episode is not safe for concurrent use; one walk owns it.
type Episode struct {
	p      Policy
	calm   *Delays // back-off after passes that failed without a signal
	storm  *Delays // spread, then back-off, once a signal was seen
	n      int     // passes handed out
	signal bool    // a storm signal was reported
	loaded bool    // a server showed load: refused, timed out or slow
	spread bool    // the last wait handed out is the spread draw
	spent  bool    // the budget ran out
	joined bool    // the storm iterator took over the calm back-off's level
}

// Episode starts the waits of one reconnect episode under p (see Episode).
// r supplies the randomness; nil means DefaultRand. Invalid fields are
// clamped as by Delays.
func (p Policy) Episode(r Rand) *Episode {
	d := p.Delays(r)
	cp := d.Policy()
	calm := cp
	calm.Spread, calm.Count = 0, Forever
	storm := cp
	storm.Count = Forever
	e := &Episode{p: cp, calm: calm.Delays(d.r), storm: storm.Delays(d.r)}
	// The calm iterator starts past its "attempt 1" (the Episode's own
	// first pass), so its first wait is the back-off after one pass; so
	// does the storm iterator when there is no spread slot.
	e.calm.n = 1
	if storm.Spread == 0 {
		e.storm.n = 1
	}
	return e
}

// Next returns the wait before the next pass and false once Count passes
// have been handed out. The first pass waits 0; see Episode for the rest.
func (e *Episode) Next() (time.Duration, bool) {
	e.spread = false
	if e.p.Count != Forever && e.n >= e.p.Count {
		return 0, false
	}
	e.n++
	if e.n == 1 {
		return 0, true
	}
	if !e.signal {
		w, _ := e.calm.Next()
		return w, true
	}
	if !e.joined {
		e.joined = true
		if e.calm.n > 1 {
			// The calm back-off had begun: continue from its level.
			e.storm.n, e.storm.prev = e.calm.n, e.calm.prev
			if e.p.Spread > 0 {
				e.spread = true
				return scale(e.p.Spread, e.storm.r.Float64()), true
			}
		}
	}
	e.spread = e.storm.n == 0
	w, _ := e.storm.Next()
	return w, true
}

// NextWithin is Next under the policy's Budget, as Delays.NextWithin:
// elapsed is the time since the loss, measured by the caller.
func (e *Episode) NextWithin(elapsed time.Duration) (time.Duration, bool) {
	if e.spent {
		return 0, false
	}
	n, sn, cn, sp, joined := e.n, e.storm.n, e.calm.n, e.storm.prev, e.joined
	w, ok := e.Next()
	if ok && e.p.Budget > 0 && (elapsed > e.p.Budget || w > e.p.Budget-elapsed) {
		// not handed out after all
		e.n, e.storm.n, e.calm.n, e.storm.prev, e.joined = n, sn, cn, sp, joined
		e.spread, e.spent = false, true
		return 0, false
	}
	return w, ok
}

// Spreading reports whether the wait Next last returned is the spread
// draw (the first wait after a storm signal, when Spread > 0).
func (e *Episode) Spreading() bool { return e.spread }

// ConnectBound is the bound on each TCP connect of the current pass:
// Policy.Probe until a storm signal, then 0 (only the attempt's Timeout
// bounds it). A connect abandoned at the bound is reported as Abandoned,
// a storm signal: the attempt cost the server nothing, and the client's
// next try is spread instead of joining the kernel's retransmits in lock
// step with every other client that lost the same server.
func (e *Episode) ConnectBound() time.Duration {
	if e.loaded {
		return 0
	}
	return e.p.Probe
}

// Report records how one attempt to one URL ended: its outcome, how long
// it took (from the start of the dial to its end) and whether the
// Scheduler queued it (Ticket.Queued). Refused, TimedOut, a failure after
// more than StormSlowAttempt, Abandoned, and a queued attempt are storm
// signals.
func (e *Episode) Report(o Outcome, took time.Duration, queued bool) {
	switch {
	case o == Refused, o == TimedOut, o == Abandoned, o != Success && took > StormSlowAttempt:
		e.signal, e.loaded = true, true
	case queued:
		e.signal = true
	}
}

// Storm reports whether a storm signal has been reported in this episode.
func (e *Episode) Storm() bool { return e.signal }

// Attempt returns the number of passes handed out so far.
func (e *Episode) Attempt() int { return e.n }

// Policy returns the (clamped) policy of the episode.
func (e *Episode) Policy() Policy { return e.p }
