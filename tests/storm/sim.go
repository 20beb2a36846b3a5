package main

import (
	"fmt"
	"time"

	"github.com/stompft/stompft/attempts"
)

// Overflow is what the backup does with a connection that finds its accept
// queue full.
type Overflow int

const (
	// OverflowRefuse refuses the connection at once (RST): the attempt fails
	// immediately and the client backs off.
	OverflowRefuse Overflow = iota
	// OverflowLinux drops the SYN silently: the client's TCP retransmits it
	// on the kernel's schedule (1 s, 3 s, 7 s, ... after the first SYN) until
	// it is accepted or the attempt dies on its timeout.
	OverflowLinux
)

func (o Overflow) String() string {
	if o == OverflowLinux {
		return "linux-drop"
	}
	return "refuse"
}

// synRetransmits are Linux's SYN retransmission times after the first SYN
// (initial RTO 1 s, doubling, tcp_syn_retries = 6); connect fails at 127 s.
var synRetransmits = []time.Duration{1 * time.Second, 3 * time.Second, 7 * time.Second,
	15 * time.Second, 31 * time.Second, 63 * time.Second}

const kernelConnectTimeout = 127 * time.Second

// Config is one simulated switchover.
type Config struct {
	Clients  int           // N clients losing the primary at t=0
	Rate     float64       // handshakes the backup completes per millisecond
	Queue    int           // accept queue: handshakes accepted and not yet completed
	Overflow Overflow      // what a full queue does
	Timeout  time.Duration // per-attempt timeout; 0 = the kernel's 127 s
	Seed     int64
	Bin      time.Duration // width of an arrivals bin (10 ms)
	// PerProcess > 1 groups clients into processes of that many
	// connections, each process sharing one real attempts.Scheduler (its
	// default limits) as a factory does; 0 or 1 = independent clients.
	PerProcess int
	// Scheduler overrides the per-process scheduler limits (zero = defaults).
	Scheduler attempts.SchedulerConfig
}

// Result is what one run measured.
type Result struct {
	Policy     string
	Config     Config
	Attempts   int64         // connection attempts started (Delays.Next handed out)
	Failed     int64         // attempts that failed: refused, timed out, or abandoned
	Refused    int64         // of which refused at once
	TimedOut   int64         // of which died on their timeout
	Abandoned  int64         // of which gave up an unanswered SYN at the client's probe bound
	SYNs       int64         // SYNs that reached the backup, retransmits included
	Dropped    int64         // SYNs dropped silently (linux-drop)
	Connected  int           // clients reconnected
	Done       time.Duration // when the last client was reconnected
	Ideal      time.Duration // N ÷ handshake rate: the floor
	PeakPer10  int           // most SYN arrivals in one bin
	Arrivals   []int32       // SYN arrivals per bin
	MaxPending int           // most events pending at once (a cost figure)
}

// event kinds
const (
	evStart      uint8 = iota // a client starts an attempt: first SYN
	evRetransmit              // a dropped SYN is sent again
	evTimeout                 // the attempt's timeout expires
	evConnected               // the handshake completed
)

type event struct {
	at     int64 // virtual ns
	client int32
	kind   uint8
	serial uint32 // the attempt this event belongs to
}

// eventQueue orders events by time. Events at the same instant share a
// bucket (kept in push order), and only distinct instants go through the
// heap: lock-step policies put 100 000 clients on one instant, so a run of
// 40 M attempts costs a few hundred heap operations, not 40 M.
type eventQueue struct {
	times   timeHeap
	buckets map[int64][]event
	free    [][]event
	n       int // events pending
}

func newEventQueue() *eventQueue { return &eventQueue{buckets: map[int64][]event{}} }

func (q *eventQueue) push(e event) {
	b, ok := q.buckets[e.at]
	if !ok {
		q.times.push(e.at)
		if k := len(q.free); k > 0 {
			b, q.free = q.free[k-1], q.free[:k-1]
		}
	}
	q.buckets[e.at] = append(b, e)
	q.n++
}

// popBucket removes and returns every event of the earliest instant; give
// the slice back with recycle once done with it.
func (q *eventQueue) popBucket() []event {
	at := q.times.pop()
	b := q.buckets[at]
	delete(q.buckets, at)
	q.n -= len(b)
	return b
}

func (q *eventQueue) recycle(b []event) {
	if cap(b) <= 1024 {
		q.free = append(q.free, b[:0])
	}
}

// timeHeap is a binary min-heap of instants, written out by hand to avoid
// container/heap's interface calls.
type timeHeap []int64

func (h *timeHeap) push(t int64) {
	*h = append(*h, t)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p] <= t {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = t
}

func (h *timeHeap) pop() int64 {
	s := *h
	top, last := s[0], s[len(s)-1]
	s = s[:len(s)-1]
	n, i := len(s), 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s[r] < s[l] {
			c = r
		}
		if last <= s[c] {
			break
		}
		s[i] = s[c]
		i = c
	}
	if n > 0 {
		s[i] = last
	}
	*h = s
	return top
}

type client struct {
	delays    *attempts.Delays  // the spread-first rule: waits from Delays alone
	episode   *attempts.Episode // the storm-signal rule (Named.Episode)
	serial    uint32            // current attempt
	start     int64             // when the current attempt's first SYN went out
	bound     time.Duration     // the current attempt's bound on an unanswered SYN
	accepted  bool              // current attempt is in the accept queue
	connected bool
	queued    bool             // the scheduler did not admit the current attempt at once
	ticket    *attempts.Ticket // the scheduler's admission of the current attempt
}

// process is a group of clients sharing a scheduler.
type process struct {
	sched   *attempts.Scheduler
	blocked []int32 // clients waiting for a Done (concurrency limit)
}

// simClock is the virtual clock the schedulers read; they never need its
// timers because the simulation uses TryAcquire.
type simClock struct{ now *int64 }

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (c simClock) Now() time.Time                        { return epoch.Add(time.Duration(*c.now)) }
func (c simClock) NewTimer(time.Duration) attempts.Timer { return deadTimer{} }

type deadTimer struct{}

func (deadTimer) C() <-chan time.Time { return nil }
func (deadTimer) Stop() bool          { return false }

// sim is one run's state.
type sim struct {
	cfg      Config
	timeout  time.Duration
	service  int64 // ns per handshake
	bin      int64
	clients  []client
	q        *eventQueue
	accepted []int64 // completion times of accepted handshakes: the accept queue
	qhead    int
	lastDone int64
	now      int64
	procs    []process
	res      Result
}

// Run simulates cfg with policy n (its Count is replaced by Forever: every
// client retries until reconnected) and returns what it measured. The
// clients' decisions are the real attempts code (Delays, or an Episode fed
// every outcome); only the network and the backup are modelled.
func Run(n Named, cfg Config) (Result, error) {
	if cfg.Clients <= 0 || cfg.Rate <= 0 || cfg.Queue <= 0 || cfg.Bin <= 0 {
		return Result{}, fmt.Errorf("storm: bad config %+v", cfg)
	}
	name, p := n.Name, n.Policy
	p.Count = attempts.Forever
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	s := &sim{
		cfg:     cfg,
		timeout: cfg.Timeout,
		service: int64(float64(time.Millisecond) / cfg.Rate),
		bin:     int64(cfg.Bin),
		clients: make([]client, cfg.Clients),
		q:       newEventQueue(),
		res: Result{Policy: name, Config: cfg,
			Ideal: time.Duration(float64(cfg.Clients) / cfg.Rate * float64(time.Millisecond))},
	}
	if s.timeout <= 0 {
		s.timeout = kernelConnectTimeout
	}
	if cfg.PerProcess > 1 {
		s.procs = make([]process, (cfg.Clients+cfg.PerProcess-1)/cfg.PerProcess)
		for i := range s.procs {
			s.procs[i].sched = attempts.NewScheduler(cfg.Scheduler, simClock{&s.now})
		}
	}
	rng := attempts.NewRand(cfg.Seed)
	for i := range s.clients {
		if n.Episode {
			s.clients[i].episode = p.Episode(rng)
		} else {
			s.clients[i].delays = p.Delays(rng)
		}
		s.next(int32(i), 0)
	}
	for s.q.n > 0 {
		s.res.MaxPending = max(s.res.MaxPending, s.q.n)
		b := s.q.popBucket()
		for _, e := range b {
			s.now = e.at
			s.step(e)
		}
		s.q.recycle(b)
	}
	for _, a := range s.res.Arrivals {
		s.res.PeakPer10 = max(s.res.PeakPer10, int(a))
	}
	return s.res, nil
}

// next schedules client c's next attempt after the policy's wait.
func (s *sim) next(c int32, now int64) {
	cl := &s.clients[c]
	var w time.Duration
	ok := false
	if cl.episode != nil {
		w, ok = cl.episode.Next()
	} else {
		w, ok = cl.delays.Next()
	}
	if !ok { // cannot happen with Forever
		return
	}
	cl.serial++
	cl.queued = false
	s.q.push(event{at: now + int64(w), client: c, kind: evStart, serial: cl.serial})
}

// arrive is a SYN from client c reaching the backup.
func (s *sim) arrive(c int32, now int64) {
	s.res.SYNs++
	b := now / s.bin
	for int64(len(s.res.Arrivals)) <= b {
		s.res.Arrivals = append(s.res.Arrivals, 0)
	}
	s.res.Arrivals[b]++
	for s.qhead < len(s.accepted) && s.accepted[s.qhead] <= now {
		s.qhead++
	}
	if s.qhead > 4096 && s.qhead*2 > len(s.accepted) {
		s.accepted = append(s.accepted[:0], s.accepted[s.qhead:]...)
		s.qhead = 0
	}
	cl := &s.clients[c]
	if len(s.accepted)-s.qhead < s.cfg.Queue {
		s.lastDone = max(s.lastDone, now) + s.service
		s.accepted = append(s.accepted, s.lastDone)
		cl.accepted = true
		s.q.push(event{at: s.lastDone, client: c, kind: evConnected, serial: cl.serial})
		return
	}
	if s.cfg.Overflow == OverflowRefuse {
		s.res.Failed++
		s.res.Refused++
		s.done(c, attempts.Refused)
		s.next(c, now)
		return
	}
	s.res.Dropped++
	// The next retransmit still inside this attempt, if any.
	sent := time.Duration(now - cl.start)
	for _, r := range synRetransmits {
		if r > sent && r < cl.bound {
			s.q.push(event{at: cl.start + int64(r), client: c, kind: evRetransmit, serial: cl.serial})
			break
		}
	}
}

// step handles one event.
func (s *sim) step(e event) {
	cl := &s.clients[e.client]
	if e.serial != cl.serial || cl.connected {
		return // stale: belongs to a finished attempt
	}
	switch e.kind {
	case evStart:
		if !s.admit(e) {
			return
		}
		s.res.Attempts++
		cl.start, cl.accepted = e.at, false
		// The client abandons a SYN left unanswered past its connect
		// bound (the Episode's probe, before any storm signal), else the
		// attempt dies on its timeout.
		cl.bound = s.timeout
		if cl.episode != nil {
			if b := cl.episode.ConnectBound(); b > 0 {
				cl.bound = min(b, s.timeout)
			}
		}
		if s.cfg.Overflow == OverflowLinux {
			s.q.push(event{at: e.at + int64(cl.bound), client: e.client, kind: evTimeout, serial: cl.serial})
		}
		s.arrive(e.client, e.at)
	case evRetransmit:
		if !cl.accepted {
			s.arrive(e.client, e.at)
		}
	case evTimeout:
		if !cl.accepted { // accepted handshakes complete within Queue/Rate
			s.res.Failed++
			o := attempts.TimedOut
			if cl.bound < s.timeout {
				o = attempts.Abandoned // at the probe bound, unanswered
				s.res.Abandoned++
			} else {
				s.res.TimedOut++
			}
			s.done(e.client, o)
			s.next(e.client, e.at)
		}
	case evConnected:
		s.done(e.client, attempts.Success)
		cl.connected = true
		s.res.Connected++
		s.res.Done = time.Duration(e.at)
	}
}

// admit asks client e.client's process scheduler for a ticket; without one
// the start is retried when a token is due or, if the concurrency limit
// blocks, after the process's next Done.
func (s *sim) admit(e event) bool {
	if s.procs == nil {
		return true
	}
	p := &s.procs[int(e.client)/s.cfg.PerProcess]
	t, wait := p.sched.TryAcquire()
	if t != nil {
		s.clients[e.client].ticket = t
		return true
	}
	cl := &s.clients[e.client]
	cl.queued = true // the window was full: a storm signal
	if wait > 0 {
		e.at += int64(wait)
		s.q.push(e)
	} else {
		p.blocked = append(p.blocked, e.client)
	}
	return false
}

// done reports an attempt's outcome to its process scheduler and wakes the
// clients that were blocked on its concurrency limit.
func (s *sim) done(c int32, o attempts.Outcome) {
	cl := &s.clients[c]
	if cl.episode != nil {
		cl.episode.Report(o, time.Duration(s.now-cl.start), cl.queued)
	}
	if cl.ticket == nil {
		return
	}
	cl.ticket.Done(o)
	cl.ticket = nil
	p := &s.procs[int(c)/s.cfg.PerProcess]
	for _, b := range p.blocked {
		s.q.push(event{at: s.now, client: b, kind: evStart, serial: s.clients[b].serial})
	}
	p.blocked = p.blocked[:0]
}
