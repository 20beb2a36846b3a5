package factory

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
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
	EventConfigReloaded                      // the factories file changed; Err set when the edit was rejected or keys need a restart
	EventSlowConsumer                        // a subscription's delivery queue filled up (Subscription, Count = its message limit): reading is paused until it drains
)

var kindNames = map[EventKind]string{
	EventConnected: "connected", EventDisconnected: "disconnected", EventReconnecting: "reconnecting",
	EventReconnected: "reconnected", EventResubscribed: "resubscribed", EventReplayed: "replayed",
	EventFailed: "failed", EventClosed: "closed", EventSendRejected: "send-rejected",
	EventSwitched: "switched", EventConfigReloaded: "config-reloaded", EventSlowConsumer: "slow-consumer",
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
	Count    int           // Resubscribed, Replayed; SlowConsumer: the queue's message limit
	// Subscription is the id of the subscription concerned (SlowConsumer).
	Subscription string
	Time         time.Time
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
	gid    atomic.Uint64 // the dispatcher goroutine's id
}

func newDispatcher() *dispatcher {
	d := &dispatcher{done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	go d.run()
	return d
}

// push queues fn; with wake false the dispatcher is not woken (see kick).
func (d *dispatcher) push(fn func(), wake bool) {
	d.mu.Lock()
	if !d.closed {
		d.queue = append(d.queue, fn)
		if wake {
			d.cond.Signal()
		}
	}
	d.mu.Unlock()
}

// kick wakes the dispatcher for callbacks queued without waking it.
func (d *dispatcher) kick() {
	d.mu.Lock()
	if len(d.queue) > 0 {
		d.cond.Signal()
	}
	d.mu.Unlock()
}

func (d *dispatcher) run() {
	d.gid.Store(goroutineID())
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

// stop lets queued callbacks run, then ends the goroutine; it does not wait.
func (d *dispatcher) stop() {
	d.mu.Lock()
	d.closed = true
	d.cond.Signal()
	d.mu.Unlock()
}

// close is stop, then waits for the queued callbacks to have run. It must
// not be called from a callback (see onDispatcher).
func (d *dispatcher) close() {
	d.stop()
	<-d.done
}

// onDispatcher reports whether the caller is a callback of d: Close called
// from a callback must not wait for the dispatcher, that is for itself.
func (d *dispatcher) onDispatcher() bool {
	return d.gid.Load() == goroutineID()
}

// goroutineID is the runtime's id of the calling goroutine, read from the
// first line of its stack trace ("goroutine 42 [running]:"). Go exposes no
// other way to tell whether code runs on a given goroutine; it is used only
// by Close, to know whether it was called from an event callback.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
