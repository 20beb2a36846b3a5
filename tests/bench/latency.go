package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/tests/brokers"
)

const latDest = "/topic/stompft-bench-failover"

// rawReceiptTimeout bounds the baseline's wait for a receipt.
const rawReceiptTimeout = 200 * time.Millisecond

// pairEnv is a primary/backup pair whose members can be crashed and brought back.
type pairEnv interface {
	addrs() [2]string
	// kill crashes broker i and returns the moment its connections were
	// reset (the ActiveMQ pair: the moment the kill began).
	kill(i int) (time.Time, error)
	restore(i int) error
	// settled waits until broker i holds at least n client connections
	// (the hot-standby spare), or gives up after a while.
	settled(i, n int) error
	name() string
}

// hostPair is two go-stomp brokers, crashed with RST, each in a
// broker-host process (h[0] and h[1]; the in-process rows use this process
// for both). Out of the client's process, as brokers are deployed: sharing
// the client's Go scheduler, a broker's reader would queue behind the
// client's own goroutines, a delay no deployment has; and in two processes,
// so the crash of one does not slow the other that takes over.
type hostPair struct {
	h     [2]*host
	names [2]string
	a     [2]string
}

var hostPairSeq int

func newHostPair(h [2]*host) (*hostPair, error) {
	hostPairSeq++
	p := &hostPair{h: h}
	for i := range p.names {
		p.names[i] = fmt.Sprintf("lat%d-%d", hostPairSeq, i)
		a, err := h[i].start(p.names[i], "tcp", 0)
		if err != nil {
			return nil, err
		}
		p.a[i] = a
	}
	return p, nil
}

func (p *hostPair) name() string                  { return "embedded" }
func (p *hostPair) addrs() [2]string              { return p.a }
func (p *hostPair) kill(i int) (time.Time, error) { return p.h[i].kill(p.names[i]) }
func (p *hostPair) restore(i int) error           { return p.h[i].restart(p.names[i], p.a[i]) }
func (p *hostPair) close() {
	for i, n := range p.names {
		_, _ = p.h[i].kill(n)
	}
}
func (p *hostPair) settled(i, n int) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, err := p.h[i].conns(p.names[i])
		if err != nil || got >= n {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("broker %d: %d connections, want %d", i, got, n)
		}
		<-time.After(time.Millisecond)
	}
}

// amqPair is the ActiveMQ shared-store master/slave pair of tests/brokers.
type amqPair struct {
	env   *brokers.Env
	a     [2]string
	names [2]string
}

func (p *amqPair) name() string     { return "ActiveMQ pair" }
func (p *amqPair) addrs() [2]string { return p.a }
func (p *amqPair) kill(i int) (time.Time, error) {
	at := time.Now()
	_, err := p.env.CtlErr(p.names[i], "kill9")
	return at, err
}
func (p *amqPair) restore(i int) error {
	if _, err := p.env.CtlErr(p.names[i], "start"); err != nil {
		return err
	}
	_, err := p.env.CtlErr(p.names[i], "wait-slave", "60")
	return err
}
func (p *amqPair) settled(i, n int) error { return nil }

// client is one failover client under test.
type client interface {
	// current is the index of the broker it is connected to.
	current() int
	// sendConfirmed sends one message and waits for its receipt,
	// failing over as needed, within limit.
	sendConfirmed(limit time.Duration) error
	// sendOnce is one receipt-confirmed send as an application makes it:
	// nil once confirmed; an error leaves the client ready to try again.
	sendOnce() error
	close()
}

// rawClient is what Go users write today with go-stomp: on any error,
// dial the next address at once, then send again with a receipt.
type rawClient struct {
	a    [2]string
	idx  int
	conn *stomp.Conn
	hung bool // the last sendConfirmed waited out a lost receipt
}

func (r *rawClient) current() int { return r.idx }

func (r *rawClient) sendConfirmed(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	r.hung = false
	for time.Now().Before(deadline) {
		if last = r.sendOnce(); last == nil {
			return nil
		}
	}
	return fmt.Errorf("raw go-stomp: no confirmed send within %v: %v", limit, last)
}

func (r *rawClient) sendOnce() error {
	if r.conn == nil {
		// go-stomp waits 30 s for a receipt that a dying connection
		// will never deliver (a request queued just as its loop
		// exits); a hand-written loop needs a shorter wait to be
		// usable at all. Trials that hit it are reported apart.
		c, err := stomp.Dial("tcp", r.a[r.idx], stomp.ConnOpt.RcvReceiptTimeout(rawReceiptTimeout))
		if err != nil {
			r.idx = 1 - r.idx
			return err
		}
		r.conn = c
	}
	err := r.conn.Send(latDest, "text/plain", []byte("ping"), stomp.SendOpt.Receipt)
	if err == nil {
		return nil
	}
	if errors.Is(err, stomp.ErrMsgReceiptTimeout) {
		r.hung = true
	}
	_ = r.conn.MustDisconnect()
	r.conn = nil
	r.idx = 1 - r.idx
	return err
}

func (r *rawClient) close() {
	if r.conn != nil {
		_ = r.conn.Disconnect()
	}
}

// standbyMissing counts hot-standby trials whose spare was not on the
// other broker 2 s after the previous failover.
var standbyMissing int

// slowTrial is the duration above which a trial's event timeline is printed.
const slowTrial = 3 * time.Millisecond

// latencyHangs counts, per backup setting, the baseline trials left out.
var latencyHangs = map[bool]int{}

// eventLog keeps a connection's events with their time since reset.
//
// It runs on the measured path (the connection's event handler, during a
// failover), so it only stores: a timeline is formatted when printed.
type eventLog struct {
	mu      sync.Mutex
	start   time.Time
	entries []logEntry
}

// logEntry is one line of a timeline: an event, or a mark of the bench's.
type logEntry struct {
	at   time.Time
	ev   factory.Event
	what string // a mark; "" for an event
}

func (l *eventLog) reset() {
	l.mu.Lock()
	l.start = time.Now()
	l.entries = l.entries[:0]
	l.mu.Unlock()
}

func (l *eventLog) add(e factory.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, logEntry{at: e.Time, ev: e})
}

func (l *eventLog) mark(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, logEntry{at: time.Now(), what: what})
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := make([]string, len(l.entries))
	for i, e := range l.entries {
		what := e.what
		if what == "" {
			what = e.ev.Kind.String()
			if e.ev.Err != nil {
				what += " (" + e.ev.Err.Error() + ")"
			}
		}
		lines[i] = fmt.Sprintf("%v %s", roundDur(e.at.Sub(l.start)), what)
	}
	return strings.Join(lines, "; ")
}

// ourClient is a factory connection.
type ourClient struct {
	a      [2]string
	conn   *factory.Connection
	events *eventLog
}

func newOurClient(a [2]string, backup bool) (*ourClient, error) {
	// Every reconnect key at its default (the first pass goes at once; a
	// storm signal brings the spread): what a lone application runs.
	kv := []string{
		"connect_attempt_count = 1",
		"reconnect_attempt_count = -1",
	}
	if backup {
		kv = append(kv, "backup = true")
	}
	f, err := newFactory("tcp://"+a[0]+",tcp://"+a[1], kv...)
	if err != nil {
		return nil, err
	}
	events := &eventLog{start: time.Now()}
	c, err := f.CreateConnection("Bench", factory.WithEventHandler(events.add))
	if err != nil {
		return nil, err
	}
	return &ourClient{a: a, conn: c, events: events}, nil
}

func (o *ourClient) current() int {
	if strings.HasSuffix(o.conn.CurrentURL(), o.a[1]) {
		return 1
	}
	return 0
}

func (o *ourClient) sendOnce() error {
	return o.conn.Send(latDest, "text/plain", []byte("ping"), stomp.SendOpt.Receipt)
}

func (o *ourClient) sendConfirmed(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := o.sendOnce()
		if err == nil {
			return nil
		}
		o.events.mark("send: " + err.Error())
		// In doubt (lost between the write and the receipt): the
		// application would send again, and so do we.
		if !errors.Is(err, factory.ErrInDoubt) || time.Now().After(deadline) {
			return err
		}
	}
}

func (o *ourClient) close() { _ = o.conn.Close() }

// prepare checks c works and, for the hot standby, waits for its spare;
// it returns the broker c is on.
func prepare(p pairEnv, c client, limit time.Duration, standby bool) (int, error) {
	// The client must be connected and working before the crash.
	if err := c.sendConfirmed(limit); err != nil {
		return 0, fmt.Errorf("before the crash: %w", err)
	}
	i := c.current()
	if standby {
		// The broker counts the spare's TCP connection before its CONNECT
		// completes: give the handshake a moment more.
		if err := p.settled(1-i, 1); err != nil {
			standbyMissing++
		} else {
			<-time.After(20 * time.Millisecond)
		}
	}
	return i, nil
}

// busyTrial is one failover of an application that sends all the time,
// one receipt-confirmed send after another: it kills the broker c is on and
// times from the reset to the confirmation of the first send issued after
// it (sends in flight at the crash may fail, or wait for a receipt).
func busyTrial(p pairEnv, c client, limit time.Duration, standby bool) (time.Duration, error) {
	i, err := prepare(p, c, limit, standby)
	if err != nil {
		return 0, err
	}
	oc, _ := c.(*ourClient)
	var (
		mu    sync.Mutex
		sends []sendTimes
		rst   time.Time // zero until the kill returns
	)
	found := make(chan time.Duration, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			issued := time.Now()
			if c.sendOnce() != nil {
				continue
			}
			confirmed := time.Now()
			mu.Lock()
			sends = append(sends, sendTimes{issued, confirmed})
			hit := !rst.IsZero() && !issued.Before(rst)
			mu.Unlock()
			if hit {
				select {
				case found <- confirmed.Sub(rst):
				default: // the kill's own scan found an earlier one
				}
				return
			}
		}
	}()
	// Crash mid-stream, not before the first send.
	streaming := time.Now().Add(limit)
	for n := 0; n < 10; {
		if time.Now().After(streaming) {
			close(stop)
			<-done
			return 0, fmt.Errorf("%d confirmed sends in %v before the crash, want 10", n, limit)
		}
		mu.Lock()
		n = len(sends)
		mu.Unlock()
		<-time.After(100 * time.Microsecond)
	}
	if oc != nil {
		oc.events.mark("kill")
	}
	at, err := p.kill(i)
	if err != nil {
		close(stop)
		<-done
		return 0, err
	}
	if oc != nil {
		oc.events.mark("killed")
	}
	mu.Lock()
	rst = at
	for _, s := range sends {
		if !s.issued.Before(rst) {
			found <- s.confirmed.Sub(rst)
			break
		}
	}
	mu.Unlock()
	var d time.Duration
	select {
	case d = <-found:
	case <-time.After(limit):
		err = fmt.Errorf("no confirmed send within %v of the crash", limit)
	}
	close(stop)
	<-done
	if oc != nil {
		oc.events.mark("confirmed")
	}
	if err == nil && c.current() == i {
		err = fmt.Errorf("still on broker %d after its crash", i)
	}
	if rerr := p.restore(i); rerr != nil && err == nil {
		err = rerr
	}
	return d, err
}

// sendTimes is one confirmed send of busyTrial's application.
type sendTimes struct{ issued, confirmed time.Time }

// trial kills the broker c is on, then times the first confirmed send:
// for the ActiveMQ pair, whose kill is a script that returns when the
// broker is gone (a send made meanwhile could still succeed on it).
func trial(p pairEnv, c client, limit time.Duration, standby bool) (time.Duration, error) {
	i, err := prepare(p, c, limit, standby)
	if err != nil {
		return 0, err
	}
	oc, _ := c.(*ourClient)
	if oc != nil {
		oc.events.mark("kill")
	}
	start, err := p.kill(i)
	if err != nil {
		return 0, err
	}
	if oc != nil {
		oc.events.mark("killed")
	}
	err = c.sendConfirmed(limit)
	d := time.Since(start)
	if oc != nil {
		oc.events.mark("confirmed")
	}
	if rerr := p.restore(i); rerr != nil && err == nil {
		err = rerr
	}
	return d, err
}

// trialGap separates trials: a failover follows a quiet period, and the
// factory's reconnect scheduler (burst 8, 50 attempts/s to start with) would
// otherwise throttle a connection failing over hundreds of times a second.
const trialGap = 50 * time.Millisecond

// latencyRun interleaves trials of the raw baseline and of ours, each on
// its own pair so that one client's crash never touches the other.
func latencyRun(cfg config, mk func() (pairEnv, func(), error), trials int, limit time.Duration, backup bool) (raw, ours []time.Duration, err error) {
	rp, closeR, err := mk()
	if err != nil {
		return nil, nil, err
	}
	defer closeR()
	op, closeO, err := mk()
	if err != nil {
		return nil, nil, err
	}
	defer closeO()
	rc := &rawClient{a: rp.addrs()}
	defer rc.close()
	oc, err := newOurClient(op.addrs(), backup)
	if err != nil {
		return nil, nil, err
	}
	defer oc.close()
	hangs := 0
	for t := 0; t < trials; t++ {
		<-time.After(trialGap)
		d, err := busyTrial(rp, rc, limit, false)
		if err != nil {
			return nil, nil, fmt.Errorf("raw trial %d: %w", t, err)
		}
		if rc.hung {
			// Kept out of the baseline's figures (see rawReceiptTimeout):
			// the goal is measured against the loop at its best.
			hangs++
		} else {
			raw = append(raw, d)
		}
		<-time.After(trialGap)
		oc.events.reset()
		d, err = busyTrial(op, oc, limit, backup)
		if err != nil {
			return nil, nil, fmt.Errorf("stompft trial %d: %w; events: %s; stats %+v", t, err, oc.events.String(), oc.conn.Stats())
		}
		ours = append(ours, d)
		if d > slowTrial {
			cfg.progressf("slow stompft trial %d: %v; events: %s", t, roundDur(d), oc.events.String())
		}
	}
	if hangs > 0 {
		cfg.progressf("raw go-stomp loop: %d of %d trials lost their receipt (go-stomp waits out its receipt timeout, %v here); not counted", hangs, trials, rawReceiptTimeout)
		latencyHangs[backup] = hangs
	}
	return raw, ours, nil
}

// hostPairs makes fresh pairs whose two brokers run in two broker-host
// processes, as two deployed brokers would: one broker's crash and teardown
// take no CPU time from the process of the other. The returned function
// stops both processes.
func hostPairs() (func() (pairEnv, func(), error), func(), error) {
	h0, err := startHost("", "")
	if err != nil {
		return nil, nil, err
	}
	h1, err := startHost("", "")
	if err != nil {
		h0.close()
		return nil, nil, err
	}
	return pairsOn([2]*host{h0, h1})
}

// inProcessPairs makes fresh pairs whose brokers run in this process, the
// client's (the broker host's loop on a goroutine).
func inProcessPairs() (func() (pairEnv, func(), error), func(), error) {
	h := startHostInProcess()
	return pairsOn([2]*host{h, h})
}

// pairsOn makes fresh pairs on h; the returned function stops h.
func pairsOn(hs [2]*host) (func() (pairEnv, func(), error), func(), error) {
	mk := func() (pairEnv, func(), error) {
		p, err := newHostPair(hs)
		if err != nil {
			return nil, nil, err
		}
		return p, p.close, nil
	}
	return mk, func() {
		hs[0].close()
		if hs[1] != hs[0] {
			hs[1].close()
		}
	}, nil
}

// latencyTrials is the trial count for items 1 and 2 on embedded brokers:
// 600, so that p99 is the seventh-slowest trial (one stall of this shared
// machine is never the figure) and a median's run-to-run spread (about
// ±5 % at 200 trials here) stays well inside the margins the goals leave.
func latencyTrials(cfg config) int {
	if cfg.quick {
		return 10
	}
	return 600
}

func benchLatency(cfg config, rep *report) error {
	mk, stop, err := hostPairs()
	if err != nil {
		return err
	}
	raw, ours, err := latencyRun(cfg, mk, latencyTrials(cfg), 10*time.Second, false)
	stop()
	if err != nil {
		return err
	}
	addLatencyRows(cfg, rep, "embedded", raw, ours, 2*time.Millisecond)
	addMedianRow(rep, "1 failover latency", "embedded, broker process apart", raw, ours, 1.1)
	hangNote(rep, "1", false)

	// The same with the brokers in the client's own process, as an
	// application's tests run them: the brokers' goroutines share the
	// client's Go scheduler, for both clients alike.
	latencyHangs[false] = 0
	mk, stop, err = inProcessPairs()
	if err != nil {
		return err
	}
	raw, ours, err = latencyRun(cfg, mk, latencyTrials(cfg), 10*time.Second, false)
	stop()
	if err != nil {
		return fmt.Errorf("one process: %w", err)
	}
	addMedianRow(rep, "1 failover latency", "embedded, one process (brokers in the client's process), "+crashDesc("embedded, one process"), raw, ours, 1.2)
	if n := latencyHangs[false]; n > 0 {
		rep.note("item 1, one process: in %d trials the go-stomp baseline lost a receipt and waited out its receipt timeout (%v here); left out of its figures", n, rawReceiptTimeout)
	}
	if !cfg.amq {
		return nil
	}
	env, err := brokers.Load()
	if err != nil || len(env.PairAddrs()) != 2 {
		rep.note("1 latency, ActiveMQ pair: skipped: ActiveMQ pair not running (start it with tests/brokers/up.sh)")
		return nil
	}
	// Tests of tests/brokers take this lock for the pair; so do we, so
	// that nobody's test sees the pair crash under it.
	unlock, err := env.LockPair(5 * time.Minute)
	if err != nil {
		rep.note("1 latency, ActiveMQ pair: skipped: %v", err)
		return nil
	}
	defer unlock()
	ap := &amqPair{env: env, names: [2]string{brokers.AMQMaster, brokers.AMQSlave}}
	copy(ap.a[:], env.PairAddrs())
	trials := 30
	if cfg.quick {
		trials = 5
	}
	// One pair only: the baseline and ours take turns on it.
	raw, ours, err = amqRun(cfg, ap, trials, 60*time.Second)
	if err != nil {
		return fmt.Errorf("ActiveMQ pair: %w", err)
	}
	addLatencyRows(cfg, rep, ap.name(), raw, ours, 2*time.Millisecond)
	return nil
}

func addLatencyRows(cfg config, rep *report, where string, raw, ours []time.Duration, slack time.Duration) {
	qr, qo := quantilesOf(raw), quantilesOf(ours)
	cfg.progressf("%s: raw %v", where, qr)
	cfg.progressf("%s: stompft %v", where, qo)
	item := "1 failover latency"
	rep.add(row{
		Item:    item,
		Measure: fmt.Sprintf("%s, %s → first receipt-confirmed send on the backup, %d trials", where, crashDesc(where), qo.N),
		Ours:    qo.String(),
		Base:    qr.String() + " (go-stomp redial loop)",
		Ratio:   fmt.Sprintf("p99 %+v", roundDur(qo.P99-qr.P99)),
		Goal:    fmt.Sprintf("p99 ≤ baseline p99 + %v", slack),
		Verdict: atMostDur(qo.P99, qr.P99+slack),
	})
}

func benchStandby(cfg config, rep *report) error {
	mk, stop, err := hostPairs()
	if err != nil {
		return err
	}
	raw, ours, err := latencyRun(cfg, mk, latencyTrials(cfg), 10*time.Second, true)
	stop()
	if err != nil {
		return err
	}
	hangNote(rep, "2", true)
	if standbyMissing > 0 {
		rep.note("item 2: in %d of %d trials the hot-standby spare was not on the other broker 2 s after the previous failover, so the crash was handled by an ordinary reconnect", standbyMissing, latencyTrials(cfg))
	}
	qr, qo := quantilesOf(raw), quantilesOf(ours)
	cfg.progressf("raw %v", qr)
	cfg.progressf("stompft backup=true %v", qo)
	rep.add(row{
		Item:    "2 hot standby",
		Measure: fmt.Sprintf("embedded, backup = true, %s → first receipt-confirmed send on the backup, %d trials", crashDesc("embedded"), qo.N),
		Ours:    qo.String(),
		Base:    qr.String() + " (go-stomp redial loop)",
		Ratio:   fmt.Sprintf("p99 / baseline p50 = %.2f", float64(qo.P99)/float64(qr.P50)),
		Goal:    "p99 < baseline p50",
		Verdict: atMostDur(qo.P99, qr.P50),
	})
	return nil
}

// amqRun alternates the two clients on the one ActiveMQ pair; each is
// connected only during its own trial so that the other's crash does not
// touch it.
func amqRun(cfg config, p *amqPair, trials int, limit time.Duration) (raw, ours []time.Duration, err error) {
	for t := 0; t < trials; t++ {
		rc := &rawClient{a: p.addrs()}
		d, err := trial(p, rc, limit, false)
		rc.close()
		if err != nil {
			return nil, nil, fmt.Errorf("raw trial %d: %w", t, err)
		}
		if rc.hung {
			cfg.progressf("ActiveMQ trial %d: the raw loop lost a receipt; not counted", t)
		} else {
			raw = append(raw, d)
		}
		oc, err := newOurClient(p.addrs(), false)
		if err != nil {
			return nil, nil, err
		}
		d, err = trial(p, oc, limit, false)
		oc.close()
		if err != nil {
			return nil, nil, fmt.Errorf("stompft trial %d: %w", t, err)
		}
		ours = append(ours, d)
		cfg.progressf("ActiveMQ trial %d: stompft %v", t, roundDur(d))
	}
	return raw, ours, nil
}

// addMedianRow adds the p50 and p99 of ours against the redial loop's of
// the same run, as ratios, with the goal p50 ≤ goal × raw.
func addMedianRow(rep *report, item, where string, raw, ours []time.Duration, goal float64) {
	qr, qo := quantilesOf(raw), quantilesOf(ours)
	r50 := float64(qo.P50) / float64(qr.P50)
	r99 := float64(qo.P99) / float64(qr.P99)
	rep.add(row{
		Item:    item,
		Measure: fmt.Sprintf("%s: p50 and p99 against the go-stomp redial loop, %d trials", where, qo.N),
		Ours:    fmt.Sprintf("p50 %v · p99 %v", roundDur(qo.P50), roundDur(qo.P99)),
		Base:    fmt.Sprintf("p50 %v · p99 %v (go-stomp redial loop)", roundDur(qr.P50), roundDur(qr.P99)),
		Ratio:   fmt.Sprintf("p50 %.2f × · p99 %.2f ×", r50, r99),
		Goal:    fmt.Sprintf("p50 ≤ %.1f × raw", goal),
		Verdict: atMost(r50, goal, " ×"),
	})
}

// hangNote reports the baseline trials left out of an item's figures.
func hangNote(rep *report, item string, backup bool) {
	if n := latencyHangs[backup]; n > 0 {
		rep.note("item %s: in %d trials the go-stomp baseline lost the receipt of a send made as the connection died and waited out its receipt timeout (30 s by default, %v here); those trials are left out of its figures, which flatters the baseline", item, n, rawReceiptTimeout)
	}
}

// crashDesc says how a pair's broker is crashed and how the trial is timed.
func crashDesc(where string) string {
	if strings.Contains(where, "one process") {
		return "RST (sending all the time, timed from the reset to the first send issued after it)"
	}
	if strings.HasPrefix(where, "embedded") {
		return "RST (broker process apart; sending all the time, timed from the reset to the first send issued after it)"
	}
	return "kill -9 of the live broker (timed from the kill; first send after it returns)"
}
