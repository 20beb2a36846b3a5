package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestQuickThroughput runs the cheapest items end to end (child broker
// process, both clients, the table) to keep the command working. It checks
// that figures are printed, never what they are: timings on a shared
// machine are not assertions.
func TestQuickThroughput(t *testing.T) {
	runQuick(t, "throughput,memory", "| 4 throughput | fire-and-forget 256 B", "| 4 throughput | receipt 16 KiB, track_messages", "| 6 memory | RSS per idle connection")
}

// TestQuickFailover runs items 1 and 2 on the broker-host pairs: both
// clients fail over and a row per item is printed.
func TestQuickFailover(t *testing.T) {
	runQuick(t, "latency,standby", "| 1 failover latency | embedded, RST", "| 2 hot standby | embedded, backup = true")
}

// runQuick runs `-quick -only items` and checks the table has every row
// start in wants and no item failed.
func runQuick(t *testing.T, items string, wants ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a broker process")
	}
	var out, progress bytes.Buffer
	if err := run([]string{"-quick", "-only", items}, &out, &progress); err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	table := out.String()
	for _, want := range wants {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "**error**") {
		t.Errorf("an item failed:\n%s\n%s", table, progress.String())
	}
}

// TestUnknownItem is refused with the list of known items.
func TestUnknownItem(t *testing.T) {
	var out, progress bytes.Buffer
	err := run([]string{"-only", "nosuch"}, &out, &progress)
	if err == nil || !strings.Contains(err.Error(), "throughput") {
		t.Fatalf("err = %v, want the list of known items", err)
	}
}

// TestQuantiles checks the nearest-rank quantiles the table prints.
func TestQuantiles(t *testing.T) {
	cases := []struct {
		name             string
		in               []int
		p50, p90, p99, m int
	}{
		{"one", []int{7}, 7, 7, 7, 7},
		{"ten", []int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 5, 9, 10, 10},
		{"hundred", seq(100), 50, 90, 99, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := make([]time.Duration, len(c.in))
			for i, v := range c.in {
				ds[i] = time.Duration(v)
			}
			q := quantilesOf(ds)
			if int(q.P50) != c.p50 || int(q.P90) != c.p90 || int(q.P99) != c.p99 || int(q.Max) != c.m {
				t.Errorf("got %d/%d/%d/%d, want %d/%d/%d/%d", q.P50, q.P90, q.P99, q.Max, c.p50, c.p90, c.p99, c.m)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// TestMain lets the test binary stand in for the command when the bench
// re-executes itself as its broker host or memory probe.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "-serve-brokers" || os.Args[1] == "-mem-probe") {
		if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
