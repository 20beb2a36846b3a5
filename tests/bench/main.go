package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
)

// items in the order they run.
var allItems = []string{"throughput", "latency", "standby", "detect", "heartbeat", "memory", "storm"}

// config is what the command line chose.
type config struct {
	quick bool
	only  map[string]bool
	amq   bool
	chart string
	// stormCase, when set, runs only the storm runs whose label
	// ("tcp backlog 0 stompft default") contains it.
	stormCase string
	// stormWhatIf adds the informative storm runs of stormWhatIf.
	stormWhatIf bool
	log         io.Writer // progress lines
}

func (c config) want(item string) bool { return len(c.only) == 0 || c.only[item] }

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(args []string, out, progress io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "smaller counts and fewer trials (a smoke run)")
	only := fs.String("only", "", "comma-separated items: "+strings.Join(allItems, ","))
	amq := fs.Bool("amq", false, "also measure failover latency on the ActiveMQ pair started by tests/brokers/up.sh")
	chart := fs.String("chart", "", "write the storm chart (new connections per 50 ms) to this PNG")
	stormCase := fs.String("storm-case", "", "run only the storm runs whose label (e.g. \"tls backlog 128 stompft default\") contains this")
	whatIf := fs.Bool("storm-whatif", false, "add informative storm runs: the default policy with the reconnect scheduler's caps raised")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of this (client) process to this file")
	serve := fs.Bool("serve-brokers", false, "internal: run as the broker host process")
	cert := fs.String("cert", "", "internal: broker host TLS certificate")
	key := fs.String("key", "", "internal: broker host TLS key")
	memKind := fs.String("mem-probe", "", "internal: memory probe process (raw or stompft)")
	memAddr := fs.String("mem-addr", "", "internal: memory probe broker address")
	memN := fs.Int("mem-n", 0, "internal: memory probe connection count")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *memKind != "" {
		return runMemProbe(*memKind, *memAddr, *memN, out)
	}
	if *serve {
		return serveBrokers(os.Stdin, os.Stdout, *cert, *key)
	}
	cfg := config{quick: *quick, amq: *amq, chart: *chart, stormCase: *stormCase, stormWhatIf: *whatIf, log: progress}
	if *only != "" {
		cfg.only = map[string]bool{}
		for _, it := range strings.Split(*only, ",") {
			it = strings.TrimSpace(it)
			if !contains(allItems, it) {
				return fmt.Errorf("unknown item %q (known: %s)", it, strings.Join(allItems, ", "))
			}
			cfg.only[it] = true
		}
	}
	raiseNoFile()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep := &report{}
	start := time.Now()
	steps := []struct {
		name string
		fn   func(config, *report) error
	}{
		{"throughput", benchThroughput},
		{"latency", benchLatency},
		{"standby", benchStandby},
		{"detect", benchDetect},
		{"heartbeat", benchHeartbeat},
		{"memory", benchMemory},
		{"storm", benchStorm},
	}
	for _, s := range steps {
		if !cfg.want(s.name) {
			continue
		}
		fmt.Fprintf(progress, "== %s (%s)\n", s.name, time.Now().UTC().Format("15:04:05"))
		if err := s.fn(cfg, rep); err != nil {
			rep.note("%s: **error**: %v", s.name, err)
			fmt.Fprintf(progress, "%s: error: %v\n", s.name, err)
		}
	}
	fmt.Fprintf(out, "\nstompft bench, %s UTC, %s/%s, %d CPUs (%s), %s, quick=%v, took %v\n\n",
		start.UTC().Format("2006-01-02 15:04"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version(), cfg.quick,
		time.Since(start).Round(time.Second))
	rep.write(out)
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// cpuModel reads the CPU model name from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// newFactory builds a factory named Bench from key = value lines.
func newFactory(urls string, kv ...string) (*factory.Factory, error) {
	text := "[Bench]\n  type = queue\n  url = " + urls + "\n"
	for _, l := range kv {
		text += "  " + l + "\n"
	}
	cfg, err := confparse.Parse("bench.conf", []byte(text))
	if err != nil {
		return nil, err
	}
	return factory.New(cfg)
}

// progressf prints a progress line.
func (c config) progressf(format string, args ...any) {
	fmt.Fprintf(c.log, "   "+format+"\n", args...)
}
