package attempts_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/attempts/attemptstest"
)

// A scheduler on a fake clock: a refusal halves the rate and the
// concurrency limit, quick successes raise them again (AIMD).
func ExampleScheduler() {
	clk := attemptstest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := attempts.NewScheduler(attempts.SchedulerConfig{InitialRate: 40, InitialConcurrency: 4, RateIncrease: 5, Burst: 10}, clk)
	show := func(what string) {
		st := s.Stats()
		fmt.Printf("%-16s rate %3.0f/s, limit %d\n", what, st.Rate, st.Limit)
	}
	show("start")

	t, _ := s.Acquire(context.Background())
	t.Done(attempts.Refused)
	show("after a refusal")

	for range 3 {
		t, _ := s.Acquire(context.Background()) // a token is free: no wait
		clk.Advance(100 * time.Millisecond)     // a quick handshake
		t.Done(attempts.Success)
	}
	show("3 fast successes")
	// Output:
	// start            rate  40/s, limit 4
	// after a refusal  rate  20/s, limit 2
	// 3 fast successes rate  35/s, limit 3
}
