package attempts_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/attempts/attemptstest"
)

func newSched(cfg attempts.SchedulerConfig) (*attempts.Scheduler, *attemptstest.Clock) {
	clk := attemptstest.NewClock(t0)
	return attempts.NewScheduler(cfg, clk), clk
}

func mustTry(t *testing.T, s *attempts.Scheduler) *attempts.Ticket {
	t.Helper()
	tk, wait := s.TryAcquire()
	if tk == nil {
		t.Fatalf("TryAcquire refused (wait %v), stats %+v", wait, s.Stats())
	}
	return tk
}

func TestSchedulerBurstCostsNothing(t *testing.T) {
	s, _ := newSched(attempts.SchedulerConfig{Burst: 3, InitialRate: 10, MinRate: 1, InitialConcurrency: 10})
	for range 3 {
		mustTry(t, s)
	}
	tk, wait := s.TryAcquire()
	if tk != nil || wait != 100*ms {
		t.Fatalf("4th TryAcquire = %v, %v; want nil, 100ms (one token at 10/s)", tk, wait)
	}
}

func TestSchedulerRateRefill(t *testing.T) {
	s, clk := newSched(attempts.SchedulerConfig{Burst: 1, InitialRate: 20, InitialConcurrency: 10})
	mustTry(t, s)
	if _, wait := s.TryAcquire(); wait != 50*ms {
		t.Fatalf("wait = %v, want 50ms", wait)
	}
	clk.Advance(49 * ms)
	if tk, _ := s.TryAcquire(); tk != nil {
		t.Fatal("admitted before the token was due")
	}
	clk.Advance(ms)
	mustTry(t, s)
	// Idle time refills at most Burst tokens.
	clk.Advance(time.Hour)
	mustTry(t, s)
	if tk, _ := s.TryAcquire(); tk != nil {
		t.Fatal("an idle hour banked more than Burst tokens")
	}
}

func TestSchedulerConcurrencyLimit(t *testing.T) {
	s, _ := newSched(attempts.SchedulerConfig{Burst: 10, InitialConcurrency: 2, MaxConcurrency: 2})
	a := mustTry(t, s)
	mustTry(t, s)
	if tk, wait := s.TryAcquire(); tk != nil || wait != 0 {
		t.Fatalf("3rd TryAcquire = %v, %v; want nil, 0 (blocked on concurrency)", tk, wait)
	}
	a.Done(attempts.Failed)
	mustTry(t, s)
	if st := s.Stats(); st.InFlight != 2 || st.Admitted != 3 || st.Failed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSchedulerAIMD(t *testing.T) {
	cfg := attempts.SchedulerConfig{MaxRate: 100, MinRate: 4, InitialRate: 40, InitialConcurrency: 4,
		MaxConcurrency: 5, Burst: 50, RateIncrease: 2, Decrease: 0.5, SlowHandshake: time.Second, NoSlowStart: true}
	tests := []struct {
		name      string
		took      time.Duration
		outcome   attempts.Outcome
		wantRate  float64
		wantLimit int
		wantDecr  uint64
	}{
		{"quick success increases additively", 10 * ms, attempts.Success, 42, 4, 0},
		{"refused halves", 10 * ms, attempts.Refused, 20, 2, 1},
		{"timed out halves", 5 * time.Second, attempts.TimedOut, 20, 2, 1},
		{"slow handshake halves", 1001 * ms, attempts.Success, 20, 2, 1},
		{"handshake at the threshold is quick", time.Second, attempts.Success, 42, 4, 0},
		{"failed is not congestion", 10 * ms, attempts.Failed, 40, 4, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, clk := newSched(cfg)
			tk := mustTry(t, s)
			clk.Advance(tc.took)
			tk.Done(tc.outcome)
			st := s.Stats()
			if st.Rate != tc.wantRate || st.Limit != tc.wantLimit || st.Decreases != tc.wantDecr || st.InFlight != 0 {
				t.Fatalf("stats %+v; want rate %v limit %d decreases %d", st, tc.wantRate, tc.wantLimit, tc.wantDecr)
			}
		})
	}
}

func TestSchedulerLimitGrowsOnePerRound(t *testing.T) {
	s, _ := newSched(attempts.SchedulerConfig{InitialConcurrency: 2, MaxConcurrency: 3, Burst: 100, MaxRate: 1000})
	// limit 2: two successes add 1/2 each -> 3, capped at MaxConcurrency 3.
	for range 5 {
		mustTry(t, s).Done(attempts.Success)
		if l := s.Stats().Limit; l > 3 {
			t.Fatalf("limit %d above MaxConcurrency 3", l)
		}
	}
	if l := s.Stats().Limit; l != 3 {
		t.Fatalf("limit = %d after 5 quick successes, want 3", l)
	}
}

func TestSchedulerOneDecreasePerRound(t *testing.T) {
	s, _ := newSched(attempts.SchedulerConfig{InitialRate: 80, MinRate: 1, InitialConcurrency: 8, MaxConcurrency: 8, Burst: 8})
	var round []*attempts.Ticket
	for range 6 {
		round = append(round, mustTry(t, s))
	}
	for _, tk := range round {
		tk.Done(attempts.Refused)
	}
	if st := s.Stats(); st.Decreases != 1 || st.Rate != 40 || st.Limit != 4 || st.Refused != 6 {
		t.Fatalf("one overloaded round: %+v; want a single halving to rate 40, limit 4", st)
	}
	// An attempt admitted after the decrease can cause the next one.
	mustTry(t, s).Done(attempts.TimedOut)
	if st := s.Stats(); st.Decreases != 2 || st.Rate != 20 || st.Limit != 2 {
		t.Fatalf("second round: %+v", st)
	}
}

func TestSchedulerFloors(t *testing.T) {
	s, clk := newSched(attempts.SchedulerConfig{InitialRate: 8, MinRate: 3, InitialConcurrency: 2, Burst: 1})
	for range 10 {
		var tk *attempts.Ticket
		for tk == nil {
			var wait time.Duration
			tk, wait = s.TryAcquire()
			clk.Advance(wait)
		}
		tk.Done(attempts.Refused)
	}
	if st := s.Stats(); st.Rate != 3 || st.Limit != 1 {
		t.Fatalf("after repeated refusals %+v; want rate at MinRate 3, limit 1", st)
	}
}

func TestSchedulerAcquireWaitsForToken(t *testing.T) {
	s, clk := newSched(attempts.SchedulerConfig{Burst: 1, InitialRate: 10, InitialConcurrency: 4})
	mustTry(t, s)
	got := make(chan error, 1)
	go func() {
		tk, err := s.Acquire(context.Background())
		if err == nil {
			tk.Done(attempts.Success)
		}
		got <- err
	}()
	if !clk.BlockUntil(1) {
		t.Fatal("Acquire did not wait on a timer")
	}
	if st := s.Stats(); st.Waiting != 1 {
		t.Fatalf("Waiting = %d, want 1", st.Waiting)
	}
	clk.Advance(100 * ms)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire not admitted after the token was due")
	}
}

func TestSchedulerAcquireWaitsForSlotInOrder(t *testing.T) {
	s, _ := newSched(attempts.SchedulerConfig{Burst: 10, InitialConcurrency: 1, MaxConcurrency: 1})
	first := mustTry(t, s)
	order := make(chan int, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, err := s.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			order <- i
			tk.Done(attempts.Failed)
		}()
		// Queue them one at a time so arrival order is known.
		waitFor(t, func() bool { return s.Stats().Waiting == i+1 })
	}
	first.Done(attempts.Failed)
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		if got != want {
			t.Fatalf("admitted %d, want %d (FIFO)", got, want)
		}
		want++
	}
	if want != 3 {
		t.Fatalf("admitted %d of 3", want)
	}
}

func TestSchedulerAcquireCancelled(t *testing.T) {
	s, clk := newSched(attempts.SchedulerConfig{Burst: 1, InitialRate: 2, MinRate: 1})
	mustTry(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := s.Acquire(ctx)
		got <- err
	}()
	if !clk.BlockUntil(1) {
		t.Fatal("Acquire did not wait")
	}
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire ignored cancellation")
	}
	if st := s.Stats(); st.Waiting != 0 || st.InFlight != 1 {
		t.Fatalf("after cancel %+v", st)
	}
	if _, err := s.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire on a done ctx = %v", err)
	}
}

func TestTicketDoneOnce(t *testing.T) {
	s, _ := newSched(attempts.SchedulerConfig{})
	tk := mustTry(t, s)
	tk.Done(attempts.Refused)
	tk.Done(attempts.Refused)
	tk.Done(attempts.Success)
	if st := s.Stats(); st.InFlight != 0 || st.Refused != 1 || st.Succeeded != 0 {
		t.Fatalf("Done counted more than once: %+v", st)
	}
	var nilTicket *attempts.Ticket
	nilTicket.Done(attempts.Success) // must not panic
}

func TestSchedulerConfigDefaults(t *testing.T) {
	def := attempts.DefaultSchedulerConfig()
	tests := []struct {
		name string
		in   attempts.SchedulerConfig
		want attempts.SchedulerConfig
	}{
		{"zero is the defaults", attempts.SchedulerConfig{}, def},
		{"negative is the default", attempts.SchedulerConfig{MaxConcurrency: -1, MaxRate: -5, Decrease: 2}, def},
		{"min rate clamped to max rate", attempts.SchedulerConfig{MaxRate: 1, MinRate: 5},
			func() attempts.SchedulerConfig {
				c := def
				c.MaxRate, c.MinRate, c.InitialRate = 1, 1, 1
				return c
			}()},
		{"initial concurrency clamped", attempts.SchedulerConfig{MaxConcurrency: 3},
			func() attempts.SchedulerConfig {
				c := def
				c.MaxConcurrency, c.InitialConcurrency = 3, 3
				return c
			}()},
	}
	for _, tc := range tests {
		if got := attempts.NewScheduler(tc.in, nil).Config(); got != tc.want {
			t.Errorf("%s: Config() = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	if attempts.DefaultScheduler() != attempts.DefaultScheduler() {
		t.Error("DefaultScheduler is not one process-wide instance")
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[attempts.Outcome]string{attempts.Success: "success", attempts.Refused: "refused",
		attempts.TimedOut: "timedout", attempts.Failed: "failed", 9: "outcome(9)"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), want)
		}
	}
}

// Many goroutines on the real clock: run under -race, the limits hold.
func TestSchedulerConcurrentUse(t *testing.T) {
	s := attempts.NewScheduler(attempts.SchedulerConfig{MaxRate: 1e6, InitialRate: 1e6, MinRate: 1e6, Burst: 1000,
		InitialConcurrency: 4, MaxConcurrency: 4}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	maxSeen := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				tk, err := s.Acquire(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				maxSeen = max(maxSeen, s.Stats().InFlight)
				mu.Unlock()
				tk.Done([]attempts.Outcome{attempts.Success, attempts.Failed}[(i+j)%2])
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Admitted != 800 || st.InFlight != 0 || st.Waiting != 0 || maxSeen > 4 {
		t.Fatalf("stats %+v, max in flight %d (limit 4)", st, maxSeen)
	}
}

// waitFor polls cond for up to 10s of real time.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSchedulerZeroAndNil(t *testing.T) {
	var zero attempts.Scheduler
	if got := zero.Config(); got != attempts.DefaultSchedulerConfig() {
		t.Errorf("zero Scheduler config %+v, want the defaults", got)
	}
	tk, err := zero.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tk.Done(attempts.Success)
	if st := zero.Stats(); st.Admitted != 1 || st.Succeeded != 1 {
		t.Errorf("zero Scheduler stats %+v", st)
	}

	var none *attempts.Scheduler
	for range 100 {
		tk, err := none.Acquire(context.Background())
		if err != nil || tk == nil {
			t.Fatalf("nil Scheduler Acquire = %v, %v", tk, err)
		}
		tk.Done(attempts.Refused)
		if tk, _ := none.TryAcquire(); tk == nil {
			t.Fatal("nil Scheduler TryAcquire refused")
		}
	}
	if none.Stats() != (attempts.SchedulerStats{}) || none.Config() != (attempts.SchedulerConfig{}) {
		t.Error("nil Scheduler reports limits")
	}
}

func TestSchedulerSlowStartDoublesPerRoundUntilCongestion(t *testing.T) {
	s, clk := newSched(attempts.SchedulerConfig{InitialRate: 100, MinRate: 1, MaxRate: 1e6,
		InitialConcurrency: 4, MaxConcurrency: 1000, Burst: 1000, RateIncrease: 1})
	round := func() {
		n := s.Stats().Limit
		var tks []*attempts.Ticket
		for range n {
			tks = append(tks, mustTry(t, s))
		}
		for _, tk := range tks {
			tk.Done(attempts.Success)
		}
	}
	// Four rounds of quick successes: limit 4 -> 8 -> 16 -> 32 -> 64 and the
	// rate doubles with it (each success adds rate/limit).
	for range 4 {
		round()
	}
	st := s.Stats()
	if st.Limit != 64 || st.Rate < 1000 {
		t.Fatalf("after 4 slow-start rounds: %+v; want limit 64 and the rate grown about 16x from 100", st)
	}
	// The first congestion halves both and ends slow start: growth is then
	// one slot per round.
	mustTry(t, s).Done(attempts.TimedOut)
	st = s.Stats()
	if st.Limit != 32 || st.Decreases != 1 {
		t.Fatalf("after congestion: %+v; want limit 32", st)
	}
	clk.Advance(time.Second) // refill the bucket the decrease emptied
	round()
	// Additive now: a round adds about one slot (1/limit per success), not 32.
	if l := s.Stats().Limit; l < 32 || l > 33 {
		t.Fatalf("after a congestion-avoidance round: limit %d, want 32 or 33", l)
	}
}

func TestSchedulerDefaultsAdmitAStormQuicklyWhenNothingFails(t *testing.T) {
	// 2 000 connections, each handshake taking 1 ms on the scheduler's clock,
	// none failing: the defaults must not be what makes them wait. Count the
	// virtual time Acquire-by-Acquire.
	s, clk := newSched(attempts.DefaultSchedulerConfig())
	const n = 2000
	admitted := 0
	var inFlight []*attempts.Ticket
	for admitted < n {
		tk, wait := s.TryAcquire()
		if tk != nil {
			admitted++
			inFlight = append(inFlight, tk)
			continue
		}
		step := time.Millisecond
		if wait > 0 && wait < step {
			step = wait
		}
		clk.Advance(step)
		for _, t := range inFlight {
			t.Done(attempts.Success)
		}
		inFlight = inFlight[:0]
	}
	elapsed := clk.Now().Sub(t0)
	// Unthrottled, 2 000 one-millisecond handshakes at concurrency 128 need
	// about 16 ms; the defaults may cost a small multiple of that, never
	// the seconds a fixed 200/s cap would.
	if elapsed > 150*ms {
		t.Fatalf("2000 quick successes took %v of virtual time; stats %+v", elapsed, s.Stats())
	}
	t.Logf("2000 admissions in %v virtual, final %+v", elapsed, s.Stats())
}

func TestWaitSpreadDividesByTheConnectionsReconnectingTogether(t *testing.T) {
	s, clk := newSched(attempts.SchedulerConfig{})
	ctx := context.Background()
	wait := func(d time.Duration) chan error {
		ch := make(chan error, 1)
		go func() { ch <- s.WaitSpread(ctx, clk, d) }()
		return ch
	}
	// Alone: the whole draw.
	end1 := s.Reconnecting()
	alone := wait(800 * ms)
	if !clk.BlockUntil(1) {
		t.Fatal("WaitSpread never set its timer")
	}
	clk.Advance(799 * ms)
	select {
	case <-alone:
		t.Fatal("a lone reconnect did not wait its whole spread")
	default:
	}
	clk.Advance(ms)
	if err := <-alone; err != nil {
		t.Fatal(err)
	}
	end1()

	// Four connections lost together: a quarter each; a waiter that started
	// alone is shortened as the others register.
	ends := []func(){s.Reconnecting()}
	first := wait(800 * ms)
	if !clk.BlockUntil(1) {
		t.Fatal("WaitSpread never set its timer")
	}
	for range 3 {
		ends = append(ends, s.Reconnecting())
	}
	// 4 registered: the first waiter's target is now 200 ms.
	if !clk.BlockUntil(1) {
		t.Fatal("WaitSpread did not re-arm after the count changed")
	}
	clk.Advance(200 * ms)
	select {
	case err := <-first:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("with 4 reconnecting, an 800 ms spread still waits past 200 ms")
	}
	for _, e := range ends {
		e()
		e() // idempotent
	}
	var nilSched *attempts.Scheduler
	if err := nilSched.WaitSpread(ctx, clk, 0); err != nil {
		t.Fatal(err)
	}
}
