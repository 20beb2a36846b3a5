package confparse

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/sequential"
)

// Project defaults for the keys EMS does not have. The failover defaults
// (multiplier, max delay, jitter, spread, scheduler) come from package
// attempts so the two packages cannot drift apart.
const (
	// DefaultHeartBeat is the heartbeat key's default, send and receive.
	DefaultHeartBeat = 10 * time.Second
	// DefaultHeartBeatGrace multiplies the receive interval before the
	// peer is declared dead. ActiveMQ skips its next beat after any frame
	// it sends, so its beats can come two intervals apart: 2.5 tolerates
	// that with half an interval to spare.
	DefaultHeartBeatGrace = 2.5
	// DefaultSendTimeout bounds a send waiting for a connection.
	DefaultSendTimeout = 30 * time.Second
	// DefaultMaxCacheSize is ActiveMQ's maxCacheSize default, in bytes.
	DefaultMaxCacheSize int64 = 128 * 1024
	// MaxClientIDLength is EMS's limit on clientID.
	MaxClientIDLength = 255
	// DefaultAttemptTimeout bounds one attempt to one URL (dial, TLS
	// handshake, CONNECT→CONNECTED) when connect_attempt_timeout or
	// reconnect_attempt_timeout is not set or is 0. EMS's 0 means "no
	// limit", which would let a broker that accepts TCP and never answers
	// hang the caller for ever; stompft always bounds an attempt, and the
	// parsed config holds the value that will apply.
	DefaultAttemptTimeout = 10 * time.Second
)

// EMS's documented minimums; lower values are accepted with a warning.
const (
	minAttemptDelay   = 250 * time.Millisecond
	minAttemptTimeout = 100 * time.Millisecond
)

// ParseFile reads and parses the factories.conf at path. The file must be
// a regular file of at most MaxFileSize bytes, checked before it is read
// (a named pipe or a device is refused without blocking). The error is an
// ErrorList holding every problem of the file, or an error wrapping the
// *os.PathError when the file cannot be read.
func ParseFile(path string) (*Config, error) {
	data, err := readRegularFile(path, MaxFileSize, false)
	if err != nil {
		return nil, fmt.Errorf("confparse: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a factories.conf held in data; filename is used in positions
// and to resolve a relative passcode_file. Native EMS syntax and TOML are
// both accepted, also mixed line by line. The error is an ErrorList of
// every problem, in file order.
//
// data is at most MaxFileSize bytes; a larger input is refused before it
// is scanned, with an error wrapping ErrFileTooLarge.
func Parse(filename string, data []byte) (*Config, error) {
	if int64(len(data)) > MaxFileSize {
		return nil, fmt.Errorf("confparse: %s: %w: %d bytes, more than the limit of %s", filename, ErrFileTooLarge, len(data), sizeString(MaxFileSize))
	}
	p := newParser(filename)
	return p.parse(data)
}

// parser holds the state of one Parse; lookupEnv and readFile are seams for
// tests (passcode = ${VAR} and passcode_file).
type parser struct {
	file      string
	dir       string
	lookupEnv func(string) (string, bool)
	readFile  func(path string, limit int64) ([]byte, error)
	errs      ErrorList
	warns     []Warning
	full      bool // MaxErrors reached: checking stops
	moreWarns int  // warnings beyond MaxWarnings, counted only
}

func newParser(filename string) *parser {
	return &parser{
		file:      filename,
		dir:       filepath.Dir(filename),
		lookupEnv: os.LookupEnv,
		readFile:  func(path string, limit int64) ([]byte, error) { return readRegularFile(path, limit, true) },
	}
}

func (p *parser) parse(data []byte) (*Config, error) {
	cfg := &Config{File: p.file}
	seen := make(map[string]*section)
	for _, s := range p.scan(data) {
		if p.full {
			break
		}
		if first, dup := seen[s.name]; dup {
			p.errorf(s.line, s.col, s.name, "", nil, "duplicate factory [%s]: defined on lines %d and %d", clipName(s.name), first.line, s.line)
			continue
		}
		seen[s.name] = s
		if f := p.factory(s); f != nil {
			cfg.Factories = append(cfg.Factories, f)
		}
	}
	if len(p.errs) > 0 {
		sortByPosition(p.errs)
		if p.full {
			p.errs = append(p.errs, &ParseError{File: p.file, Msg: fmt.Sprintf("too many errors (%d, the limit MaxErrors): the rest of the file was not checked", MaxErrors)})
		}
		return nil, p.errs
	}
	if len(cfg.Factories) == 0 {
		p.warnf(0, 0, "", "", "no [FactoryName] sections: the file defines no factory")
	}
	slices.SortStableFunc(p.warns, func(a, b Warning) int {
		if a.Line != b.Line {
			return cmp.Compare(a.Line, b.Line)
		}
		return cmp.Compare(a.Col, b.Col)
	})
	if p.moreWarns > 0 {
		p.warns = append(p.warns, Warning{File: p.file, Msg: fmt.Sprintf("and %d more warnings (more than MaxWarnings, %d)", p.moreWarns, MaxWarnings)})
	}
	cfg.Warnings = p.warns
	return cfg, nil
}

// Factory returns the factory with exactly this name.
func (c *Config) Factory(name string) (*Factory, bool) {
	if c == nil {
		return nil, false
	}
	for _, f := range c.Factories {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// ConnectPolicy is the policy for a first connection: EMS's connect
// attempts with a fixed delay, no jitter and no spread (first connects are
// not storms).
func (f *Factory) ConnectPolicy() attempts.Policy {
	return attempts.Policy{Params: f.Connect, Multiplier: 1, Jitter: attempts.JitterNone}
}

// ReconnectPolicy is the policy after a lost connection: EMS's reconnect
// attempts plus the backoff, jitter, spread and budget extensions.
func (f *Factory) ReconnectPolicy() attempts.Policy {
	p := attempts.Policy{
		Params:     f.Reconnect,
		Multiplier: f.BackoffMultiplier,
		MaxDelay:   f.MaxReconnectDelay,
		Jitter:     f.Jitter,
		Spread:     f.ReconnectSpread,
		Budget:     f.ReconnectBudget,
	}
	if p.Spread > 0 {
		// Storm detection comes with the spread it leads to; with
		// reconnect_spread = 0 (EMS's exact behaviour) connects are bounded
		// by reconnect_attempt_timeout alone.
		p.Probe = attempts.DefaultProbe
	}
	return p
}

// SchedulerConfig is attempts.DefaultSchedulerConfig with the factory's
// scheduler_* keys applied.
func (f *Factory) SchedulerConfig() attempts.SchedulerConfig {
	c := attempts.DefaultSchedulerConfig()
	c.MaxConcurrency = f.SchedulerMaxConcurrency
	c.MaxRate = f.SchedulerMaxRate
	c.MinRate = f.SchedulerMinRate
	return c
}

// errorf records an error. Messages never include a passcode: callers pass
// values only for keys whose values are public. Once MaxErrors are
// recorded, further errors are dropped and p.full tells the scan to stop.
func (p *parser) errorf(line, col int, factory, key string, cause error, format string, args ...any) {
	if p.full {
		return
	}
	if len(p.errs) == MaxErrors-1 {
		p.full = true
	}
	p.errs = append(p.errs, &ParseError{
		File: p.file, Line: line, Col: col, Factory: factory, Key: key,
		Msg: fmt.Sprintf(format, args...), Err: cause,
	})
}

func (p *parser) warnf(line, col int, factory, key string, format string, args ...any) {
	if len(p.warns) >= MaxWarnings {
		p.moreWarns++
		return
	}
	p.warns = append(p.warns, Warning{
		File: p.file, Line: line, Col: col, Factory: factory, Key: key,
		Msg: fmt.Sprintf(format, args...),
	})
}

// sortByPosition orders errors by line then column, stably: factory-level
// checks run after the scan and must still read in file order.
func sortByPosition(l ErrorList) {
	slices.SortStableFunc(l, func(a, b *ParseError) int {
		if a.Line != b.Line {
			return cmp.Compare(a.Line, b.Line)
		}
		return cmp.Compare(a.Col, b.Col)
	})
}

// errSeqAs extracts the sequential parse error, if any.
func errSeqAs(err error) (*sequential.ParseError, bool) {
	var se *sequential.ParseError
	ok := errors.As(err, &se)
	return se, ok
}
