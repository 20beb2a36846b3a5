package attempts_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/attempts/attemptstest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestWaitFiresOnFakeClock(t *testing.T) {
	clk := attemptstest.NewClock(t0)
	done := make(chan error, 1)
	go func() { done <- attempts.Wait(context.Background(), clk, 500*ms) }()
	if !clk.BlockUntil(1) {
		t.Fatal("Wait never created its timer")
	}
	clk.Advance(499 * ms)
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v after 499ms of a 500ms wait", err)
	default:
	}
	clk.Advance(ms)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the clock passed 500ms")
	}
	if clk.Waiters() != 0 {
		t.Fatalf("%d timers left pending", clk.Waiters())
	}
}

func TestWaitHonoursContext(t *testing.T) {
	clk := attemptstest.NewClock(t0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- attempts.Wait(ctx, clk, time.Hour) }()
	if !clk.BlockUntil(1) {
		t.Fatal("Wait never created its timer")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait ignored cancellation")
	}
	if clk.Waiters() != 0 {
		t.Fatalf("cancelled Wait left %d timers pending", clk.Waiters())
	}
}

func TestWaitNonPositive(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"zero", context.Background(), 0, nil},
		{"negative", context.Background(), -time.Second, nil},
		{"zero, cancelled", cancelled, 0, context.Canceled},
		{"positive, cancelled", cancelled, time.Hour, context.Canceled},
	}
	for _, tc := range tests {
		clk := attemptstest.NewClock(t0)
		if err := attempts.Wait(tc.ctx, clk, tc.d); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: Wait = %v, want %v", tc.name, err, tc.want)
		}
		if clk.Waiters() != 0 {
			t.Errorf("%s: created a timer", tc.name)
		}
	}
}

func TestWaitSystemClock(t *testing.T) {
	if err := attempts.Wait(context.Background(), nil, time.Millisecond); err != nil {
		t.Fatalf("Wait on the system clock = %v", err)
	}
	if now := attempts.SystemClock.Now(); now.IsZero() {
		t.Fatal("SystemClock.Now() is zero")
	}
}

func TestFakeClockFiresInOrder(t *testing.T) {
	clk := attemptstest.NewClock(t0)
	a, b, c := clk.NewTimer(3*ms), clk.NewTimer(ms), clk.NewTimer(2*ms)
	if !c.Stop() || c.Stop() {
		t.Fatal("Stop should report true once, then false")
	}
	clk.Advance(5 * ms)
	for _, tc := range []struct {
		name string
		tm   attempts.Timer
		want time.Time
	}{{"b", b, t0.Add(ms)}, {"a", a, t0.Add(3 * ms)}} {
		select {
		case got := <-tc.tm.C():
			if !got.Equal(tc.want) {
				t.Errorf("timer %s fired at %v, want %v", tc.name, got, tc.want)
			}
		default:
			t.Errorf("timer %s did not fire", tc.name)
		}
	}
	select {
	case <-c.C():
		t.Error("stopped timer fired")
	default:
	}
	if !clk.Now().Equal(t0.Add(5 * ms)) {
		t.Errorf("Now = %v, want t0+5ms", clk.Now())
	}
}

// The EMS reconnect default walked on a fake clock: "4 attempts, 500 ms
// apart", asserted without sleeping.
func Example() {
	clk := attemptstest.NewClock(t0)
	d := attempts.Policy{Params: attempts.DefaultReconnect}.Delays(attempts.NewRand(1))
	start := clk.Now()
	for {
		w, ok := d.Next()
		if !ok {
			break
		}
		clk.Advance(w)
		fmt.Printf("attempt %d at +%v\n", d.Attempt(), clk.Now().Sub(start))
	}
	// Output:
	// attempt 1 at +0s
	// attempt 2 at +500ms
	// attempt 3 at +1s
	// attempt 4 at +1.5s
}

// A full-jitter exponential policy with a spread first attempt, on a
// scripted random source that always draws 0.5.
func ExamplePolicy_Delays() {
	p := attempts.Policy{
		Params:     attempts.Params{Count: 5, Delay: 500 * time.Millisecond},
		Multiplier: 2,
		MaxDelay:   4 * time.Second,
		Jitter:     attempts.JitterFull,
		Spread:     time.Second,
	}
	d := p.Delays(attemptstest.NewRand(0.5))
	for w, ok := d.Next(); ok; w, ok = d.Next() {
		fmt.Println(d.Attempt(), w)
	}
	// Output:
	// 1 500ms
	// 2 250ms
	// 3 500ms
	// 4 1s
	// 5 2s
}
