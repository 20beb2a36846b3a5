package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/stompft/stompft/confparse"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK      = 0
	exitInvalid = 1 // the file has errors or cannot be read
	exitUsage   = 2
)

// options are the command-line flags. A new mode (such as -probe, which
// dials every URL) adds a field here, registers it in newFlags and acts in
// run after the file has parsed.
type options struct {
	json  bool
	probe string // -probe NAME: connect to every URL of factory NAME (probe.go)
}

func newFlags(stderr io.Writer) (*flag.FlagSet, *options) {
	o := &options{}
	fs := flag.NewFlagSet("confcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.json, "json", false, "print the effective settings as JSON")
	fs.StringVar(&o.probe, "probe", "", "connect to every URL of factory `NAME` and report per URL (exit 3 if none answered)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: confcheck [-json] FILE\n       confcheck -probe NAME [-json] FILE")
		fmt.Fprintln(fs.Output(), "Flags may come before or after FILE. Without FILE, $"+envConf+" names the file.")
		fs.PrintDefaults()
	}
	return fs, o
}

// envConf names the file when none is given, as for factory.Load's default
// (factory.DefaultConfigPath).
const envConf = "FACTORIES_CONF"

// parseArgs parses flags wherever they are, before or after the file name
// (a "--" ends the flags), and returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// run is main without the process: it returns the exit code, so tests call
// it directly. getenv is os.Getenv, a seam for tests.
func run(args []string, stdout, stderr io.Writer) int {
	return runEnv(args, os.Getenv, stdout, stderr)
}

func runEnv(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs, opts := newFlags(stderr)
	files, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) == 0 {
		if p := getenv(envConf); p != "" {
			files = []string{p}
		}
	}
	if len(files) != 1 {
		fs.Usage()
		return exitUsage
	}
	cfg, err := confparse.ParseFile(files[0])
	if err != nil {
		printErrors(stderr, err)
		return exitInvalid
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, w.String())
	}
	if opts.probe != "" {
		return runProbe(cfg, opts.probe, opts.json, stdout, stderr)
	}
	if opts.json {
		if err := writeJSON(stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "confcheck:", err)
			return exitInvalid
		}
		return exitOK
	}
	writeTable(stdout, cfg)
	return exitOK
}

// printErrors prints every error of the file, one per line.
func printErrors(w io.Writer, err error) {
	var list confparse.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, "confcheck:", err)
}

// writeTable prints one block per factory: its header and position, then
// every effective key and value, aligned.
func writeTable(w io.Writer, cfg *confparse.Config) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, f := range cfg.Factories {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "[%s]\t%s:%d\n", f.Name, cfg.File, f.Line)
		for _, s := range f.Settings() {
			v := s.Value
			if v == "" {
				v = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", s.Key, v)
		}
	}
	_ = tw.Flush()
}
