package attempts_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/attempts/attemptstest"
)

// defaultPolicy is the project's default reconnect policy.
func defaultPolicy() attempts.Policy {
	return attempts.Policy{
		Params:     attempts.DefaultReconnect,
		Multiplier: attempts.DefaultMultiplier,
		MaxDelay:   attempts.DefaultMaxDelay,
		Jitter:     attempts.DefaultJitter,
		Spread:     attempts.DefaultSpread,
		Probe:      attempts.DefaultProbe,
	}
}

// TestEpisodeFirstPassGoesAtOnce: the first pass after a loss waits
// nothing and draws nothing, whatever the spread, and its connects are
// bounded by the probe.
func TestEpisodeFirstPassGoesAtOnce(t *testing.T) {
	r := attemptstest.NewRand(0.9)
	e := defaultPolicy().Episode(r)
	if w, ok := e.Next(); !ok || w != 0 || e.Spreading() || e.Attempt() != 1 {
		t.Fatalf("first pass: wait %v ok %v spreading %v attempt %d", w, ok, e.Spreading(), e.Attempt())
	}
	if r.Calls() != 0 {
		t.Fatalf("first pass drew %d random numbers", r.Calls())
	}
	if e.ConnectBound() != attempts.DefaultProbe || e.Storm() {
		t.Fatalf("bound %v storm %v", e.ConnectBound(), e.Storm())
	}
}

// TestEpisodeStormSignals: each storm signal makes the next wait the
// spread draw, and the waits after it the jittered back-off; the probe
// bound goes once a server showed load.
func TestEpisodeStormSignals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         attempts.Outcome
		took      time.Duration
		queued    bool
		keepProbe bool
	}{
		{"refused", attempts.Refused, ms, false, false},
		{"timed out", attempts.TimedOut, 5 * time.Second, false, false},
		{"SYN abandoned at the probe bound", attempts.Abandoned, 250 * ms, false, false},
		{"slow failure", attempts.Failed, 3 * time.Second, false, false},
		{"scheduler window full", attempts.Failed, ms, true, true},
		{"queued success", attempts.Success, ms, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := defaultPolicy().Episode(attemptstest.NewRand(0.5))
			e.Next()
			e.Report(tc.o, tc.took, tc.queued)
			if !e.Storm() {
				t.Fatal("no storm signal")
			}
			if b := e.ConnectBound(); (b != 0) != tc.keepProbe {
				t.Fatalf("connect bound %v after the signal", b)
			}
			var got []time.Duration
			var spreading []bool
			for {
				w, ok := e.Next()
				if !ok {
					break
				}
				got = append(got, w)
				spreading = append(spreading, e.Spreading())
			}
			// Count 4: pass 1 at once, then the spread (0.5 × 1s), then full
			// jitter of 500ms, then of 1s (×2, capped at 1s).
			want := []time.Duration{500 * ms, 250 * ms, 500 * ms}
			if !slices.Equal(got, want) || !slices.Equal(spreading, []bool{true, false, false}) {
				t.Fatalf("waits %v spreading %v, want %v [true false false]", got, spreading, want)
			}
		})
	}
}

// TestEpisodeCalmFailureBacksOffWithoutSpread: a pass that failed with no
// storm signal (quick, not refused, not timed out, not queued) waits the
// back-off, not the spread, and keeps probing.
func TestEpisodeCalmFailureBacksOffWithoutSpread(t *testing.T) {
	e := defaultPolicy().Episode(attemptstest.NewRand(0.5))
	e.Next()
	e.Report(attempts.Failed, 10*ms, false)
	if e.Storm() {
		t.Fatal("a quick failure is no storm signal")
	}
	w, _ := e.Next()
	if w != 250*ms || e.Spreading() || e.ConnectBound() != attempts.DefaultProbe {
		t.Fatalf("wait %v spreading %v bound %v; want full jitter of 500ms (250ms), no spread, probe kept", w, e.Spreading(), e.ConnectBound())
	}
	// A signal later still starts with the spread.
	e.Report(attempts.Refused, ms, false)
	if w, _ := e.Next(); w != 500*ms || !e.Spreading() {
		t.Fatalf("after a later signal: wait %v spreading %v, want the 500ms spread", w, e.Spreading())
	}
}

// TestEpisodeWithoutSpreadIsDelays: with Spread 0 and Probe 0 an Episode
// yields exactly Delays' waits, signals or not (EMS's "first pass at
// once, then Delay between passes").
func TestEpisodeWithoutSpreadIsDelays(t *testing.T) {
	policies := []attempts.Policy{
		{Params: attempts.DefaultReconnect},
		{Params: attempts.Params{Count: 6, Delay: 500 * ms}, Multiplier: 2, MaxDelay: 4 * time.Second, Jitter: attempts.JitterFull},
		{Params: attempts.Params{Count: 5, Delay: 10 * ms}, Multiplier: 2, MaxDelay: 30 * time.Second},
	}
	for _, p := range policies {
		for _, o := range []attempts.Outcome{attempts.Refused, attempts.Failed} {
			want := walk(p, 100, 0.3, 0.7)
			e := p.Episode(attemptstest.NewRand(0.3, 0.7))
			var got []time.Duration
			for {
				w, ok := e.Next()
				if !ok {
					break
				}
				got = append(got, w)
				e.Report(o, ms, false)
				if e.ConnectBound() != 0 {
					t.Fatalf("%+v: probe bound %v with Probe 0", p, e.ConnectBound())
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%+v after %v: episode %v, delays %v", p, o, got, want)
			}
		}
	}
}

// TestEpisodeCountAndBudget: Count bounds the passes, the first included;
// NextWithin stops at the budget and stays stopped.
func TestEpisodeCountAndBudget(t *testing.T) {
	p := defaultPolicy()
	p.Count = 2
	e := p.Episode(attemptstest.NewRand(0.5))
	e.Next()
	e.Report(attempts.Refused, ms, false)
	if _, ok := e.Next(); !ok {
		t.Fatal("second pass refused")
	}
	if _, ok := e.Next(); ok {
		t.Fatal("third pass of 2")
	}
	p = defaultPolicy()
	p.Count, p.Budget = attempts.Forever, 400*ms
	e = p.Episode(attemptstest.NewRand(0.5))
	if _, ok := e.NextWithin(0); !ok {
		t.Fatal("first pass refused by the budget")
	}
	e.Report(attempts.Refused, ms, false)
	if _, ok := e.NextWithin(10 * ms); ok { // the 500ms spread would end past 400ms
		t.Fatal("a wait past the budget handed out")
	}
	if _, ok := e.NextWithin(0); ok {
		t.Fatal("handed out after the budget ran out")
	}
	if e.Attempt() != 1 {
		t.Fatalf("attempt %d after the refused pass, want 1", e.Attempt())
	}
}

// TestTicketQueued: Acquire reports whether it had to queue.
func TestTicketQueued(t *testing.T) {
	s, _ := newSched(attempts.SchedulerConfig{InitialConcurrency: 1, MaxConcurrency: 1})
	first := mustTry(t, s)
	if first.Queued() {
		t.Fatal("admitted at once, yet queued")
	}
	done := make(chan *attempts.Ticket, 1)
	go func() {
		tk, err := s.Acquire(t.Context())
		if err != nil {
			t.Error(err)
		}
		done <- tk
	}()
	waitFor(t, func() bool { return s.Stats().Waiting == 1 })
	first.Done(attempts.Success)
	select {
	case tk := <-done:
		if !tk.Queued() {
			t.Fatal("waited for a slot, yet not queued")
		}
		tk.Done(attempts.Success)
	case <-time.After(10 * time.Second):
		t.Fatal("second acquire never admitted")
	}
	var nilTicket *attempts.Ticket
	if nilTicket.Queued() {
		t.Fatal("nil ticket queued")
	}
}

// TestAbandonedIsCountedApart: the scheduler counts Abandoned on its own
// and, a dropped SYN being congestion, decreases for it.
func TestAbandonedIsCountedApart(t *testing.T) {
	s, _ := newSched(attempts.SchedulerConfig{})
	mustTry(t, s).Done(attempts.Abandoned)
	st := s.Stats()
	if st.Abandoned != 1 || st.TimedOut != 0 || st.Decreases != 1 {
		t.Fatalf("stats %+v", st)
	}
	if attempts.Abandoned.String() != "abandoned" {
		t.Fatal(attempts.Abandoned.String())
	}
}

// TestEpisodeLateSignalNeverRestartsTheBackOff: a signal that comes after
// the calm back-off began (passes failing quickly, then refused) must not
// send the client back to the first back-off step: the waits after it keep
// growing from where they were (found as delays 0, 20ms, 40ms, 20ms, 40ms).
func TestEpisodeLateSignalNeverRestartsTheBackOff(t *testing.T) {
	for _, spread := range []time.Duration{0, 500 * ms} {
		p := attempts.Policy{Params: attempts.Params{Count: 8, Delay: 20 * ms}, Multiplier: 2, MaxDelay: time.Minute, Spread: spread}
		e := p.Episode(attemptstest.NewRand(0.5))
		var waits []time.Duration
		for pass := 1; pass <= 8; pass++ {
			w, ok := e.Next()
			if !ok {
				t.Fatalf("spread %v: episode ended after %d passes", spread, pass-1)
			}
			if e.Spreading() {
				e.Report(attempts.Refused, ms, false)
				continue // the one spread draw is not part of the back-off
			}
			waits = append(waits, w)
			if pass == 3 {
				e.Report(attempts.Refused, ms, false) // the late signal
			} else {
				e.Report(attempts.Failed, ms, false)
			}
		}
		for i := 2; i < len(waits); i++ {
			if waits[i] <= waits[i-1] {
				t.Fatalf("spread %v: waits %v: the back-off restarted after the signal", spread, waits)
			}
		}
	}
}
