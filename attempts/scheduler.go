package attempts

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"
)

// SchedulerConfig bounds a Scheduler. A zero (or negative, or NaN) field
// takes its default from DefaultSchedulerConfig.
type SchedulerConfig struct {
	// MaxConcurrency is the most attempts in flight at once. Defaults to
	// 128, the classic listen backlog: one process alone never overflows a
	// server's accept queue.
	MaxConcurrency int
	// MaxRate is the most attempts admitted per second. Defaults to 50 000:
	// a guard against runaway loops, not the working limit (the concurrency
	// window, found by slow start, is).
	MaxRate float64
	// MinRate is the floor of the adaptive rate, in attempts per second, so
	// a long outage still probes. Defaults to 20 (one attempt per 50 ms):
	// a single connection waiting for a restarting broker is not slowed
	// down by the refusals it meets meanwhile. Clamped to MaxRate.
	MinRate float64
	// InitialRate is the rate a new scheduler starts at. Defaults to 2 000.
	// Clamped to [MinRate, MaxRate].
	InitialRate float64
	// InitialConcurrency is the concurrency limit a new scheduler starts
	// at. Defaults to 32. Clamped to [1, MaxConcurrency].
	InitialConcurrency int
	// Burst is how many attempts may start back to back when the scheduler
	// has been idle: the first reconnects pay no rate delay at all.
	// Defaults to 32.
	Burst int
	// RateIncrease is added to the rate, in attempts per second, for every
	// quick success after the first congestion (the additive increase).
	// Defaults to 5.
	RateIncrease float64
	// NoSlowStart disables slow start. By default, until the first
	// congestion signal, every quick success adds one slot to the limit and
	// rate/limit to the rate, so both double every round of attempts (TCP's
	// slow start): a backup with room is not kept waiting. After the first
	// decrease, growth is additive. With NoSlowStart growth is additive from
	// the start (classic AIMD).
	NoSlowStart bool
	// Decrease multiplies the rate and the concurrency limit on congestion
	// (the multiplicative decrease), at most once per round of attempts.
	// Defaults to 0.5; must be in (0, 1).
	Decrease float64
	// SlowHandshake is the handshake duration (Acquire's return to Done)
	// above which a success counts as congestion. Defaults to 2s: one
	// dropped SYN (Linux resends it after 1 s) is noise, a handshake that
	// needed the second resend (at 3 s) met an overflowing accept queue.
	SlowHandshake time.Duration
}

// DefaultSchedulerConfig returns the default limits, documented on each
// SchedulerConfig field.
func DefaultSchedulerConfig() SchedulerConfig {
	return SchedulerConfig{
		MaxConcurrency:     128,
		MaxRate:            50000,
		MinRate:            20,
		InitialRate:        2000,
		InitialConcurrency: 32,
		Burst:              32,
		RateIncrease:       5,
		Decrease:           0.5,
		SlowHandshake:      2 * time.Second,
	}
}

// normalized fills defaults and clamps the fields into a consistent range.
func (c SchedulerConfig) normalized() SchedulerConfig {
	d := DefaultSchedulerConfig()
	pos := func(v, def float64) float64 {
		if !(v > 0) || math.IsInf(v, 0) {
			return def
		}
		return v
	}
	if c.MaxConcurrency <= 0 {
		c.MaxConcurrency = d.MaxConcurrency
	}
	c.MaxRate = pos(c.MaxRate, d.MaxRate)
	c.MinRate = min(pos(c.MinRate, d.MinRate), c.MaxRate)
	c.InitialRate = min(max(pos(c.InitialRate, d.InitialRate), c.MinRate), c.MaxRate)
	if c.InitialConcurrency <= 0 {
		c.InitialConcurrency = d.InitialConcurrency
	}
	c.InitialConcurrency = min(c.InitialConcurrency, c.MaxConcurrency)
	if c.Burst <= 0 {
		c.Burst = d.Burst
	}
	c.RateIncrease = pos(c.RateIncrease, d.RateIncrease)
	if !(c.Decrease > 0 && c.Decrease < 1) {
		c.Decrease = d.Decrease
	}
	if c.SlowHandshake <= 0 {
		c.SlowHandshake = d.SlowHandshake
	}
	return c
}

// Outcome is how an admitted attempt ended.
type Outcome int

// Outcomes reported to Ticket.Done.
const (
	Success  Outcome = iota // handshake completed
	Refused                 // connection refused or reset: the server is full
	TimedOut                // the attempt died on its timeout
	Failed                  // anything else, e.g. permanent/ERROR: not congestion
	// Abandoned: the TCP connect was given up at the Episode's probe bound
	// (Policy.Probe), its SYN unanswered: it cost the server nothing, and
	// is counted apart from TimedOut, but it is congestion all the same (a
	// full accept queue drops SYNs).
	Abandoned
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Refused:
		return "refused"
	case TimedOut:
		return "timedout"
	case Failed:
		return "failed"
	case Abandoned:
		return "abandoned"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Scheduler admits reconnect attempts at a bounded, adaptive rate and
// concurrency. It is shared by all connections of a factory (and by the
// process through DefaultScheduler) and is safe for concurrent use.
//
// Admission needs a token from a bucket refilled at the current rate
// (holding at most Burst) and a free slot under the current concurrency
// limit. The rate and the limit adapt like TCP congestion control: in slow
// start (until the first congestion signal) every quick success adds one
// slot and rate/limit, doubling both per round; afterwards every quick
// success adds RateIncrease to the rate and 1/limit to the limit (one slot
// per round); a refusal, a timeout (Abandoned included) or a handshake
// slower than SlowHandshake
// multiplies both by Decrease and ends slow start. Only attempts admitted
// after the last decrease can cause the next one, so a burst of failures
// from one overloaded round halves once, not once per failure. Failed
// outcomes (bad credentials, protocol errors) say nothing about load and
// leave the limits alone.
//
// Create one with NewScheduler. The zero value works as one with the
// default limits on SystemClock, and a nil *Scheduler admits everything at
// once (no limits).
type Scheduler struct {
	init  sync.Once
	cfg   SchedulerConfig
	clock Clock

	mu       sync.Mutex
	rate     float64 // attempts per second
	limit    float64 // concurrency limit; floor(limit) slots
	tokens   float64
	last     time.Time // last token refill
	inFlight int
	epoch    uint64 // incremented by every decrease
	queue    []*waiter
	slow     bool // slow start: no congestion seen yet
	stats    SchedulerStats

	reconnecting  int           // connections registered by Reconnecting
	spreadChanged chan struct{} // closed when reconnecting reaches a power of two
}

// waiter is a place in Acquire's queue. Only the head of the queue can be
// admitted, so only the head is woken (a hand-off, not a broadcast that
// would wake hundreds of waiters for nothing).
type waiter struct{ wake chan struct{} }

// SchedulerStats is a snapshot of a Scheduler.
type SchedulerStats struct {
	Rate      float64 // current admission rate, attempts per second
	Limit     int     // current concurrency limit
	InFlight  int     // attempts admitted and not yet Done
	Waiting   int     // callers blocked in Acquire
	Admitted  uint64  // tickets handed out
	Succeeded uint64
	Refused   uint64
	TimedOut  uint64
	Failed    uint64
	Abandoned uint64 // connects given up at the probe bound
	Slow      uint64 // successes slower than SlowHandshake
	Decreases uint64 // multiplicative decreases applied
}

// NewScheduler returns a scheduler with cfg's limits (defaults filled in)
// on clock (nil means SystemClock).
func NewScheduler(cfg SchedulerConfig, clock Clock) *Scheduler {
	if clock == nil {
		clock = SystemClock
	}
	s := &Scheduler{}
	s.setup(cfg, clock)
	return s
}

// setup initialises s once; a zero Scheduler gets the defaults lazily.
func (s *Scheduler) setup(cfg SchedulerConfig, clock Clock) {
	s.init.Do(func() {
		cfg = cfg.normalized()
		s.cfg, s.clock = cfg, clock
		s.rate = cfg.InitialRate
		s.limit = float64(cfg.InitialConcurrency)
		s.tokens = float64(cfg.Burst)
		s.last = clock.Now()
		s.slow = !cfg.NoSlowStart
		s.spreadChanged = make(chan struct{})
	})
}

// ready makes a zero Scheduler usable and reports whether s limits
// anything (false for a nil *Scheduler).
func (s *Scheduler) ready() bool {
	if s == nil {
		return false
	}
	s.setup(SchedulerConfig{}, SystemClock)
	return true
}

var (
	defaultSchedOnce sync.Once
	defaultSched     *Scheduler
)

// DefaultScheduler returns the process-wide scheduler, created on first use
// with DefaultSchedulerConfig and SystemClock.
func DefaultScheduler() *Scheduler {
	defaultSchedOnce.Do(func() {
		defaultSched = NewScheduler(DefaultSchedulerConfig(), SystemClock)
	})
	return defaultSched
}

// Config returns the scheduler's effective limits (defaults filled in); a
// nil *Scheduler has none and returns the zero SchedulerConfig.
func (s *Scheduler) Config() SchedulerConfig {
	if !s.ready() {
		return SchedulerConfig{}
	}
	return s.cfg
}

// Ticket is one admitted attempt. Done must be called exactly once; later
// calls are ignored.
type Ticket struct {
	s      *Scheduler
	start  time.Time
	epoch  uint64
	once   sync.Once
	queued bool
}

// Queued reports whether Acquire could not admit the attempt at once: the
// window or the rate was already taken, so many connections of this
// process are reconnecting together. Episode.Report takes it as a storm
// signal.
func (t *Ticket) Queued() bool { return t != nil && t.queued }

// Acquire blocks until an attempt may start, or ctx is done (then it
// returns ctx.Err()). Callers are admitted in arrival order. Done must be
// called exactly once on the returned ticket.
func (s *Scheduler) Acquire(ctx context.Context) (*Ticket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.ready() {
		return &Ticket{}, nil
	}
	w := &waiter{wake: make(chan struct{}, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, w)
	queued := false
	for {
		now := s.clock.Now()
		var wait time.Duration
		if s.queue[0] == w {
			var t *Ticket
			t, wait = s.tryLocked(now)
			if t != nil {
				t.queued = queued
				s.queue = s.queue[1:]
				s.wakeHeadLocked() // the next in line may be admissible too
				s.mu.Unlock()
				return t, nil
			}
		}
		queued = true
		ch := w.wake
		s.mu.Unlock()

		var timer Timer
		var fire <-chan time.Time
		if wait > 0 {
			timer = s.clock.NewTimer(wait)
			fire = timer.C()
		}
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-fire:
		case <-ch:
		}
		if timer != nil {
			timer.Stop()
		}
		s.mu.Lock()
		if err != nil {
			s.removeLocked(w)
			s.wakeHeadLocked()
			s.mu.Unlock()
			return nil, err
		}
	}
}

// TryAcquire admits an attempt now if the limits allow and nobody is
// queued in Acquire. Otherwise it returns nil and how long until a token is
// due; 0 then means the concurrency limit (or the queue) is what blocks, so
// retry after the next Done. It never blocks; event-driven callers (the
// storm simulation) use it instead of Acquire.
func (s *Scheduler) TryAcquire() (*Ticket, time.Duration) {
	if !s.ready() {
		return &Ticket{}, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		return nil, 0
	}
	return s.tryLocked(s.clock.Now())
}

// tryLocked refills the bucket and admits if a token and a slot are free.
func (s *Scheduler) tryLocked(now time.Time) (*Ticket, time.Duration) {
	if el := now.Sub(s.last); el > 0 {
		s.tokens = min(float64(s.cfg.Burst), s.tokens+el.Seconds()*s.rate)
		s.last = now
	}
	if s.inFlight >= s.slotsLocked() {
		return nil, 0
	}
	if s.tokens < 1 {
		wait := time.Duration(math.Ceil((1 - s.tokens) / s.rate * float64(time.Second)))
		return nil, max(wait, 1)
	}
	s.tokens--
	s.inFlight++
	s.stats.Admitted++
	return &Ticket{s: s, start: now, epoch: s.epoch}, 0
}

func (s *Scheduler) slotsLocked() int { return max(1, int(s.limit)) }

func (s *Scheduler) removeLocked(w *waiter) {
	for i, q := range s.queue {
		if q == w {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			return
		}
	}
}

// wakeHeadLocked tells the head of the queue to try again.
func (s *Scheduler) wakeHeadLocked() {
	if len(s.queue) == 0 {
		return
	}
	select {
	case s.queue[0].wake <- struct{}{}:
	default: // already has a pending wake-up
	}
}

// Done reports the attempt's outcome; the handshake duration is measured on
// the scheduler's clock from Acquire's return to Done. Only the first call
// counts.
func (t *Ticket) Done(o Outcome) {
	if t == nil || t.s == nil {
		return
	}
	t.once.Do(func() { t.s.done(t, o) })
}

func (s *Scheduler) done(t *Ticket, o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	took := s.clock.Now().Sub(t.start)
	congested := false
	switch o {
	case Success:
		s.stats.Succeeded++
		if took > s.cfg.SlowHandshake {
			s.stats.Slow++
			congested = true
		} else if s.slow {
			s.rate = min(s.cfg.MaxRate, s.rate+s.rate/s.limit)
			s.limit = min(float64(s.cfg.MaxConcurrency), s.limit+1)
		} else {
			s.rate = min(s.cfg.MaxRate, s.rate+s.cfg.RateIncrease)
			s.limit = min(float64(s.cfg.MaxConcurrency), s.limit+1/s.limit)
		}
	case Refused:
		s.stats.Refused++
		congested = true
	case TimedOut:
		s.stats.TimedOut++
		congested = true
	case Abandoned:
		s.stats.Abandoned++
		congested = true
	default:
		s.stats.Failed++
	}
	if congested && t.epoch == s.epoch {
		s.slow = false
		s.epoch++
		s.stats.Decreases++
		s.rate = max(s.cfg.MinRate, s.rate*s.cfg.Decrease)
		s.limit = max(1, s.limit*s.cfg.Decrease)
		s.tokens = min(s.tokens, 1)
	}
	s.wakeHeadLocked()
}

// Stats returns a snapshot of the current rate, concurrency limit, in-flight
// and waiting attempts, and the outcome counts.
func (s *Scheduler) Stats() SchedulerStats {
	if !s.ready() {
		return SchedulerStats{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Rate = s.rate
	st.Limit = s.slotsLocked()
	st.InFlight = s.inFlight
	st.Waiting = len(s.queue)
	return st
}

// Reconnecting registers one connection's reconnect with s until the
// returned function is called (once; later calls do nothing). WaitSpread
// divides first-attempt spreads by how many are registered.
func (s *Scheduler) Reconnecting() (end func()) {
	if !s.ready() {
		return func() {}
	}
	s.mu.Lock()
	s.reconnecting++
	s.spreadChangedLocked()
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.reconnecting--
			s.mu.Unlock()
		})
	}
}

// WaitSpread waits out a first-attempt spread d (a draw from
// Policy.Spread), divided by the number of this scheduler's connections
// reconnecting now, rounded down to a power of two and re-evaluated as it
// grows. The spread protects a backup from a fleet of processes that lost
// it at the same instant, which no process can see; but when many
// connections of this process lost their server together, the scheduler's
// window already paces them, and making each also wait its spread would
// only cost time. A lone reconnect waits all of d. A nil scheduler waits d.
func (s *Scheduler) WaitSpread(ctx context.Context, clock Clock, d time.Duration) error {
	if !s.ready() {
		return Wait(ctx, clock, d)
	}
	start := clock.Now()
	for {
		s.mu.Lock()
		n := max(1, s.reconnecting)
		changed := s.spreadChanged
		s.mu.Unlock()
		p := 1
		for p*2 <= n {
			p *= 2
		}
		left := d/time.Duration(p) - clock.Now().Sub(start)
		if left <= 0 {
			return ctx.Err()
		}
		t := clock.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
			return nil
		case <-changed:
			t.Stop()
		}
	}
}

// spreadChangedLocked wakes WaitSpread callers when the reconnect count
// reaches a power of two (only then does their divisor change).
func (s *Scheduler) spreadChangedLocked() {
	if s.reconnecting&(s.reconnecting-1) != 0 {
		return
	}
	if s.spreadChanged != nil {
		close(s.spreadChanged)
	}
	s.spreadChanged = make(chan struct{})
}
