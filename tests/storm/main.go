package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stompft/stompft/attempts"
)

// Named is a policy under test.
type Named struct {
	Name   string
	Policy attempts.Policy
	// Episode: the client follows attempts.Episode (first pass at once,
	// spread and back-off only after a storm signal, SYNs abandoned past
	// Policy.Probe until then), as the factory does. Otherwise it waits
	// what attempts.Delays yields, whatever happens.
	Episode bool
}

// Policies returns the compared policies; every one retries forever in the
// simulation (Count is set to Forever by Run).
func Policies() []Named {
	return []Named{
		{Name: "EMS fixed 500ms", Policy: attempts.Policy{Params: attempts.DefaultReconnect, Multiplier: 1}},
		{Name: "nats.go 2s+100ms", Policy: attempts.Policy{Params: attempts.Params{Delay: 2 * time.Second}, AddJitter: 100 * time.Millisecond}},
		{Name: "ActiveMQ 10ms x2", Policy: attempts.Policy{Params: attempts.Params{Delay: 10 * time.Millisecond}, Multiplier: 2, MaxDelay: 30 * time.Second}},
		{Name: "spread first (old default)", Policy: DefaultPolicy()},
		Default(),
	}
}

// Default is this project's default client: DefaultPolicy under the
// Episode rule, as a factory with no failover key set reconnects.
func Default() Named {
	return Named{Name: "stompft default", Policy: DefaultPolicy(), Episode: true}
}

// DefaultPolicy is this project's default reconnect policy: EMS's
// reconnect Params plus the attempts.Default* extensions.
func DefaultPolicy() attempts.Policy {
	return attempts.Policy{
		Params:     attempts.DefaultReconnect,
		Multiplier: attempts.DefaultMultiplier,
		MaxDelay:   attempts.DefaultMaxDelay,
		Jitter:     attempts.DefaultJitter,
		Spread:     attempts.DefaultSpread,
		Probe:      attempts.DefaultProbe,
	}
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("storm", flag.ContinueOnError)
	short := fs.Bool("short", false, "quick mode: N = 1000 and 10000")
	ns := fs.String("n", "", "comma-separated client counts (default 10000,100000; -short 1000,10000)")
	rate := fs.Float64("rate", 5, "handshakes the backup completes per millisecond")
	queue := fs.Int("queue", 128, "accept queue length")
	timeout := fs.Duration("timeout", 5*time.Second, "per-attempt timeout (0 = the kernel's 127 s)")
	seed := fs.Int64("seed", 1, "random seed")
	png := fs.String("png", "", "write the arrivals chart to this PNG file")
	only := fs.String("policy", "", "run only policies whose name contains this")
	perProc := fs.Int("per-process", 100, "also run the default policy with this many connections per process sharing a scheduler (0 = skip)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	counts := []int{10000, 100000}
	if *short {
		counts = []int{1000, 10000}
	}
	if *ns != "" {
		counts = counts[:0]
		for _, f := range strings.Split(*ns, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return fmt.Errorf("bad -n %q", *ns)
			}
			counts = append(counts, n)
		}
	}
	var results []Result
	start := time.Now()
	for _, n := range counts {
		for _, ov := range []Overflow{OverflowRefuse, OverflowLinux} {
			cfg := Config{Clients: n, Rate: *rate, Queue: *queue, Overflow: ov, Timeout: *timeout,
				Seed: *seed, Bin: 10 * time.Millisecond}
			var rs []Result
			for _, p := range Policies() {
				if *only != "" && !strings.Contains(p.Name, *only) {
					continue
				}
				r, err := Run(p, cfg)
				if err != nil {
					return err
				}
				rs = append(rs, r)
			}
			if *perProc > 1 && (*only == "" || strings.Contains("stompft default + scheduler", *only)) {
				c := cfg
				c.PerProcess = *perProc
				d := Default()
				d.Name = fmt.Sprintf("stompft default + scheduler (%d/process)", *perProc)
				r, err := Run(d, c)
				if err != nil {
					return err
				}
				rs = append(rs, r)
			}
			printTable(out, cfg, rs)
			results = append(results, rs...)
		}
	}
	fmt.Fprintf(out, "simulated in %v\n", time.Since(start).Round(100*time.Millisecond))
	if *png != "" {
		if err := chart(*png, results); err != nil {
			return err
		}
		fmt.Fprintf(out, "chart written to %s\n", *png)
	}
	return nil
}

func printTable(out io.Writer, cfg Config, rs []Result) {
	ideal := time.Duration(float64(cfg.Clients) / cfg.Rate * float64(time.Millisecond))
	fmt.Fprintf(out, "\nN=%d, %.0f handshakes/ms, queue %d, overflow %s, attempt timeout %v; ideal %v\n",
		cfg.Clients, cfg.Rate, cfg.Queue, cfg.Overflow, cfg.Timeout, ideal)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tpeak/10ms\tfailed\trefused\ttimed out\tabandoned\tattempts\tattempts/N\tSYNs\tall reconnected\t× ideal\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t%d\t%v\t%.2f\t\n", r.Policy, r.PeakPer10, r.Failed, r.Refused,
			r.TimedOut, r.Abandoned, r.Attempts, float64(r.Attempts)/float64(cfg.Clients), r.SYNs, r.Done.Round(time.Millisecond),
			float64(r.Done)/float64(ideal))
	}
	tw.Flush()
	verdict(out, rs)
}

// Goal for the default policy (the acceptance criterion).
const (
	goalFewerFailures = 10  // at least this many times fewer failed attempts than EMS
	goalIdealFactor   = 1.5 // at most this many times the ideal time
)

// verdict prints whether each stompft row meets the goal against the EMS
// row of the same table.
func verdict(out io.Writer, rs []Result) {
	var ems *Result
	for i := range rs {
		if rs[i].Policy == Policies()[0].Name {
			ems = &rs[i]
		}
	}
	if ems == nil {
		return
	}
	for _, r := range rs {
		if !strings.HasPrefix(r.Policy, "stompft") {
			continue
		}
		fewer := float64(ems.Failed) / float64(max(r.Failed, 1))
		ratio := float64(r.Done) / float64(r.Ideal)
		met := "met"
		if fewer < goalFewerFailures || ratio > goalIdealFactor {
			met = "NOT met"
		}
		fewerText := fmt.Sprintf("%.1f× fewer", fewer)
		if r.Failed == 0 {
			fewerText = "none"
		}
		fmt.Fprintf(out, "goal (>= %d× fewer failed attempts than EMS, <= %.1f× ideal) for %s: %s (failed: %s, time %.2f× ideal)\n",
			goalFewerFailures, goalIdealFactor, r.Policy, met, fewerText, ratio)
	}
}
