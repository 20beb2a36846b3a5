package factory

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/session"
	"github.com/stompft/stompft/sequential"
)

// walkProgress is one connect or reconnect episode: its delays (attempt
// count) and budget deadline. A reconnect after a session that only looked
// healthy continues the previous episode (see healthyAfter).
type walkProgress struct {
	episode   *attempts.Episode
	deadline  time.Time
	passes    int
	reconnect bool
	// lost is why the session that only looked healthy ended, when this
	// episode is continued for it (see healthyAfter): the walk's error
	// names it, so an episode that ends at once still says what happened.
	lost    error
	lostURL string
}

func newProgress(pol attempts.Policy, opts connConfig) *walkProgress {
	p := &walkProgress{episode: pol.Episode(opts.rand)}
	if pol.Budget > 0 {
		p.deadline = opts.clock.Now().Add(pol.Budget)
	}
	return p
}

// walk runs passes over the URL list until a session is up, the policy or
// its budget is exhausted, an error is permanent, or ctx ends. It runs on a
// helper goroutine and touches no owner state.
func (c *Connection) walk(ctx context.Context, phase string, prog *walkProgress, def *confparse.Factory, chooser sequential.Chooser, lost *sequential.Endpoint, sched *attempts.Scheduler) (*session.Session, sequential.Endpoint, error) {
	ep0 := prog.episode
	cerr := &ConnectError{Factory: c.name, Phase: phase, Passes: prog.passes, Count: ep0.Policy().Count}
	if prog.lost != nil {
		cerr.add(prog.lostURL, prog.lost)
		prog.lost = nil
	}
	defer func() { prog.passes = cerr.Passes }()
	for {
		d, ok := ep0.Next()
		if !ok {
			return nil, sequential.Endpoint{}, cerr
		}
		if !prog.deadline.IsZero() && c.opts.clock.Now().Add(d).After(prog.deadline) {
			cerr.Budget = true
			return nil, sequential.Endpoint{}, cerr
		}
		attempt := ep0.Attempt()
		waitStart := c.opts.clock.Now()
		wait := attempts.Wait
		if ep0.Spreading() && sched != nil {
			// The spread after a storm signal shrinks when many
			// connections reconnect together: the scheduler's window
			// paces those (see Scheduler.WaitSpread).
			wait = sched.WaitSpread
		}
		if err := wait(ctx, c.opts.clock, d); err != nil {
			cerr.add("(waiting)", err)
			return nil, sequential.Endpoint{}, cerr
		}
		cerr.Passes++
		for i, ep := range chooser.Pass(lost) {
			var ticket *attempts.Ticket
			if sched != nil {
				t, err := sched.Acquire(ctx)
				if err != nil {
					cerr.add(ep.String(), err)
					return nil, sequential.Endpoint{}, cerr
				}
				ticket = t
			}
			if i == 0 && phase == "reconnect" {
				// Announced as the pass starts, with the wait that
				// happened (spread division and scheduler queueing
				// included) and the one the policy drew.
				waited := c.opts.clock.Now().Sub(waitStart)
				c.emit(Event{Kind: EventReconnecting, Attempt: attempt, Delay: waited, Drawn: d})
				if c.logs(logrus.InfoLevel) {
					c.log.WithFields(logrus.Fields{"attempt": attempt, "delay": waited, "drawn": d}).Info("reconnecting")
				}
			}
			timeout := def.Connect.Timeout
			if phase == "reconnect" {
				timeout = def.Reconnect.Timeout
			}
			start := c.opts.clock.Now()
			sess, err := c.dialOne(ctx, def, ep, timeout, ep0.ConnectBound(), true)
			o := outcome(err)
			ticket.Done(o)
			ep0.Report(o, c.opts.clock.Now().Sub(start), ticket.Queued())
			if err == nil {
				return sess, ep, nil
			}
			c.ext.failedAttempts.Add(1)
			c.f.metricsAttemptFailed(c.name, ep.String())
			if c.logs(logrus.WarnLevel) {
				c.log.WithFields(logrus.Fields{"url": ep.String(), "attempt": attempt}).WithError(err).Warn("attempt failed")
			}
			cerr.add(ep.String(), err)
			if attempts.IsPermanent(err) {
				cerr.Permanent = true
				return nil, sequential.Endpoint{}, cerr
			}
			if ctx.Err() != nil {
				if !errors.Is(err, ctx.Err()) {
					cerr.add("(context)", ctx.Err())
				}
				return nil, sequential.Endpoint{}, cerr
			}
		}
	}
}

func outcome(err error) attempts.Outcome {
	switch {
	case err == nil:
		return attempts.Success
	case attempts.IsPermanent(err):
		return attempts.Failed
	case errors.Is(err, attempts.ErrAbandoned):
		return attempts.Abandoned
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return attempts.TimedOut
	case isRefused(err):
		return attempts.Refused
	default:
		return attempts.Failed
	}
}

// ---------------------------------------------------------------- scheduler registry

// schedulers is the process-wide registry of reconnect schedulers: one per
// broker set, whatever Factory or definition the connections came from, so
// that two factories pointing at the same backup do not each open a full
// window on it. Entries are reference-counted by the connections using
// them and dropped when the last one closes.
var schedulers = &schedRegistry{m: map[string]*schedEntry{}}

type schedRegistry struct {
	mu sync.Mutex
	m  map[string]*schedEntry
}

type schedEntry struct {
	s    *attempts.Scheduler
	cfg  attempts.SchedulerConfig
	refs int
}

// acquire takes a reference on key's scheduler, creating it with cfg and
// clock if it does not exist.
func (r *schedRegistry) acquire(key string, cfg attempts.SchedulerConfig, clock attempts.Clock) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[key]
	if !ok {
		e = &schedEntry{s: attempts.NewScheduler(cfg, clock), cfg: cfg}
		r.m[key] = e
	}
	e.refs++
}

func (r *schedRegistry) release(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[key]; ok {
		e.refs--
		if e.refs <= 0 {
			delete(r.m, key)
		}
	}
}

// get returns key's scheduler (nil if nobody holds it).
func (r *schedRegistry) get(key string) *attempts.Scheduler {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[key]; ok {
		return e.s
	}
	return nil
}

// reconfigure gives key a new scheduler with cfg when its limits changed
// (a reload edited scheduler_*): reconnects that start from now on use it.
func (r *schedRegistry) reconfigure(key string, cfg attempts.SchedulerConfig, clock attempts.Clock) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[key]; ok && e.cfg != cfg {
		e.s = attempts.NewScheduler(cfg, clock)
		e.cfg = cfg
	}
}

// schedulerKey names def's broker set: its endpoints, normalised, sorted
// and deduplicated. A factory with an injected clock gets schedulers of its
// own (one clock's time cannot pace another's).
func (f *Factory) schedulerKey(def *confparse.Factory) string {
	var eps []string
	if def.URLs != nil {
		for _, ep := range def.URLs.Endpoints() {
			eps = append(eps, ep.String())
		}
	}
	sort.Strings(eps)
	eps = compactStrings(eps)
	key := strings.Join(eps, ",")
	if f.opts.conn.clock != attempts.SystemClock {
		key += "@" + f.id
	}
	return key
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// scheduler is the reconnect scheduler this connection's walks use now:
// WithScheduler's, else its broker set's; owner only.
func (c *Connection) scheduler() *attempts.Scheduler {
	if c.opts.scheduler != nil {
		return c.opts.scheduler
	}
	if s := schedulers.get(c.own.schedKey); s != nil {
		return s
	}
	return attempts.DefaultScheduler()
}
