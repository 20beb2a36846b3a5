package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/tests/faultproxy"
)

// benchDetect blackholes the link to the primary (a partition: no RST, no
// FIN, nothing) and times how long the factory takes to notice through
// heart-beats and reach the backup, in heart-beat intervals.
func benchDetect(cfg config, rep *report) error {
	const hb = 200 * time.Millisecond
	const grace = 1.5
	trials := 20
	if cfg.quick {
		trials = 5
	}
	var ratios []float64
	stuck := 0
	for t := 0; t < trials; t++ {
		r, events, err := detectTrial(hb, grace)
		if err != nil {
			return fmt.Errorf("trial %d: %w", t, err)
		}
		if r > grace+1 {
			stuck++
			cfg.progressf("slow trial %d: %.2f H; events: %s", t, r, events)
		}
		ratios = append(ratios, r)
	}
	if stuck > 0 {
		rep.note("item 3: in %d of %d trials the send in flight when the heart-beat deadline fired stayed pending until send_timeout (3 s here) although the connection had already moved to the backup: the factory's sessionEnded ignores a session whose epoch is no longer current, so when the supervisor installs the new session before the old session's End callback runs, that session's pending receipts are never failed (factory bug, see the report)", stuck, trials)
	}
	ds := make([]time.Duration, len(ratios))
	for i, r := range ratios {
		ds[i] = time.Duration(r * float64(hb))
	}
	q := quantilesOf(ds)
	inH := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/float64(hb), 'f', 2, 64) + " H" }
	cfg.progressf("H=%v grace=%v: %v", hb, grace, q)
	goal := grace + 0.2
	rep.add(row{
		Item:    "3 silent failure",
		Measure: fmt.Sprintf("blackholed primary, heartbeat H = %v, heartbeat_grace %.1f: blackhole → first confirmed send on the backup, %d trials", hb, grace, q.N),
		Ours:    fmt.Sprintf("p50 %s · p99 %s · max %s", inH(q.P50), inH(q.P99), inH(q.Max)),
		Base:    "— (go-stomp: no detection without traffic)",
		Ratio:   "max " + inH(q.Max),
		Goal:    fmt.Sprintf("≤ grace + 0.2 = %.1f H", goal),
		Verdict: atMost(float64(q.Max)/float64(hb), goal, " H"),
	})
	return nil
}

// detectTrial returns the time to recover, in heart-beat intervals.
func detectTrial(hb time.Duration, grace float64) (float64, *eventLog, error) {
	primary, err := embedded.New(embedded.Options{HeartBeat: hb, Engine: embedded.EngineMini})
	if err != nil {
		return 0, nil, err
	}
	defer primary.Close()
	backup, err := embedded.New(embedded.Options{HeartBeat: hb, Engine: embedded.EngineMini})
	if err != nil {
		return 0, nil, err
	}
	defer backup.Close()
	px, err := faultproxy.New(primary.Addr())
	if err != nil {
		return 0, nil, err
	}
	defer px.Close()
	ms := strconv.FormatInt(hb.Milliseconds(), 10)
	f, err := newFactory("tcp://"+px.Addr()+",tcp://"+backup.Addr(),
		"connect_attempt_count = 1",
		"heartbeat = "+ms+","+ms,
		"heartbeat_grace = "+strconv.FormatFloat(grace, 'f', -1, 64),
		"reconnect_attempt_count = -1", // the other reconnect keys at their defaults
		"send_timeout = 3000",
	)
	if err != nil {
		return 0, nil, err
	}
	events := &eventLog{start: time.Now()}
	c, err := f.CreateConnection("Bench", factory.WithEventHandler(events.add))
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	oc := &ourClient{a: [2]string{px.Addr(), backup.Addr()}, conn: c, events: events}
	if err := oc.sendConfirmed(5 * time.Second); err != nil {
		return 0, nil, err
	}
	// Let a few beats flow so that the trial starts at a random phase.
	<-time.After(hb + time.Duration(time.Now().UnixNano()%int64(hb)))
	start := time.Now()
	if err := px.SetMode(faultproxy.Blackhole); err != nil {
		return 0, nil, err
	}
	px.BlackholeAll()
	events.mark("blackhole")
	if err := oc.sendConfirmed(30 * time.Second); err != nil {
		info, _ := c.ServerInfo()
		return 0, nil, fmt.Errorf("%w (server info %+v; events: %s)", err, info, events)
	}
	d := time.Since(start)
	if oc.current() != 1 {
		return 0, nil, fmt.Errorf("confirmed on %s, not the backup", c.CurrentURL())
	}
	if c.Stats().Reconnects == 0 {
		return 0, nil, fmt.Errorf("no reconnect")
	}
	return float64(d) / float64(hb), events, nil
}
