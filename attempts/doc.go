// Package attempts decides when a connection tries again: EMS's attempt
// parameters, exponential back-off with jitter, a spread first reconnect,
// a total budget, permanent errors, and a reconnect scheduler shared by
// the connections of a factory. It knows nothing of STOMP; package factory
// composes it with the URL walk.
//
// # EMS parameters
//
// Params{Count, Delay, Timeout} are EMS's connect_attempt_* and
// reconnect_attempt_* keys. The defaults are EMS's: DefaultConnect is 2
// attempts 500 ms apart, DefaultReconnect 4 attempts 500 ms apart, no
// per-attempt timeout. Count Forever (-1) never gives up.
//
// # Back-off and jitter
//
// A Policy adds Multiplier, MaxDelay, Jitter, Spread and Budget. The wait
// after the n-th failed attempt is min(MaxDelay, Delay × Multiplier^(n-1)),
// then jittered: none, full (uniform 0..d), equal (d/2 + uniform 0..d/2) or
// decorrelated (min(cap, uniform(base, 3·prev))). Delays spreads the first
// attempt uniformly over [0, Spread). Multiplier 1 and no jitter reproduce
// EMS exactly. See Policy for the formulas and a worked table of delays.
//
// # Fast alone, gentle in a crowd
//
// A reconnect walks an Episode instead: its first pass goes at once, so a
// lone client that lost its server is back as fast as a loop that redials
// the next address, and its TCP connects are bounded by Probe (250 ms). Only
// a storm signal (a refusal, a timeout, a SYN abandoned at the probe bound,
// a slow failure, an attempt the Scheduler had to queue) moves the client
// onto the spread and the jittered back-off, so a fleet that lost the same
// server at the same instant does not come back together. The defaults
// (DefaultMultiplier, DefaultMaxDelay, DefaultJitter, DefaultSpread,
// DefaultProbe) were chosen with the storm simulation in tests/storm;
// docs/storm.md has the numbers.
//
// # Budget
//
// Budget is a total deadline for one reconnect episode, whatever the
// count: a caller that measures the elapsed time itself uses
// Delays.NextWithin or Episode.NextWithin, which stop once the next attempt
// would start after it. (Package factory fixes the deadline when the
// episode starts and checks it before each pass.)
//
// # Permanent errors
//
// Permanent marks an error that retrying cannot fix (an ERROR frame
// answering CONNECT, such as bad credentials; a TLS certificate rejection);
// IsPermanent finds the mark through any wrapping, so a walk stops at once.
// WalkError collects AttemptError values: each URL tried and why it failed.
//
// # Reconnect scheduler
//
// A Scheduler admits reconnect attempts at a bounded rate and concurrency,
// adapting like TCP congestion control to what it observes: in slow start
// each round of quick successes doubles the concurrency window and the
// rate; refusals, timeouts and slow handshakes halve both and end slow
// start, after which growth is additive (AIMD). So scheduling costs nothing
// when the backup has room and protects it when it has not.
// DefaultScheduler is a process-wide one; package factory keeps one
// scheduler per broker set, shared by every connection of the process that
// reconnects to those brokers. Limits are in SchedulerConfig, documented
// field by field with defaults.
// TryAcquire is the non-blocking form for event-driven callers.
//
// Connections register their reconnects (Reconnecting) and wait out the
// spread after a storm signal through WaitSpread, which divides it by how many of
// the scheduler's connections are reconnecting together: a lone client
// waits its whole spread (it may be one of a fleet of processes it cannot
// see), while many connections of one process that lost their server at
// once are paced by the window instead of waiting twice.
//
// # Time and randomness
//
// Everything that waits takes a Clock and everything random a Rand, so tests
// (see package attemptstest) assert exact delay sequences without sleeping.
// Three calls block, each in a select on a timer (or the scheduler's queue)
// and ctx.Done(), never in time.Sleep: Wait, Scheduler.Acquire and
// Scheduler.WaitSpread.
package attempts
