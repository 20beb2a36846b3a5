package factory

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts/attemptstest"
	"github.com/stompft/stompft/internal/embedded"
)

// quickConnect keeps the first connection quick; every reconnect key is
// left at its default.
var quickConnect = []string{"connect_attempt_count = 1", "connect_attempt_timeout = 2000"}

// reconnecting returns the EventReconnecting events recorded so far.
func (r *recorder) reconnecting() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if e.Kind == EventReconnecting {
			out = append(out, e)
		}
	}
	return out
}

// TestFirstReconnectPassGoesAtOnce: with the default reconnect keys, the
// first pass after a loss goes to the next URL at once (no spread drawn),
// and the backup being up, it is the only pass.
func TestFirstReconnectPassGoesAtOnce(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{})
	b := broker(t, embedded.Options{})
	rec := newRecorder()
	// A draw of 0.99 would make a spread first attempt wait 990 ms.
	f := load(t, conf(urls(a, b), quickConnect...), WithRand(attemptstest.NewRand(0.99)))
	c := connect(t, f, rec.option())
	a.Kill()
	ev, _ := rec.wait(t, EventReconnected, 0)
	if ev.URL != b.URL() {
		t.Fatalf("reconnected to %s, want %s", ev.URL, b.URL())
	}
	rs := rec.reconnecting()
	if len(rs) != 1 || rs[0].Attempt != 1 || rs[0].Drawn != 0 {
		t.Fatalf("reconnecting events %+v, want one: attempt 1, nothing drawn", rs)
	}
	if rs[0].Delay >= 990*time.Millisecond {
		t.Fatalf("attempt 1 waited %v", rs[0].Delay)
	}
	if c.CurrentURL() != b.URL() {
		t.Fatalf("on %q", c.CurrentURL())
	}
}

// TestStormSignalMovesTheClientOntoTheSpread: refusals in the first pass
// are a storm signal, so the wait before pass 2 is the spread draw
// (uniform [0, 1 s): 500 ms for a draw of 0.5), not the calm back-off
// (uniform [0, 500 ms): 250 ms). When the passes run out, the final error
// names the key that would have kept the connection trying.
func TestStormSignalMovesTheClientOntoTheSpread(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{})
	dead := broker(t, embedded.Options{})
	dead.Kill()
	rec := newRecorder()
	var mu sync.Mutex
	var listened []error
	f := load(t, conf(urls(a, dead), append(quickConnect, "reconnect_attempt_count = 2")...),
		WithRand(attemptstest.NewRand(0.5)))
	c := connect(t, f, rec.option(), WithExceptionListener(func(err error) { mu.Lock(); listened = append(listened, err); mu.Unlock() }))
	a.Kill()
	failed, _ := rec.wait(t, EventFailed, 0)
	rec.wait(t, EventClosed, 0)
	rs := rec.reconnecting()
	if len(rs) != 2 || rs[0].Drawn != 0 || rs[1].Attempt != 2 || rs[1].Drawn != 500*time.Millisecond {
		t.Fatalf("reconnecting events %+v, want attempt 1 at once, attempt 2 after a 500ms spread", rs)
	}
	if rs[1].Delay < rs[1].Drawn {
		t.Fatalf("attempt 2 reported a wait of %v, shorter than the %v it waited", rs[1].Delay, rs[1].Drawn)
	}
	var ce *ConnectError
	if !errors.As(failed.Err, &ce) || ce.Count != 2 || ce.Passes != 2 {
		t.Fatalf("final error %v", failed.Err)
	}
	const hint = "reconnect_attempt_count = 2; set reconnect_attempt_count = -1 to reconnect until a broker is back"
	if !strings.Contains(failed.Err.Error(), hint) {
		t.Fatalf("final error does not say how to come back: %v", failed.Err)
	}
	_ = c
	mu.Lock()
	defer mu.Unlock()
	if len(listened) != 2 || !strings.Contains(listened[1].Error(), "reconnect_attempt_count = -1") {
		t.Fatalf("exception listener got %v", listened)
	}
}

// TestEventDelayIsTheWaitThatHappened: two connections of one factory
// lose their server together; each draws a 500 ms spread after the storm
// signal, which the factory's scheduler halves (two connections reconnect
// together). EventReconnecting reports the wait that happened as Delay
// (250 ms for the first; plus any queueing for a scheduler token) and the
// 500 ms drawn as Drawn, measured on an injected clock.
func TestEventDelayIsTheWaitThatHappened(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{})
	dead := broker(t, embedded.Options{})
	dead.Kill()
	clock := attemptstest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := load(t, conf(urls(a, dead), append(quickConnect, "reconnect_attempt_count = 2")...),
		WithRand(attemptstest.NewRand(0.5)), WithClock(clock))
	recs := []*recorder{newRecorder(), newRecorder()}
	for _, r := range recs {
		connect(t, f, r.option())
	}
	a.Kill()
	if !clock.BlockUntil(2) {
		t.Fatal("the connections never waited for their spread")
	}
	clock.Advance(250 * time.Millisecond)
	// The refusals halved the scheduler's rate, so the second connection
	// may also queue for a token: a millisecond at a time of injected time
	// until both have given up.
	failed := func(r *recorder) bool {
		for _, k := range r.kinds() {
			if k == EventFailed {
				return true
			}
		}
		return false
	}
	eventually(t, "both connections to give up", func() bool {
		if failed(recs[0]) && failed(recs[1]) {
			return true
		}
		if clock.Waiters() > 0 {
			clock.Advance(time.Millisecond)
		}
		return false
	})
	shortest := time.Duration(1<<63 - 1)
	for i, r := range recs {
		r.wait(t, EventFailed, 0)
		rs := r.reconnecting()
		if len(rs) != 2 || rs[1].Drawn != 500*time.Millisecond || rs[1].Delay < 250*time.Millisecond {
			t.Fatalf("connection %d: reconnecting events %+v, want attempt 2 drawn 500ms, waited at least 250ms", i, rs)
		}
		t.Logf("connection %d: attempt 2 drawn %v, waited %v", i, rs[1].Drawn, rs[1].Delay)
		shortest = min(shortest, rs[1].Delay)
	}
	// The first to wait shared its spread with the other (halved); the
	// second may find itself alone by then and wait all of it.
	if shortest >= 500*time.Millisecond {
		t.Fatalf("no connection reported the halved wait: shortest %v", shortest)
	}
}
