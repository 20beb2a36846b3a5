package factory

import (
	"sync"
	"time"
)

// EventKind says what happened to a connection.
type EventKind int

// Event kinds, in the order a failover produces them.
const (
	EventConnected      EventKind = iota + 1 // first connection established
	EventDisconnected                        // connection lost (URL, Err = cause)
	EventReconnecting                        // reconnect attempt Attempt starts now, after waiting Delay
	EventReconnected                         // reconnected (URL, Downtime)
	EventResubscribed                        // Count subscriptions re-created on the new connection
	EventReplayed                            // Count unconfirmed tracked sends re-sent
	EventFailed                              // reconnecting gave up (Err = final error); the connection is closed
	EventClosed                              // Close completed
	EventSendRejected                        // the broker rejected a tracked send (Err)
	EventSwitched                            // moved to another URL on purpose (priority backup came back)
	EventConfigReloaded                      // the factories file changed; Err set when the edit was rejected
)

var kindNames = map[EventKind]string{
	EventConnected: "connected", EventDisconnected: "disconnected", EventReconnecting: "reconnecting",
	EventReconnected: "reconnected", EventResubscribed: "resubscribed", EventReplayed: "replayed",
	EventFailed: "failed", EventClosed: "closed", EventSendRejected: "send-rejected",
	EventSwitched: "switched", EventConfigReloaded: "config-reloaded",
}

func (k EventKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown"
}

// Event is one thing that happened to a connection. Fields not meaningful
// for a kind are zero.
type Event struct {
	Kind     EventKind
	Factory  string
	URL      string        // the URL concerned (normalised, never with credentials)
	Err      error         // cause (Disconnected), final error (Failed), rejection (SendRejected)
	Attempt  int           // Reconnecting: attempt number, from 1
	Delay    time.Duration // Reconnecting: the wait that happened before this attempt (back-off, spread, scheduler queueing), measured on the connection's clock
	Drawn    time.Duration // Reconnecting: the wait the policy drew; Delay differs when the scheduler shortened the spread or queued the attempt
	Downtime time.Duration // Reconnected: time since the loss
	Count    int           // Resubscribed, Replayed
	Time     time.Time
}

// dispatcher runs user callbacks one at a time, in order, on its own
// goroutine, from an unbounded queue: a slow handler delays only later
// handlers, never the connection.
type dispatcher struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []func()
	closed bool
	done   chan struct{}
}

func newDispatcher() *dispatcher {
	d := &dispatcher{done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	go d.run()
	return d
}

func (d *dispatcher) push(fn func()) {
	d.mu.Lock()
	if !d.closed {
		d.queue = append(d.queue, fn)
		d.cond.Signal()
	}
	d.mu.Unlock()
}

func (d *dispatcher) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if len(d.queue) == 0 {
			d.mu.Unlock()
			return
		}
		fn := d.queue[0]
		d.queue[0] = nil
		d.queue = d.queue[1:]
		d.mu.Unlock()
		fn()
	}
}

// close lets queued callbacks run, then stops; it waits for that.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.cond.Signal()
	d.mu.Unlock()
	<-d.done
}
