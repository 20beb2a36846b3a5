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
}

// Result is what one run measured.
type Result struct {
	Policy     string
	Config     Config
	Attempts   int64         // connection attempts started (Delays.Next handed out)
	Failed     int64         // attempts that failed: refused, or timed out
	Refused    int64         // of which refused at once
	TimedOut   int64         // of which died on their timeout
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

// eventHeap is a binary min-heap on (at, seq-free); written out by hand
// because container/heap's interface calls double the run time at 40 M
// events.
type eventHeap []event

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].at <= e.at {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = e
}

func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	last := s[len(s)-1]
	s = s[:len(s)-1]
	n := len(s)
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s[r].at < s[l].at {
			c = r
		}
		if last.at <= s[c].at {
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
	delays    *attempts.Delays
	serial    uint32 // current attempt
	start     int64  // when the current attempt's first SYN went out
	accepted  bool   // current attempt is in the accept queue
	connected bool
}

// Run simulates cfg with policy p (its Count is replaced by Forever: every
// client retries until reconnected) and returns what it measured. The
// policy's Delays are the real attempts code; only the network and the
// backup are modelled.
func Run(name string, p attempts.Policy, cfg Config) (Result, error) {
	if cfg.Clients <= 0 || cfg.Rate <= 0 || cfg.Queue <= 0 || cfg.Bin <= 0 {
		return Result{}, fmt.Errorf("storm: bad config %+v", cfg)
	}
	p.Count = attempts.Forever
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = kernelConnectTimeout
	}
	rng := attempts.NewRand(cfg.Seed)
	service := int64(float64(time.Millisecond) / cfg.Rate) // ns per handshake
	res := Result{Policy: name, Config: cfg,
		Ideal: time.Duration(float64(cfg.Clients) / cfg.Rate * float64(time.Millisecond))}

	clients := make([]client, cfg.Clients)
	h := make(eventHeap, 0, cfg.Clients*2)
	// completions of accepted handshakes, FIFO and increasing: the queue.
	queue := make([]int64, 0, cfg.Queue)
	qhead := 0
	var lastDone int64
	bin := int64(cfg.Bin)

	next := func(c int32, now int64) {
		cl := &clients[c]
		w, ok := cl.delays.Next()
		if !ok { // cannot happen with Forever; keep the loop finite anyway
			return
		}
		cl.serial++
		h.push(event{at: now + int64(w), client: c, kind: evStart, serial: cl.serial})
	}
	arrive := func(c int32, now int64) {
		res.SYNs++
		b := now / bin
		for int64(len(res.Arrivals)) <= b {
			res.Arrivals = append(res.Arrivals, 0)
		}
		res.Arrivals[b]++
		for qhead < len(queue) && queue[qhead] <= now {
			qhead++
		}
		if qhead > 4096 && qhead*2 > len(queue) {
			queue = append(queue[:0], queue[qhead:]...)
			qhead = 0
		}
		cl := &clients[c]
		if len(queue)-qhead < cfg.Queue {
			lastDone = max(lastDone, now) + service
			queue = append(queue, lastDone)
			cl.accepted = true
			h.push(event{at: lastDone, client: c, kind: evConnected, serial: cl.serial})
			return
		}
		if cfg.Overflow == OverflowRefuse {
			res.Failed++
			res.Refused++
			next(c, now)
			return
		}
		res.Dropped++
		// The next retransmit still inside this attempt, if any.
		sent := time.Duration(now - cl.start)
		for _, r := range synRetransmits {
			if r > sent && r < timeout {
				h.push(event{at: cl.start + int64(r), client: c, kind: evRetransmit, serial: cl.serial})
				break
			}
		}
	}

	for i := range clients {
		clients[i].delays = p.Delays(rng)
		next(int32(i), 0)
	}
	for len(h) > 0 {
		res.MaxPending = max(res.MaxPending, len(h))
		e := h.pop()
		cl := &clients[e.client]
		if e.serial != cl.serial || cl.connected {
			continue // stale: belongs to a finished attempt
		}
		switch e.kind {
		case evStart:
			res.Attempts++
			cl.start, cl.accepted = e.at, false
			if cfg.Overflow == OverflowLinux || timeout < kernelConnectTimeout {
				h.push(event{at: e.at + int64(timeout), client: e.client, kind: evTimeout, serial: cl.serial})
			}
			arrive(e.client, e.at)
		case evRetransmit:
			if !cl.accepted {
				arrive(e.client, e.at)
			}
		case evTimeout:
			if !cl.accepted { // accepted handshakes complete within Queue/Rate
				res.Failed++
				res.TimedOut++
				next(e.client, e.at)
			}
		case evConnected:
			cl.connected = true
			res.Connected++
			res.Done = time.Duration(e.at)
		}
	}
	for _, a := range res.Arrivals {
		res.PeakPer10 = max(res.PeakPer10, int(a))
	}
	return res, nil
}
