package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
)

// memFigures is what one probe process measured, per idle connection.
type memFigures struct {
	Conns      int
	RSS        float64 // bytes of resident memory per connection
	Heap       float64 // live heap bytes per connection (after GC)
	Stack      float64 // goroutine stack bytes per connection
	Goroutines float64 // goroutines per connection
}

// benchMemory opens N idle connections in a fresh process per client kind
// (so neither inherits the other's freed memory) to a broker in a third.
func benchMemory(cfg config, rep *report) error {
	h, err := startHost("", "")
	if err != nil {
		return err
	}
	defer h.close()
	addr, err := h.start("mem", "tcp", 0)
	if err != nil {
		return err
	}
	n := 1000
	if cfg.quick {
		n = 200
	}
	raw, err := memProbe("raw", addr, n)
	if err != nil {
		return fmt.Errorf("raw probe: %w", err)
	}
	ours, err := memProbe("stompft", addr, n)
	if err != nil {
		return fmt.Errorf("stompft probe: %w", err)
	}
	cfg.progressf("raw %+v", raw)
	cfg.progressf("stompft %+v", ours)
	const slack = 16 << 10
	rep.add(row{
		Item:    "6 memory",
		Measure: fmt.Sprintf("RSS per idle connection (%d connections, fresh process each)", n),
		Ours:    kib(ours.RSS),
		Base:    kib(raw.RSS) + " raw go-stomp",
		Ratio:   fmt.Sprintf("%+.1f KiB", (ours.RSS-raw.RSS)/1024),
		Goal:    "≤ raw + 16 KiB",
		Verdict: atMost((ours.RSS-raw.RSS)/1024, 16, " KiB"),
	})
	rep.add(row{
		Item:    "6 memory",
		Measure: "heap + goroutine stacks per idle connection",
		Ours:    fmt.Sprintf("%s (heap %s, stacks %s, %.0f goroutines)", kib(ours.Heap+ours.Stack), kib(ours.Heap), kib(ours.Stack), ours.Goroutines),
		Base:    fmt.Sprintf("%s (heap %s, stacks %s, %.0f goroutines)", kib(raw.Heap+raw.Stack), kib(raw.Heap), kib(raw.Stack), raw.Goroutines),
		Ratio:   fmt.Sprintf("%+.1f KiB", (ours.Heap+ours.Stack-raw.Heap-raw.Stack)/1024),
		Goal:    "≤ raw + 16 KiB",
		Verdict: atMost((ours.Heap+ours.Stack-raw.Heap-raw.Stack)/1024, 16, " KiB"),
	})
	rep.add(row{
		Item:    "6 memory",
		Measure: "goroutines per idle connection",
		Ours:    fmt.Sprintf("%.2f", ours.Goroutines),
		Base:    fmt.Sprintf("%.2f raw go-stomp", raw.Goroutines),
		Ratio:   fmt.Sprintf("%+.2f", ours.Goroutines-raw.Goroutines),
	})
	return nil
}

// memProbe runs this binary with -mem-probe and decodes its answer.
func memProbe(kind, addr string, n int) (memFigures, error) {
	exe, err := os.Executable()
	if err != nil {
		return memFigures{}, err
	}
	cmd := exec.Command(exe, "-mem-probe", kind, "-mem-addr", addr, "-mem-n", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return memFigures{}, err
	}
	var m memFigures
	return m, json.Unmarshal(out, &m)
}

// runMemProbe is the probe process: measure, open n idle connections,
// measure again, print the per-connection difference as JSON.
func runMemProbe(kind, addr string, n int, out io.Writer) error {
	raiseNoFile()
	var f *factory.Factory
	if kind == "stompft" {
		var err error
		if f, err = newFactory("tcp://"+addr, "connect_attempt_count = 1"); err != nil {
			return err
		}
	}
	// Warm up everything that is allocated once per process.
	warm := func() (func(), error) {
		if f != nil {
			c, err := f.CreateConnection("Bench")
			if err != nil {
				return nil, err
			}
			return func() { _ = c.Close() }, nil
		}
		c, err := stomp.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		return func() { _ = c.Disconnect() }, nil
	}
	closeWarm, err := warm()
	if err != nil {
		return err
	}
	defer closeWarm()
	before := snapshot()
	var closers []func()
	for i := 0; i < n; i++ {
		cl, err := warm()
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		closers = append(closers, cl)
	}
	after := snapshot()
	fn := float64(n)
	m := memFigures{
		Conns:      n,
		RSS:        float64(after.rss-before.rss) / fn,
		Heap:       float64(after.heap-before.heap) / fn,
		Stack:      float64(after.stack-before.stack) / fn,
		Goroutines: float64(after.goroutines-before.goroutines) / fn,
	}
	runtime.KeepAlive(closers)
	for _, cl := range closers {
		cl()
	}
	return json.NewEncoder(out).Encode(m)
}

type memSnap struct {
	rss, heap, stack int64
	goroutines       int
}

func snapshot() memSnap {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnap{rss: rssBytes(), heap: int64(ms.HeapAlloc), stack: int64(ms.StackInuse), goroutines: runtime.NumGoroutine()}
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
