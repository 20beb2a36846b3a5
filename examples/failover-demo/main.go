package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

func main() {
	os.Exit(mainRun(os.Args[1:], os.Stdout, os.Stderr))
}

// mainRun is main without the process, for tests: flags in, exit status out.
func mainRun(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	cfg.Terminal = isTerminal(stdout)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := run(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "failover-demo:", err)
	}
	return exitCode(s, err)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var verbose bool
	fs := flag.NewFlagSet("failover-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Conf, "conf", "", "factories.conf naming your own brokers (default: start an embedded pair)")
	fs.StringVar(&cfg.Factory, "factory", "FTQueueConnectionFactory", "factory to connect with")
	fs.StringVar(&cfg.Dest, "dest", "/queue/stompft.demo", "queue to send to and consume from")
	fs.IntVar(&cfg.Count, "count", 3000, "messages to send")
	fs.Float64Var(&cfg.Rate, "rate", 500, "messages per second (0 = as fast as possible)")
	fs.IntVar(&cfg.Kills, "kills", 1, "broker kills, alternating primary and backup (embedded brokers only)")
	fs.DurationVar(&cfg.Drain, "drain", 30*time.Second, "how long to wait for the last messages after the last send")
	fs.BoolVar(&verbose, "v", false, "log the factory's own messages (logrus, debug level) to stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: failover-demo [-kills N] [-count N] [-rate R] [-conf FILE -factory NAME]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.Count < 1 || cfg.Kills < 0 || cfg.Rate < 0 {
		fmt.Fprintln(stderr, "failover-demo: -count must be at least 1, -kills and -rate not negative")
		return cfg, fmt.Errorf("bad flag values")
	}
	if verbose {
		l := logrus.New()
		l.SetOutput(stderr)
		l.SetLevel(logrus.DebugLevel)
		cfg.Logger = l
	}
	return cfg, nil
}

// isTerminal reports whether w is a character device (a terminal), where the
// progress line can redraw itself with \r.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
