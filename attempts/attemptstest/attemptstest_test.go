package attemptstest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts/attemptstest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestClockAdvanceFiresDueTimersOnly(t *testing.T) {
	c := attemptstest.NewClock(t0)
	early, late := c.NewTimer(time.Second), c.NewTimer(time.Minute)
	if c.Waiters() != 2 {
		t.Fatalf("Waiters = %d, want 2", c.Waiters())
	}
	c.Advance(time.Second)
	select {
	case at := <-early.C():
		if !at.Equal(t0.Add(time.Second)) {
			t.Fatalf("fired at %v", at)
		}
	default:
		t.Fatal("due timer did not fire")
	}
	select {
	case <-late.C():
		t.Fatal("timer fired early")
	default:
	}
	if c.Waiters() != 1 || late.Stop() != true || c.Waiters() != 0 {
		t.Fatal("pending count wrong after fire/stop")
	}
	if early.Stop() {
		t.Fatal("Stop on a fired timer reported true")
	}
}

func TestClockZeroTimerFiresAtOnce(t *testing.T) {
	c := attemptstest.NewClock(t0)
	tm := c.NewTimer(0)
	select {
	case <-tm.C():
	default:
		t.Fatal("zero timer did not fire at once")
	}
	if c.Waiters() != 0 {
		t.Fatal("zero timer counted as pending")
	}
}

func TestBlockUntil(t *testing.T) {
	c := attemptstest.NewClock(t0)
	go c.NewTimer(time.Hour)
	if !c.BlockUntil(1) {
		t.Fatal("BlockUntil(1) = false")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := c.BlockUntilContext(ctx, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BlockUntilContext for a timer never created = %v", err)
	}
}

func TestRand(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want []float64
	}{
		{"cycles", []float64{0.1, 0.2}, []float64{0.1, 0.2, 0.1}},
		{"empty is 0.5", nil, []float64{0.5, 0.5}},
		{"clamped", []float64{-1, 2}, []float64{0, 0.9999999999999999}},
	}
	for _, tc := range tests {
		r := attemptstest.NewRand(tc.in...)
		for i, w := range tc.want {
			if got := r.Float64(); got != w {
				t.Errorf("%s: draw %d = %v, want %v", tc.name, i, got, w)
			}
		}
		if r.Calls() != len(tc.want) {
			t.Errorf("%s: Calls = %d", tc.name, r.Calls())
		}
	}
}
