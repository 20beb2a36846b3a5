package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// row is one line of the results table.
type row struct {
	Item    string // "1 latency"
	Measure string // what was measured
	Ours    string // this project's figure
	Base    string // the baseline's figure ("" when none)
	Ratio   string // ours vs base, or the figure the goal is about
	Goal    string // "" when the row is informative
	Verdict string // PASS (+margin), MISS (by ...), or ""
}

// report collects rows and notes.
type report struct {
	rows  []row
	notes []string
}

func (r *report) add(x row) { r.rows = append(r.rows, x) }

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// write prints the markdown table and the notes.
func (r *report) write(w io.Writer) {
	fmt.Fprintln(w, "| # | measure | stompft | baseline | ratio / figure | goal | result |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|---|")
	for _, x := range r.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n",
			x.Item, x.Measure, x.Ours, x.Base, x.Ratio, x.Goal, x.Verdict)
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}

// atLeast renders a "≥ goal" verdict for a ratio-like figure.
func atLeast(v, goal float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if v >= goal {
		return fmt.Sprintf("PASS (+%.3f)", v-goal)
	}
	return fmt.Sprintf("**MISS** (by %.3f)", goal-v)
}

// atMost renders a "≤ goal" verdict.
func atMost(v, goal float64, unit string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if v <= goal {
		return fmt.Sprintf("PASS (%s%s to spare)", trimFloat(goal-v), unit)
	}
	return fmt.Sprintf("**MISS** (by %s%s)", trimFloat(v-goal), unit)
}

// atMostDur is atMost for durations.
func atMostDur(v, goal time.Duration) string {
	if v <= goal {
		return fmt.Sprintf("PASS (%v to spare)", roundDur(goal-v))
	}
	return fmt.Sprintf("**MISS** (by %v)", roundDur(v-goal))
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" {
		return "0"
	}
	return s
}

// roundDur rounds to a readable precision.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(10 * time.Microsecond)
	}
}

// quantiles of a sample of durations.
type quantiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

func quantilesOf(ds []time.Duration) quantiles {
	if len(ds) == 0 {
		return quantiles{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration {
		// nearest rank
		k := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(k, 0), len(s)-1)]
	}
	return quantiles{N: len(s), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: s[len(s)-1]}
}

func (q quantiles) String() string {
	return fmt.Sprintf("p50 %v · p90 %v · p99 %v · max %v", roundDur(q.P50), roundDur(q.P90), roundDur(q.P99), roundDur(q.Max))
}

// median of floats.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// human formats a count.
func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// kib formats bytes as KiB.
func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
