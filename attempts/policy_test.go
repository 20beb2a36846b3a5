package attempts_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/attempts/attemptstest"
)

const ms = time.Millisecond

// walk drains up to limit waits from p's Delays with the scripted values.
func walk(p attempts.Policy, limit int, vs ...float64) []time.Duration {
	d := p.Delays(attemptstest.NewRand(vs...))
	var out []time.Duration
	for len(out) < limit {
		w, ok := d.Next()
		if !ok {
			break
		}
		out = append(out, w)
	}
	return out
}

func TestDelaysExactSequences(t *testing.T) {
	base := attempts.Policy{Params: attempts.Params{Count: 6, Delay: 500 * ms}, Multiplier: 2, MaxDelay: 4 * time.Second}
	with := func(j attempts.Jitter, spread time.Duration) attempts.Policy {
		p := base
		p.Jitter, p.Spread = j, spread
		return p
	}
	tests := []struct {
		name string
		p    attempts.Policy
		rand []float64
		want []time.Duration
	}{
		{"EMS reconnect default: 4 attempts, 500 ms apart",
			attempts.Policy{Params: attempts.DefaultReconnect}, nil,
			[]time.Duration{0, 500 * ms, 500 * ms, 500 * ms}},
		{"EMS connect default: 2 attempts, 500 ms apart",
			attempts.Policy{Params: attempts.DefaultConnect}, nil,
			[]time.Duration{0, 500 * ms}},
		{"multiplier 1 is EMS whatever the cap",
			attempts.Policy{Params: attempts.Params{Count: 3, Delay: 250 * ms}, Multiplier: 1, MaxDelay: time.Second}, nil,
			[]time.Duration{0, 250 * ms, 250 * ms}},
		{"none: doubling, capped at 4s", with(attempts.JitterNone, 0), []float64{0.5},
			[]time.Duration{0, 500 * ms, 1000 * ms, 2000 * ms, 4000 * ms, 4000 * ms}},
		{"full: uniform 0..d", with(attempts.JitterFull, 0), []float64{0.5},
			[]time.Duration{0, 250 * ms, 500 * ms, 1000 * ms, 2000 * ms, 2000 * ms}},
		{"full with other draws", with(attempts.JitterFull, 0), []float64{0, 0.25, 0.75, 0.1, 0.9},
			[]time.Duration{0, 0, 250 * ms, 1500 * ms, 400 * ms, 3600 * ms}},
		{"equal: d/2 + uniform 0..d/2", with(attempts.JitterEqual, 0), []float64{0.5},
			[]time.Duration{0, 375 * ms, 750 * ms, 1500 * ms, 3000 * ms, 3000 * ms}},
		{"equal, draw 0 gives d/2", with(attempts.JitterEqual, 0), []float64{0},
			[]time.Duration{0, 250 * ms, 500 * ms, 1000 * ms, 2000 * ms, 2000 * ms}},
		{"decorrelated: min(cap, uniform(base, 3*prev))", with(attempts.JitterDecorrelated, 0), []float64{0.5},
			[]time.Duration{0, 1000 * ms, 1750 * ms, 2875 * ms, 4000 * ms, 4000 * ms}},
		{"decorrelated, draw 0 stays at base", with(attempts.JitterDecorrelated, 0), []float64{0},
			[]time.Duration{0, 500 * ms, 500 * ms, 500 * ms, 500 * ms, 500 * ms}},
		{"spread: first attempt uniform over the window", with(attempts.JitterNone, time.Second), []float64{0.25},
			[]time.Duration{250 * ms, 500 * ms, 1000 * ms, 2000 * ms, 4000 * ms, 4000 * ms}},
		{"spread then full jitter draw in order", with(attempts.JitterFull, time.Second), []float64{0.5, 0.1},
			[]time.Duration{500 * ms, 50 * ms, 500 * ms, 200 * ms, 2000 * ms, 400 * ms}},
		{"ActiveMQ exponential defaults: 10ms x2 capped at 30s",
			attempts.Policy{Params: attempts.Params{Count: attempts.Forever, Delay: 10 * ms}, Multiplier: 2, MaxDelay: 30 * time.Second}, nil,
			[]time.Duration{0, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, 1280 * ms, 2560 * ms, 5120 * ms, 10240 * ms, 20480 * ms, 30 * time.Second, 30 * time.Second}},
		{"Artemis retryIntervalMultiplier 1.5",
			attempts.Policy{Params: attempts.Params{Count: 4, Delay: 2 * time.Second}, Multiplier: 1.5}, nil,
			[]time.Duration{0, 2 * time.Second, 3 * time.Second, 4500 * ms}},
		{"nats.go: 2s plus up to 100ms",
			attempts.Policy{Params: attempts.Params{Count: 3, Delay: 2 * time.Second}, AddJitter: 100 * ms}, []float64{0.5, 0.1},
			[]time.Duration{0, 2050 * ms, 2010 * ms}},
		{"added jitter after full jitter", with(attempts.JitterFull, 0), []float64{0.5, 0.1},
			nil},
		{"forever never stops", attempts.Policy{Params: attempts.Params{Count: attempts.Forever, Delay: ms}}, nil,
			slices.Repeat([]time.Duration{ms}, 50)[:50]},
	}
	// The forever case starts with 0, not 1ms.
	tests[len(tests)-1].want[0] = 0
	tests[len(tests)-2].p.AddJitter = 100 * ms
	tests[len(tests)-2].want = []time.Duration{0, 250*ms + 10*ms, 500*ms + 10*ms, 1000*ms + 10*ms, 2000*ms + 10*ms, 2000*ms + 10*ms} // draws alternate: 0.5 for full, 0.1 for added
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := walk(tc.p, len(tc.want)+1, tc.rand...)
			if tc.p.Count == attempts.Forever {
				got = got[:min(len(got), len(tc.want))]
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("waits = %v\nwant    %v", got, tc.want)
			}
		})
	}
}

func TestDelaysAttemptAndExhaustion(t *testing.T) {
	d := attempts.Policy{Params: attempts.DefaultReconnect}.Delays(nil)
	for i := 1; i <= 4; i++ {
		if _, ok := d.Next(); !ok {
			t.Fatalf("Next %d = false, want true", i)
		}
		if d.Attempt() != i {
			t.Fatalf("Attempt() = %d, want %d", d.Attempt(), i)
		}
	}
	for range 3 {
		if w, ok := d.Next(); ok || w != 0 {
			t.Fatalf("Next after 4 attempts = %v, %v; want 0, false", w, ok)
		}
	}
	if d.Attempt() != 4 {
		t.Fatalf("Attempt() after exhaustion = %d, want 4", d.Attempt())
	}
}

func TestDelaysNoRandWithoutJitter(t *testing.T) {
	r := attemptstest.NewRand(0.3)
	d := attempts.Policy{Params: attempts.DefaultReconnect, Multiplier: 2}.Delays(r)
	for {
		if _, ok := d.Next(); !ok {
			break
		}
	}
	if r.Calls() != 0 {
		t.Fatalf("un-jittered policy drew %d random values, want 0", r.Calls())
	}
}

func TestDelaysClampsBadInput(t *testing.T) {
	tests := []struct {
		name string
		p    attempts.Policy
		want []time.Duration
	}{
		{"zero policy: one immediate attempt", attempts.Policy{}, []time.Duration{0}},
		{"count -5 is one attempt", attempts.Policy{Params: attempts.Params{Count: -5, Delay: ms}}, []time.Duration{0}},
		{"negative delay is 0", attempts.Policy{Params: attempts.Params{Count: 2, Delay: -ms}}, []time.Duration{0, 0}},
		{"multiplier below 1 is 1", attempts.Policy{Params: attempts.Params{Count: 3, Delay: ms}, Multiplier: 0.5}, []time.Duration{0, ms, ms}},
		{"NaN multiplier is 1", attempts.Policy{Params: attempts.Params{Count: 3, Delay: ms}, Multiplier: math.NaN()}, []time.Duration{0, ms, ms}},
		{"unknown jitter is none", attempts.Policy{Params: attempts.Params{Count: 2, Delay: ms}, Jitter: "wobbly"}, []time.Duration{0, ms}},
		{"negative spread is 0", attempts.Policy{Params: attempts.Params{Count: 1}, Spread: -time.Second}, []time.Duration{0}},
		{"huge growth saturates, no overflow",
			attempts.Policy{Params: attempts.Params{Count: 80, Delay: time.Hour}, Multiplier: 10},
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := walk(tc.p, 100, 0.5)
			if tc.want == nil {
				for i, w := range got {
					if w < 0 || (i > 1 && w < got[i-1]) {
						t.Fatalf("wait %d = %v after %v: overflowed", i, w, got[i-1])
					}
				}
				if got[len(got)-1] != time.Duration(math.MaxInt64) {
					t.Fatalf("last wait %v, want saturation at MaxInt64", got[len(got)-1])
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("waits = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		base time.Duration
		mult float64
		cap  time.Duration
		n    int
		want time.Duration
	}{
		{500 * ms, 1, 0, 1, 500 * ms},
		{500 * ms, 1, 0, 9, 500 * ms},
		{500 * ms, 2, 0, 1, 500 * ms},
		{500 * ms, 2, 0, 4, 4 * time.Second},
		{500 * ms, 2, 3 * time.Second, 4, 3 * time.Second},
		{500 * ms, 2, 0, 0, 500 * ms},
		{0, 2, 0, 5, 0},
		{time.Second, 3, 0, 3, 9 * time.Second},
	}
	for _, tc := range tests {
		if got := attempts.Backoff(tc.base, tc.mult, tc.cap, tc.n); got != tc.want {
			t.Errorf("Backoff(%v, %v, %v, %d) = %v, want %v", tc.base, tc.mult, tc.cap, tc.n, got, tc.want)
		}
	}
}

func TestParseJitter(t *testing.T) {
	tests := []struct {
		in      string
		want    attempts.Jitter
		wantErr bool
	}{
		{"", attempts.JitterNone, false},
		{"none", attempts.JitterNone, false},
		{" Full ", attempts.JitterFull, false},
		{"EQUAL", attempts.JitterEqual, false},
		{"decorrelated", attempts.JitterDecorrelated, false},
		{"random", "", true},
		{"full,equal", "", true},
	}
	for _, tc := range tests {
		got, err := attempts.ParseJitter(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseJitter(%q) = %q, %v; want %q, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, attempts.ErrJitter) {
			t.Errorf("ParseJitter(%q) error %v does not wrap ErrJitter", tc.in, err)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := attempts.Policy{Params: attempts.DefaultReconnect, Multiplier: attempts.DefaultMultiplier,
		MaxDelay: attempts.DefaultMaxDelay, Jitter: attempts.DefaultJitter, Spread: attempts.DefaultSpread}
	mod := func(f func(*attempts.Policy)) attempts.Policy { p := ok; f(&p); return p }
	tests := []struct {
		name string
		p    attempts.Policy
		want error
	}{
		{"defaults", ok, nil},
		{"zero multiplier means 1", mod(func(p *attempts.Policy) { p.Multiplier = 0 }), nil},
		{"forever", mod(func(p *attempts.Policy) { p.Count = attempts.Forever }), nil},
		{"count 0", mod(func(p *attempts.Policy) { p.Count = 0 }), attempts.ErrCount},
		{"count -2", mod(func(p *attempts.Policy) { p.Count = -2 }), attempts.ErrCount},
		{"negative delay", mod(func(p *attempts.Policy) { p.Delay = -1 }), attempts.ErrNegative},
		{"negative timeout", mod(func(p *attempts.Policy) { p.Timeout = -1 }), attempts.ErrNegative},
		{"negative max delay", mod(func(p *attempts.Policy) { p.MaxDelay = -1 }), attempts.ErrNegative},
		{"negative spread", mod(func(p *attempts.Policy) { p.Spread = -1 }), attempts.ErrNegative},
		{"negative budget", mod(func(p *attempts.Policy) { p.Budget = -1 }), attempts.ErrNegative},
		{"negative added jitter", mod(func(p *attempts.Policy) { p.AddJitter = -1 }), attempts.ErrNegative},
		{"multiplier 0.5", mod(func(p *attempts.Policy) { p.Multiplier = 0.5 }), attempts.ErrMultiplier},
		{"multiplier NaN", mod(func(p *attempts.Policy) { p.Multiplier = math.NaN() }), attempts.ErrMultiplier},
		{"multiplier +Inf", mod(func(p *attempts.Policy) { p.Multiplier = math.Inf(1) }), attempts.ErrMultiplier},
		{"bad jitter", mod(func(p *attempts.Policy) { p.Jitter = "lots" }), attempts.ErrJitter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewRandDeterministicAndInRange(t *testing.T) {
	a, b, c := attempts.NewRand(42), attempts.NewRand(42), attempts.NewRand(43)
	same, diff := true, false
	for range 1000 {
		x, y, z := a.Float64(), b.Float64(), c.Float64()
		if x < 0 || x >= 1 {
			t.Fatalf("Float64() = %v outside [0,1)", x)
		}
		same = same && x == y
		diff = diff || x != z
	}
	if !same || !diff {
		t.Fatalf("same seed same sequence: %v; other seed differs: %v", same, diff)
	}
	if v := attempts.DefaultRand.Float64(); v < 0 || v >= 1 {
		t.Fatalf("DefaultRand.Float64() = %v", v)
	}
}

func TestNextWithinBudget(t *testing.T) {
	p := attempts.Policy{Params: attempts.Params{Count: attempts.Forever, Delay: 500 * ms}, Budget: 1200 * ms}
	tests := []struct {
		name    string
		elapsed []time.Duration // elapsed time at each call
		want    []bool
		attempt int
	}{
		{"count forever, budget stops it", []time.Duration{0, 100 * ms, 600 * ms, 1100 * ms, 0}, []bool{true, true, true, false, false}, 3},
		{"exactly at the budget still starts", []time.Duration{0, 700 * ms}, []bool{true, true}, 2},
		{"already past the budget", []time.Duration{1300 * ms}, []bool{false}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Delays(nil)
			for i, el := range tc.elapsed {
				if _, ok := d.NextWithin(el); ok != tc.want[i] {
					t.Fatalf("call %d at +%v: ok = %v, want %v", i, el, ok, tc.want[i])
				}
			}
			if d.Attempt() != tc.attempt {
				t.Fatalf("Attempt() = %d, want %d", d.Attempt(), tc.attempt)
			}
		})
	}
	// Without a budget NextWithin is Next, and Count still ends the walk.
	d := attempts.Policy{Params: attempts.DefaultConnect}.Delays(nil)
	for i, want := range []bool{true, true, false} {
		if _, ok := d.NextWithin(time.Hour); ok != want {
			t.Fatalf("call %d: ok = %v, want %v", i, ok, want)
		}
	}
}
