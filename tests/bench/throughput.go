package main

import (
	"bytes"
	"fmt"
	"runtime"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/factory"
)

// A topic nobody subscribes to: go-stomp's server drops what it gets, so
// the broker's work per message is the same small constant for both clients.
const tpDest = "/topic/stompft-bench"

// sender is one way of sending: raw go-stomp or a factory connection.
type sender func(body []byte, opts ...func(*frame.Frame) error) error

// tpCase is one line of the throughput comparison.
type tpCase struct {
	name    string
	size    int
	receipt bool // every send waits for its receipt
	track   bool // ours with track_messages = true
	n       int  // messages per batch (full mode)
	goal    float64
}

// batchResult is one timed batch.
type batchResult struct {
	rate          float64 // messages/s
	allocs, bytes float64 // per send
}

// runBatch sends n messages and, for fire-and-forget, one receipt send at
// the end so that the time covers the broker having read them all.
func runBatch(send sender, n int, body []byte, receipt bool) (batchResult, error) {
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	for i := 0; i < n; i++ {
		var err error
		if receipt {
			err = send(body, stomp.SendOpt.Receipt)
		} else {
			err = send(body)
		}
		if err != nil {
			return batchResult{}, err
		}
	}
	if !receipt {
		if err := send(body, stomp.SendOpt.Receipt); err != nil {
			return batchResult{}, err
		}
	}
	el := time.Since(start)
	runtime.ReadMemStats(&m1)
	return batchResult{
		rate:   float64(n) / el.Seconds(),
		allocs: float64(m1.Mallocs-m0.Mallocs) / float64(n),
		bytes:  float64(m1.TotalAlloc-m0.TotalAlloc) / float64(n),
	}, nil
}

func benchThroughput(cfg config, rep *report) error {
	h, err := startHost("", "")
	if err != nil {
		return err
	}
	defer h.close()
	addr, err := h.start("tp", "tcp", 0)
	if err != nil {
		return err
	}
	return throughputAgainst(cfg, rep, addr)
}

// throughputAgainst runs the comparison against the broker at addr.
func throughputAgainst(cfg config, rep *report, addr string) error {
	raw, err := stomp.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer raw.Disconnect()
	rawSend := func(body []byte, opts ...func(*frame.Frame) error) error {
		return raw.Send(tpDest, "application/octet-stream", body, opts...)
	}

	mk := func(track bool) (*factory.Connection, error) {
		kv := []string{"connect_attempt_count = 1"}
		if track {
			kv = append(kv, "track_messages = true")
		}
		f, err := newFactory("tcp://"+addr, kv...)
		if err != nil {
			return nil, err
		}
		return f.CreateConnection("Bench")
	}
	plain, err := mk(false)
	if err != nil {
		return err
	}
	defer plain.Close()
	tracked, err := mk(true)
	if err != nil {
		return err
	}
	defer tracked.Close()
	oursSend := func(c *factory.Connection) sender {
		return func(body []byte, opts ...func(*frame.Frame) error) error {
			return c.Send(tpDest, "application/octet-stream", body, opts...)
		}
	}

	cases := []tpCase{
		{name: "fire-and-forget 256 B", size: 256, n: 50000, goal: 0.95},
		{name: "fire-and-forget 16 KiB", size: 16 << 10, n: 10000, goal: 0.95},
		{name: "receipt 256 B", size: 256, receipt: true, n: 5000, goal: 0.95},
		{name: "receipt 16 KiB", size: 16 << 10, receipt: true, n: 3000, goal: 0.95},
		{name: "receipt 256 B, track_messages", size: 256, receipt: true, track: true, n: 5000, goal: 0.90},
		{name: "receipt 16 KiB, track_messages", size: 16 << 10, receipt: true, track: true, n: 3000, goal: 0.90},
		{name: "fire-and-forget 256 B, track_messages (pipelined)", size: 256, track: true, n: 50000},
	}
	rounds := 11
	if cfg.quick {
		rounds = 3
	}
	rep.note("item 4: each figure is the median over %d rounds of a batch by each client, alternating which goes first; the ratio is the median of the per-round ratios; the broker is go-stomp's server in a separate process, the destination a topic nobody subscribes to; fire-and-forget batches end with one receipt send so that they are timed until the broker has read everything", rounds)
	for _, tc := range cases {
		n := tc.n
		if cfg.quick {
			n /= 10
		}
		body := bytes.Repeat([]byte{'x'}, tc.size)
		ours := oursSend(plain)
		if tc.track {
			ours = oursSend(tracked)
		}
		// Warm both paths up (buffers, the broker's topic).
		if _, err := runBatch(rawSend, n/10+1, body, tc.receipt); err != nil {
			return fmt.Errorf("raw warm-up: %w", err)
		}
		if _, err := runBatch(ours, n/10+1, body, tc.receipt); err != nil {
			return fmt.Errorf("stompft warm-up: %w", err)
		}
		var rawRates, ourRates, ratios []float64
		var rawAllocs, ourAllocs, rawBytes, ourBytes []float64
		for r := 0; r < rounds; r++ {
			var rr, or batchResult
			var err error
			// Alternate which goes first so drift favours neither.
			if r%2 == 0 {
				if rr, err = runBatch(rawSend, n, body, tc.receipt); err == nil {
					or, err = runBatch(ours, n, body, tc.receipt)
				}
			} else {
				if or, err = runBatch(ours, n, body, tc.receipt); err == nil {
					rr, err = runBatch(rawSend, n, body, tc.receipt)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", tc.name, err)
			}
			rawRates = append(rawRates, rr.rate)
			ourRates = append(ourRates, or.rate)
			ratios = append(ratios, or.rate/rr.rate)
			rawAllocs = append(rawAllocs, rr.allocs)
			ourAllocs = append(ourAllocs, or.allocs)
			rawBytes = append(rawBytes, rr.bytes)
			ourBytes = append(ourBytes, or.bytes)
		}
		ratio := median(ratios)
		cfg.progressf("%-50s raw %8s/s  stompft %8s/s  ratio %.3f", tc.name, human(median(rawRates)), human(median(ourRates)), ratio)
		x := row{
			Item:    "4 throughput",
			Measure: tc.name + " (msg/s, median of " + fmt.Sprint(rounds) + ")",
			Ours:    human(median(ourRates)),
			Base:    human(median(rawRates)) + " raw go-stomp",
			Ratio:   fmt.Sprintf("%.3f", ratio),
		}
		if tc.goal > 0 {
			x.Goal = fmt.Sprintf("≥ %.2f of raw", tc.goal)
			x.Verdict = atLeast(ratio, tc.goal)
		}
		rep.add(x)
		rep.add(row{
			Item:    "4 throughput",
			Measure: tc.name + ": allocations per send (bytes)",
			Ours:    fmt.Sprintf("%.1f (%.0f B)", median(ourAllocs), median(ourBytes)),
			Base:    fmt.Sprintf("%.1f (%.0f B)", median(rawAllocs), median(rawBytes)),
			Ratio:   fmt.Sprintf("%+.1f allocs", median(ourAllocs)-median(rawAllocs)),
		})
	}
	return nil
}
