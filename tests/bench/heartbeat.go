package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/tests/brokers"
)

// hbConn is one idle connection of the heart-beat item and what happened
// to it.
type hbConn struct {
	conn    *factory.Connection
	beat    time.Duration // the broker's negotiated heart-beat
	silence time.Duration // the session's detection bound: beat × heartbeat_grace

	mu    sync.Mutex
	drops []factory.Event
	sig   chan struct{}
}

func (h *hbConn) handle(e factory.Event) {
	if e.Kind != factory.EventDisconnected {
		return
	}
	h.mu.Lock()
	h.drops = append(h.drops, e)
	h.mu.Unlock()
	select {
	case h.sig <- struct{}{}:
	default:
	}
}

func (h *hbConn) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.drops)
}

// waitDrop waits for the drop after the first n, within limit.
func (h *hbConn) waitDrop(n int, limit time.Duration) (factory.Event, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		if len(h.drops) > n {
			e := h.drops[n]
			h.mu.Unlock()
			return e, nil
		}
		h.mu.Unlock()
		select {
		case <-h.sig:
		case <-deadline.C:
			return factory.Event{}, fmt.Errorf("not detected within %v", limit)
		}
	}
}

// hbCase is one broker with one heartbeat setting.
type hbCase struct {
	broker, heartbeat string
	conns             []*hbConn
}

func (c *hbCase) label() string {
	hb := c.heartbeat
	if hb == "" {
		hb = "default"
	}
	kind := "ActiveMQ"
	if strings.HasPrefix(c.broker, "rabbit") {
		kind = "RabbitMQ"
	}
	return fmt.Sprintf("%s (%s), heartbeat %s", kind, c.broker, hb)
}

// benchHeartbeat watches idle connections to the real ActiveMQ and RabbitMQ
// (amq1, rabbit1 of tests/brokers) with the default heart-beat settings and
// with heartbeat = 1000,1000, counts their disconnects, then freezes both
// brokers (SIGSTOP) and times each connection's detection of it.
func benchHeartbeat(cfg config, rep *report) error {
	env, err := brokers.Load()
	if err != nil || env.Addr(brokers.AMQ1) == "" || env.Addr(brokers.Rabbit1) == "" {
		rep.note("7 heart-beats: skipped: real brokers not running (start them with tests/brokers/up.sh)")
		return nil
	}
	names := []string{brokers.AMQ1, brokers.Rabbit1}
	for _, n := range names {
		unlock, err := env.Lock(n, 5*time.Minute)
		if err != nil {
			rep.note("7 heart-beats: skipped: %s: %v", n, err)
			return nil
		}
		defer unlock()
	}
	window := time.Minute
	if cfg.quick {
		window = 10 * time.Second
	}
	const perCase = 2
	var cases []*hbCase
	for _, b := range names {
		for _, hb := range []string{"", "1000,1000"} {
			c := &hbCase{broker: b, heartbeat: hb}
			kv := []string{"connect_attempt_count = 3", "reconnect_attempt_count = -1", "reconnect_attempt_delay = 500", "reconnect_attempt_timeout = 5000"}
			if strings.HasPrefix(b, "rabbit") {
				kv = append(kv, "vhost = /", "login = guest", "passcode = guest")
			}
			if hb != "" {
				kv = append(kv, "heartbeat = "+hb)
			}
			f, err := newFactory("tcp://"+env.Addr(b), kv...)
			if err != nil {
				return err
			}
			defer f.Close()
			for i := 0; i < perCase; i++ {
				h := &hbConn{sig: make(chan struct{}, 1)}
				conn, err := f.CreateConnection("Bench", factory.WithEventHandler(h.handle))
				if err != nil {
					return fmt.Errorf("%s: %w", c.label(), err)
				}
				defer conn.Close()
				info, _ := conn.ServerInfo()
				h.conn, h.beat, h.silence = conn, info.RecvBeat, info.Silence
				c.conns = append(c.conns, h)
			}
			cases = append(cases, c)
		}
	}
	cfg.progressf("%d idle connections for %v", len(cases)*perCase, window)
	<-time.After(window)
	for _, c := range cases {
		n := 0
		for _, h := range c.conns {
			n += h.count()
		}
		cfg.progressf("%s: %d drops", c.label(), n)
		rep.add(row{
			Item:    "7 heart-beats",
			Measure: fmt.Sprintf("idle connections, %s: disconnects while the broker is alive, %d connections × %v", c.label(), perCase, window),
			Ours:    fmt.Sprintf("%d", n),
			Ratio:   fmt.Sprintf("%d", n),
			Goal:    "0",
			Verdict: atMost(float64(n), 0, ""),
		})
	}

	// Freeze both brokers; time each connection's loss from the freeze.
	// The bench sends SIGSTOP itself (what ctl.sh freeze does), so the
	// moment taken is the signal's to within microseconds: timed from
	// before a ctl.sh run, a beat the broker wrote while the script started
	// would count against the client.
	froze := map[string]time.Time{}
	for _, b := range names {
		out, err := env.CtlErr(b, "pid")
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			return fmt.Errorf("ctl.sh %s pid: %q: %w", b, out, err)
		}
		froze[b] = time.Now()
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			return fmt.Errorf("freezing %s (pid %d): %w", b, pid, err)
		}
		defer func() { _, _ = env.CtlErr(b, "thaw") }()
	}
	type result struct {
		c    *hbCase
		took []time.Duration
		err  error
	}
	res := make([]result, len(cases))
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for i, c := range cases {
		res[i].c = c
		if c.conns[0].count() > 0 || c.conns[1].count() > 0 {
			res[i].err = errors.New("not measured: the connections dropped while idle")
			continue
		}
		for _, h := range c.conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev, err := h.waitDrop(0, 3*h.beat+30*time.Second)
				if err == nil && !errors.Is(ev.Err, factory.ErrHeartbeatTimeout) {
					err = fmt.Errorf("lost by %v, not the heart-beat deadline", ev.Err)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					res[i].err = err
					return
				}
				res[i].took = append(res[i].took, ev.Time.Sub(froze[c.broker]))
			}()
		}
	}
	wg.Wait()
	for _, b := range names {
		if out, err := env.CtlErr(b, "thaw"); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
	}
	for _, r := range res {
		x := row{Item: "7 heart-beats", Measure: fmt.Sprintf("frozen broker (SIGSTOP), %s: freeze → connection lost (ErrHeartbeatTimeout), %d connections", r.c.label(), perCase)}
		if r.err != nil {
			x.Ours = r.err.Error()
		} else {
			q := quantilesOf(r.took)
			beat, bound := r.c.conns[0].beat, r.c.conns[0].silence
			x.Ours = fmt.Sprintf("max %v", roundDur(q.Max))
			x.Base = fmt.Sprintf("broker beat %v", beat)
			x.Ratio = fmt.Sprintf("%.2f × beat", float64(q.Max)/float64(beat))
			x.Goal = fmt.Sprintf("≤ beat × heartbeat_grace = %v", bound)
			x.Verdict = atMostDur(q.Max, bound)
		}
		rep.add(x)
	}
	return nil
}
