package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/sirupsen/logrus"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
)

// Headers the demo puts on every message: which run sent it and its number.
const (
	runHeader = "demo-run"
	seqHeader = "demo-seq"
)

// config is what the flags set; run needs nothing else.
type config struct {
	Conf     string        // factories.conf; "" = start an embedded pair and write one
	Factory  string        // factory name in Conf
	Dest     string        // queue the producer sends to and the consumer reads
	Count    int           // messages to send
	Rate     float64       // messages per second; 0 = as fast as the broker takes them
	Kills    int           // broker kills (embedded pair only)
	Drain    time.Duration // how long the consumer may take after the last send
	Terminal bool          // redraw the progress line in place
	Progress time.Duration // progress period; 0 = 200 ms on a terminal, else 1 s
	Logger   logrus.FieldLogger
}

// summary is the outcome of a run.
type summary struct {
	Embedded   bool
	Sent       int // sends that succeeded
	SendErrors int // sends that returned an error
	Received   int // distinct messages of this run the consumer got
	Duplicates int // second copies dropped (by DropDuplicates or, failing that, by the demo)
	Lost       int // sent and never received
	Stale      int // messages of an earlier run found in the queue (acked, ignored)
	Producer   []time.Duration
	Consumer   []time.Duration
	Elapsed    time.Duration
	Closing    error // what closing the connections reported
}

// ok reports whether nothing was lost and every send succeeded.
func (s summary) ok() bool { return s.Lost == 0 && s.SendErrors == 0 }

// exitCode maps a run's outcome to the process exit status.
func exitCode(s summary, err error) int {
	if err != nil || !s.ok() {
		return 1
	}
	return 0
}

// demoConf is the factories.conf written for the embedded pair.
const demoConf = `# Written by examples/failover-demo for its embedded brokers.
[FTQueueConnectionFactory]
  type                      = queue
  url                       = %s,%s
  connect_attempt_count     = 4
  connect_attempt_delay     = 250
  connect_attempt_timeout   = 1000
  reconnect_attempt_count   = 40
  reconnect_attempt_delay   = 250
  reconnect_attempt_timeout = 1000
  reconnect_spread          = 0      # one client: no reconnect storm to spread
  track_messages            = true   # keep every send until its receipt; replay after failover
  send_timeout              = 30s
`

// run runs the demo, printing to out, and returns its summary. The error is
// for a demo that could not run at all (brokers, file, first connection).
func run(ctx context.Context, cfg config, out io.Writer) (summary, error) {
	if cfg.Count < 1 {
		return summary{}, errors.New("-count must be at least 1")
	}
	if cfg.Kills < 0 {
		return summary{}, errors.New("-kills must not be negative")
	}
	if cfg.Rate < 0 {
		return summary{}, errors.New("-rate must not be negative")
	}
	if cfg.Factory == "" {
		cfg.Factory = "FTQueueConnectionFactory"
	}
	if cfg.Dest == "" {
		cfg.Dest = "/queue/stompft.demo"
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 30 * time.Second
	}
	p := &printer{w: out, term: cfg.Terminal, start: time.Now()}
	d := &demo{cfg: cfg, p: p, runID: strconv.FormatInt(time.Now().UnixNano(), 36)}
	d.sum.Embedded = cfg.Conf == ""

	path := cfg.Conf
	if d.sum.Embedded {
		dir, err := os.MkdirTemp("", "stompft-demo")
		if err != nil {
			return d.sum, err
		}
		defer func() { _ = os.RemoveAll(dir) }()
		pair, err := factorytest.StartPair()
		if err != nil {
			return d.sum, fmt.Errorf("starting the embedded brokers: %w", err)
		}
		d.primary, d.backup = pair.Primary, pair.Backup
		defer pair.Close()
		path = filepath.Join(dir, "factories.conf")
		if err := os.WriteFile(path, []byte(fmt.Sprintf(demoConf, d.primary.URL(), d.backup.URL())), 0o600); err != nil {
			return d.sum, err
		}
		p.linef("primary broker %s, backup broker %s (embedded, shared store)", d.primary.URL(), d.backup.URL())
		p.linef("factories.conf: %s [%s]", path, cfg.Factory)
	} else {
		p.linef("using %s [%s]: these brokers are yours, so the demo kills none (-kills ignored);", path, cfg.Factory)
		p.linef("stop and start them yourself while it runs to watch the connections fail over")
	}

	opts := []factory.FactoryOption{factory.WithWatch(false)}
	if cfg.Logger != nil {
		opts = append(opts, factory.WithLogger(cfg.Logger))
	}
	f, err := factory.Load(path, opts...)
	if err != nil {
		return d.sum, err
	}
	defer func() { _ = f.Close() }()
	def, err := f.Definition(cfg.Factory)
	if err != nil {
		return d.sum, err
	}
	for _, ep := range def.URLs.Endpoints() {
		d.urls = append(d.urls, ep.String())
	}
	if !d.sum.Embedded && !def.TrackMessages {
		p.linef("note: [%s] has track_messages off: sends in flight at a failover are not replayed and may be lost", cfg.Factory)
	}
	return d.run(ctx, f)
}

// demo is one run's state.
type demo struct {
	cfg             config
	p               *printer
	runID           string
	urls            []string // the factory's URLs, in order: [0] primary, [1] backup
	primary, backup *factorytest.Broker

	sent     atomic.Int64
	received atomic.Int64
	notify   chan struct{} // poked by the consumer after each new message

	mu       sync.Mutex
	sentOK   []bool // by seq-1
	got      []bool // by seq-1
	sum      summary
	producer *factory.Connection
	consumer *factory.Connection
}

// role names a URL by its place in the factory's list.
func (d *demo) role(url string) string {
	for i, u := range d.urls {
		if u == url {
			switch i {
			case 0:
				return "primary"
			case 1:
				return "backup"
			default:
				return "backup " + strconv.Itoa(i)
			}
		}
	}
	return url
}

// events turns one connection's factory events into timeline lines.
func (d *demo) events(who string) func(factory.Event) {
	return func(e factory.Event) {
		switch e.Kind {
		case factory.EventConnected:
			d.p.event(who, "connected to %s (%s)", d.role(e.URL), e.URL)
		case factory.EventDisconnected:
			d.p.event(who, "lost %s (%s): %v", d.role(e.URL), e.URL, e.Err)
		case factory.EventReconnecting:
			d.p.event(who, "reconnect attempt %d after %d ms", e.Attempt, e.Delay.Milliseconds())
		case factory.EventReconnected:
			d.mu.Lock()
			if who == "producer" {
				d.sum.Producer = append(d.sum.Producer, e.Downtime)
			} else {
				d.sum.Consumer = append(d.sum.Consumer, e.Downtime)
			}
			d.mu.Unlock()
			d.p.event(who, "reconnected to %s after %d ms (%s; %s)", d.role(e.URL), e.Downtime.Milliseconds(), e.Downtime.Round(time.Microsecond), e.URL)
		case factory.EventResubscribed:
			d.p.event(who, "resubscribed (%d subscription(s))", e.Count)
		case factory.EventReplayed:
			d.p.event(who, "replayed %d unconfirmed send(s)", e.Count)
		case factory.EventSwitched:
			d.p.event(who, "switched to %s (%s)", d.role(e.URL), e.URL)
		case factory.EventSendRejected:
			d.p.event(who, "broker rejected a send: %v", e.Err)
		case factory.EventFailed:
			d.p.event(who, "gave up reconnecting: %v", e.Err)
		}
	}
}

func (d *demo) run(ctx context.Context, f *factory.Factory) (summary, error) {
	cfg := d.cfg
	d.sentOK = make([]bool, cfg.Count)
	d.got = make([]bool, cfg.Count)
	d.notify = make(chan struct{}, 1)
	start := time.Now()

	// A subscription buffer larger than any broker's window of unacked
	// deliveries (the embedded engine's is 1000), so a delivery never waits
	// for room in it.
	consumer, err := f.CreateConnectionContext(ctx, cfg.Factory,
		factory.WithEventHandler(d.events("consumer")), factory.WithSubscriptionBuffer(4096))
	if err != nil {
		return d.sum, err
	}
	sub, err := consumer.SubscribeContext(ctx, cfg.Dest, stomp.AckClientIndividual, factory.DropDuplicates(0))
	if err != nil {
		_ = consumer.Close()
		return d.sum, err
	}
	producer, err := f.CreateConnectionContext(ctx, cfg.Factory, factory.WithEventHandler(d.events("producer")))
	if err != nil {
		_ = consumer.Close()
		return d.sum, err
	}
	d.mu.Lock()
	d.producer = producer
	d.consumer = consumer
	d.mu.Unlock()

	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		d.consume(consumer, sub)
	}()

	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		d.progress(stopProgress)
	}()

	// Milestones j = 1..2*kills fall at Count*j/(2*kills+1) sends: odd ones
	// kill, even ones restart.
	var marks []int
	milestones := make(chan int, 2*cfg.Kills)
	controlDone := make(chan struct{})
	if d.sum.Embedded && cfg.Kills > 0 {
		for j := 1; j <= 2*cfg.Kills; j++ {
			marks = append(marks, max(1, cfg.Count*j/(2*cfg.Kills+1)))
		}
		go func() {
			defer close(controlDone)
			d.control(ctx, milestones)
		}()
	} else {
		close(controlDone)
	}

	d.produce(ctx, producer, marks, milestones)
	close(milestones)
	<-controlDone

	// Wait for every sent message, within Drain.
	drain := time.NewTimer(cfg.Drain)
	for waiting := true; waiting && d.lost() > 0; {
		select {
		case <-d.notify:
		case <-drain.C:
			waiting = false
		case <-ctx.Done():
			waiting = false
		}
	}
	drain.Stop()
	close(stopProgress)
	<-progressDone

	cs := consumer.Stats()
	errP := producer.Close()
	errC := consumer.Close()
	<-consumed

	d.mu.Lock()
	d.sum.Duplicates += int(cs.DuplicatesDropped)
	d.sum.Received = int(d.received.Load())
	d.sum.Sent = int(d.sent.Load())
	d.sum.Lost = d.lostLocked()
	d.sum.Elapsed = time.Since(start)
	d.sum.Closing = errors.Join(errP, errC)
	s := d.sum
	d.mu.Unlock()
	d.printSummary(s, ctx.Err() != nil)
	return s, nil
}

// produce sends Count messages at Rate, announcing milestones as it passes them.
func (d *demo) produce(ctx context.Context, conn *factory.Connection, marks []int, milestones chan<- int) {
	cfg := d.cfg
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := 0
	for seq := 1; seq <= cfg.Count; seq++ {
		if interval > 0 {
			if wait := time.Until(start.Add(time.Duration(seq-1) * interval)); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		body := []byte("message " + strconv.Itoa(seq) + " of " + strconv.Itoa(cfg.Count))
		err := conn.SendContext(ctx, cfg.Dest, "text/plain", body,
			stomp.SendOpt.Header(runHeader, d.runID), stomp.SendOpt.Header(seqHeader, strconv.Itoa(seq)))
		if err != nil {
			d.mu.Lock()
			d.sum.SendErrors++
			d.mu.Unlock()
			d.p.event("producer", "send %d failed: %v", seq, err)
			continue
		}
		d.mu.Lock()
		d.sentOK[seq-1] = true
		d.mu.Unlock()
		n := int(d.sent.Add(1))
		for next < len(marks) && n >= marks[next] {
			next++
			milestones <- next // buffered for every milestone: never blocks
		}
	}
	// Tracked sends are pipelined: wait until the broker confirmed them all.
	fctx, cancel := context.WithTimeout(ctx, cfg.Drain)
	defer cancel()
	if err := conn.Flush(fctx); err != nil {
		d.p.event("producer", "flush: %v", err)
	}
}

// consume acks and counts every message of this run until sub closes.
func (d *demo) consume(conn *factory.Connection, sub *factory.Subscription) {
	for m := range sub.C {
		if m.Err != nil {
			d.p.event("consumer", "subscription ended: %v", m.Err)
			return
		}
		// A stale ack (the message came on a connection since lost) is
		// fine: the broker redelivers and DropDuplicates drops the copy.
		_ = conn.Ack(m)
		if m.Header.Get(runHeader) != d.runID {
			d.mu.Lock()
			d.sum.Stale++
			d.mu.Unlock()
			continue
		}
		seq, err := strconv.Atoi(m.Header.Get(seqHeader))
		if err != nil || seq < 1 || seq > d.cfg.Count {
			d.mu.Lock()
			d.sum.Stale++
			d.mu.Unlock()
			continue
		}
		d.mu.Lock()
		if d.got[seq-1] {
			d.sum.Duplicates++ // a copy DropDuplicates did not catch
			d.mu.Unlock()
			continue
		}
		d.got[seq-1] = true
		d.mu.Unlock()
		d.received.Add(1)
		select {
		case d.notify <- struct{}{}:
		default:
		}
	}
}

// control kills and restarts the embedded brokers at the milestones.
func (d *demo) control(ctx context.Context, milestones <-chan int) {
	var victim *factorytest.Broker
	for {
		var j int
		var ok bool
		select {
		case j, ok = <-milestones:
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
		if j%2 == 0 {
			if victim != nil {
				d.start(victim)
			}
			continue
		}
		// Kill the broker the producer is on, once the consumer is on it
		// too (each kill is then a failover of both); the other one must
		// be up.
		d.settle(ctx)
		cur := d.producer.CurrentURL()
		other := d.backup
		victim = d.primary
		if cur == d.backup.URL() || (cur == "" && (j/2)%2 == 1) {
			victim, other = d.backup, d.primary
		}
		if !other.Running() {
			d.start(other)
		}
		d.p.event("demo", "killing %s (%s) at %d sent", d.role(victim.URL()), victim.URL(), d.sent.Load())
		victim.Kill() // restarted at the next milestone
	}
}

// settle waits, at most a second, until the producer and the consumer are
// connected to the same broker: a client still reconnecting from the last
// kill would otherwise miss the next one.
func (d *demo) settle(ctx context.Context) {
	deadline := time.NewTimer(time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if p := d.producer.CurrentURL(); p != "" && p == d.consumer.CurrentURL() {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (d *demo) start(b *factorytest.Broker) {
	if b.Running() {
		return
	}
	if err := b.Restart(); err != nil {
		d.p.event("demo", "restarting %s: %v", d.role(b.URL()), err)
		return
	}
	d.p.event("demo", "restarted %s (%s)", d.role(b.URL()), b.URL())
}

func (d *demo) lost() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lostLocked()
}

func (d *demo) lostLocked() int {
	n := 0
	for i, ok := range d.sentOK {
		if ok && !d.got[i] {
			n++
		}
	}
	return n
}

// progress prints the progress line until stop is closed, and once more then.
func (d *demo) progress(stop <-chan struct{}) {
	every := d.cfg.Progress
	switch {
	case every > 0:
	case d.cfg.Terminal:
		every = 200 * time.Millisecond // redrawn in place: live
	default:
		every = time.Second // one line each: keep logs short
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := ""
	show := func() {
		if l := d.progressLine(); l != last || d.cfg.Terminal {
			d.p.progress(l)
			last = l
		}
	}
	for {
		select {
		case <-t.C:
			show()
		case <-stop:
			show()
			d.p.endProgress()
			return
		}
	}
}

func (d *demo) progressLine() string {
	// received first: a message can arrive before its Send returns.
	recv := d.received.Load()
	sent := d.sent.Load()
	d.mu.Lock()
	prod := d.producer
	d.mu.Unlock()
	unconfirmed := 0
	if prod != nil {
		unconfirmed = prod.Stats().InFlight
	}
	return fmt.Sprintf("sent %d / received %d / in flight %d (awaiting receipt %d)",
		sent, recv, max(sent-recv, 0), unconfirmed)
}

func (d *demo) printSummary(s summary, interrupted bool) {
	p := d.p
	if interrupted {
		p.linef("interrupted: the figures below cover what happened until then")
	}
	p.linef("")
	p.linef("summary (%s)", s.Elapsed.Round(time.Millisecond))
	p.linef("sent %d", s.Sent)
	if s.SendErrors > 0 {
		p.linef("send errors %d", s.SendErrors)
	}
	p.linef("received %d", s.Received)
	p.linef("duplicates dropped %d", s.Duplicates)
	p.linef("lost %d", s.Lost)
	if s.Stale > 0 {
		p.linef("ignored %d message(s) left in the queue by an earlier run", s.Stale)
	}
	n := max(len(s.Producer), len(s.Consumer))
	if n == 0 {
		p.linef("downtime: no failover happened")
	}
	for i := 0; i < n; i++ {
		var parts []string
		if i < len(s.Producer) {
			parts = append(parts, "producer "+ms(s.Producer[i])+" ms")
		}
		if i < len(s.Consumer) {
			parts = append(parts, "consumer "+ms(s.Consumer[i])+" ms")
		}
		p.linef("downtime failover %d: %s", i+1, strings.Join(parts, ", "))
	}
	if s.Closing != nil {
		p.linef("closing: %v", s.Closing)
	}
	if s.ok() {
		p.linef("OK: every message sent was received exactly once")
	} else {
		p.linef("FAILED: %d lost, %d send error(s)", s.Lost, s.SendErrors)
	}
}

// ms prints a duration in milliseconds with one decimal below 10 ms.
func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// printer serialises the demo's output: timeline lines, plain lines and the
// progress line, which a terminal redraws in place.
type printer struct {
	mu      sync.Mutex
	w       io.Writer
	term    bool
	start   time.Time
	showing bool // a progress line without newline is on screen
}

func (p *printer) clearLocked() {
	if p.showing {
		_, _ = io.WriteString(p.w, "\r\033[K")
		p.showing = false
	}
}

func (p *printer) event(who, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	_, _ = fmt.Fprintf(p.w, "%8.3fs  %-8s  %s\n", time.Since(p.start).Seconds(), who, fmt.Sprintf(format, args...))
}

func (p *printer) linef(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	_, _ = fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) progress(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.term {
		_, _ = io.WriteString(p.w, "\r"+line+"\033[K")
		p.showing = true
		return
	}
	_, _ = fmt.Fprintf(p.w, "%8.3fs  progress  %s\n", time.Since(p.start).Seconds(), line)
}

func (p *printer) endProgress() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.showing {
		_, _ = io.WriteString(p.w, "\n")
		p.showing = false
	}
}
