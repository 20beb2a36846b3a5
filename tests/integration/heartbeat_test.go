package integration

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/tests/brokers"
)

// Idle heart-beats on the real brokers: no idle connection is ever
// declared dead while its broker is alive, and a frozen broker still is.

// idleLong makes TestIdleHeartbeats watch for 10 minutes instead of one:
//
//	go test ./tests/integration -run TestIdleHeartbeats -long -v -timeout 20m
var idleLong = flag.Bool("long", false, "TestIdleHeartbeats: watch idle connections for 10 minutes (default 60 s; STOMPFT_IDLE_WINDOW overrides both)")

// idleWindow is how long TestIdleHeartbeats watches: STOMPFT_IDLE_WINDOW (a
// Go duration, e.g. 10m) if set, else 10 minutes with -long, else 60 s.
func idleWindow(t *testing.T) time.Duration {
	if v := os.Getenv("STOMPFT_IDLE_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("STOMPFT_IDLE_WINDOW=%q: want a positive Go duration such as 10m", v)
		}
		return d
	}
	if *idleLong {
		return 10 * time.Minute
	}
	return time.Minute
}

// idleConnsPerCase: one connection that only exists, one with a
// subscription to an empty queue.
const idleConnsPerCase = 2

// idleCase is one broker with one heart-beat setting.
type idleCase struct {
	broker    string
	heartbeat string // the heartbeat key's value, "" for the default
	conns     []*factory.Connection
	recs      []*recorder
	drops     int // disconnects during the idle window
}

func (c *idleCase) label() string {
	hb := c.heartbeat
	if hb == "" {
		hb = "default"
	}
	return c.broker + " heartbeat=" + hb
}

// TestIdleHeartbeats opens idle connections to ActiveMQ (amq1) and RabbitMQ
// (rabbit1), with the default heart-beat settings and with heartbeat =
// 1000,1000, all at once, and fails on any disconnect during the window
// (ActiveMQ skips its next heart-beat after any frame it sends, so the gap
// between its beats reaches twice the interval). Then it freezes both
// brokers (SIGSTOP) and checks every connection detects it, printing the
// detection time against the negotiated beat.
func TestIdleHeartbeats(t *testing.T) {
	e := brokers.Require(t, brokers.AMQ1, brokers.Rabbit1)
	window := idleWindow(t)
	var cases []*idleCase
	for _, b := range []string{brokers.AMQ1, brokers.Rabbit1} {
		for _, hb := range []string{"", "1000,1000"} {
			cases = append(cases, &idleCase{broker: b, heartbeat: hb})
		}
	}
	var conf strings.Builder
	for i, c := range cases {
		keys := []string{"connect_attempt_count = 5", "connect_attempt_delay = 500", "connect_attempt_timeout = 10000",
			"reconnect_attempt_count = -1", "reconnect_attempt_delay = 500", "reconnect_attempt_timeout = 5000"}
		if strings.HasPrefix(c.broker, "rabbit") {
			keys = append(keys, "vhost = /", "login = guest", "passcode = guest")
		}
		if c.heartbeat != "" {
			keys = append(keys, "heartbeat = "+c.heartbeat)
		}
		conf.WriteString(section(fmt.Sprintf("Idle%d", i), "tcp://"+e.Addr(c.broker), keys...))
	}
	f, _ := load(t, conf.String())
	for i, c := range cases {
		for k := 0; k < idleConnsPerCase; k++ {
			rec := newRecorder()
			conn := connect(t, f, fmt.Sprintf("Idle%d", i), rabbitLimit, rec.option())
			if k == 1 {
				if _, err := conn.Subscribe(uniqueQueue(t)+fmt.Sprintf(".%d", i), stomp.AckClientIndividual); err != nil {
					t.Fatal(err)
				}
			}
			info, _ := conn.ServerInfo()
			if k == 0 {
				t.Logf("%s: %s negotiated: we beat every %v, the broker every %v", c.label(), info.Server, info.SendBeat, info.RecvBeat)
			}
			if info.RecvBeat <= 0 {
				t.Fatalf("%s: no heart-beat from the broker negotiated: %+v", c.label(), info)
			}
			c.conns = append(c.conns, conn)
			c.recs = append(c.recs, rec)
		}
	}

	t.Logf("watching %d idle connections for %v (load average %s)", len(cases)*idleConnsPerCase, window, loadAvg())
	<-time.After(window)
	// A machine starved of CPU delays every party's heart-beats, the
	// brokers' checks of the client's as much as the client's of theirs.
	t.Logf("window over (load average %s)", loadAvg())
	drops := 0
	for _, c := range cases {
		for _, r := range c.recs {
			evs := r.of(factory.EventDisconnected)
			for i, ev := range evs {
				if i < 3 {
					t.Logf("%s: dropped at %s: %v", c.label(), ev.Time.Format("15:04:05.000"), ev.Err)
				}
			}
			c.drops += len(evs)
		}
		drops += c.drops
		summary(t, e, "idle-heartbeat: %s window=%v connections=%d drops=%d load=%s", c.label(), window, len(c.conns), c.drops, loadAvg())
	}

	// A frozen broker is still detected: freeze both, and time each
	// connection's loss from the freeze.
	froze := map[string]time.Time{}
	for _, b := range []string{brokers.AMQ1, brokers.Rabbit1} {
		t.Cleanup(func() { _, _ = e.CtlErr(b, "thaw") })
		froze[b] = time.Now()
		e.Ctl(t, b, "freeze")
	}
	type detection struct {
		c       *idleCase
		beat    time.Duration
		silence time.Duration // the session's bound: beat × heartbeat_grace
		took    time.Duration
		err     error
	}
	var (
		mu  sync.Mutex
		got []detection
		wg  sync.WaitGroup
	)
	for _, c := range cases {
		if c.drops > 0 {
			// A connection that drops while idle cannot time a freeze:
			// it may be reconnecting, or lose its session by itself.
			summary(t, e, "frozen-detect: %s not measured (the connections dropped while idle)", c.label())
			continue
		}
		for k, r := range c.recs {
			info, _ := c.conns[k].ServerInfo()
			from := r.len()
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := detection{c: c, beat: info.RecvBeat, silence: info.Silence}
				ev, err := r.waitErr(factory.EventDisconnected, from, 3*info.RecvBeat+30*time.Second)
				switch {
				case err != nil:
					d.err = err
				case !errors.Is(ev.Err, factory.ErrHeartbeatTimeout):
					d.err = fmt.Errorf("lost by %v, want ErrHeartbeatTimeout", ev.Err)
				default:
					d.took = ev.Time.Sub(froze[c.broker])
				}
				mu.Lock()
				got = append(got, d)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	for _, b := range []string{brokers.AMQ1, brokers.Rabbit1} {
		e.Ctl(t, b, "thaw")
	}
	for _, d := range got {
		if d.err != nil {
			t.Errorf("%s: frozen broker not detected: %v", d.c.label(), d.err)
			continue
		}
		summary(t, e, "frozen-detect: %s beat=%v bound=%v detected=%v (%.2f beats)", d.c.label(), d.beat, d.silence, d.took.Round(time.Millisecond), float64(d.took)/float64(d.beat))
		// The bound is counted from the last byte received, before the
		// freeze; the slack is for a loaded machine (a missing check would
		// never fire at all).
		if d.took > d.silence+5*time.Second {
			t.Errorf("%s: frozen broker detected after %v, bound %v (beat × heartbeat_grace)", d.c.label(), d.took, d.silence)
		}
	}
	if drops > 0 {
		t.Fatalf("%d idle connections dropped while their broker was alive (window %v)", drops, window)
	}
}

// waitErr is wait for any goroutine: it returns an error instead of
// failing the test.
func (r *recorder) waitErr(k factory.EventKind, after int, limit time.Duration) (factory.Event, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for i := after; i < len(r.events); i++ {
			if r.events[i].Kind == k {
				e := r.events[i]
				r.mu.Unlock()
				return e, nil
			}
		}
		r.mu.Unlock()
		select {
		case <-r.signal:
		case <-deadline.C:
			return factory.Event{}, fmt.Errorf("no %v event within %v; saw %v", k, limit, r.kinds())
		}
	}
}

// summary logs one SUMMARY line of a real-broker scenario and appends it
// to <brokers dir>/summary.txt, which tests/run.sh prints after go test
// (go test shows no log of a passing test without -v).
func summary(t *testing.T, e *brokers.Env, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("SUMMARY "+format, args...)
	t.Log(line)
	f, err := os.OpenFile(filepath.Join(e.Dir(), "summary.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Logf("summary file: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %s: %s\n", time.Now().UTC().Format("15:04:05"), t.Name(), line[len("SUMMARY "):]); err != nil {
		t.Logf("summary file: %v", err)
	}
}

// loadAvg is the machine's 1, 5 and 15-minute load averages ("?" if
// unknown).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], "/")
}
