package factory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/sirupsen/logrus"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/session"
	"github.com/stompft/stompft/sequential"
)

// MsgIDHeader carries the id that tracked sends keep across replays, so a
// consumer can recognise a duplicate.
const MsgIDHeader = "stompft-msg-id"

// Connection states, as reported by Stats.
const (
	StateConnecting   = "connecting"
	StateConnected    = "connected"
	StateReconnecting = "reconnecting"
	StateClosed       = "closed"
)

var connSeq atomic.Uint64

// Connection is a STOMP connection that survives broker failures. It is safe
// for concurrent use. See the package documentation for its guarantees.
type Connection struct {
	f    *Factory
	name string
	opts Options
	log  logrus.FieldLogger
	disp *dispatcher
	id   string // unique per connection, prefixes tracked message ids

	walker  *sequential.Walker
	chooser sequential.Chooser

	// sendMu orders writes of SEND/SUBSCRIBE frames against replay: whoever
	// holds it writes to the current session in cache order.
	sendMu sync.Mutex

	mu          sync.Mutex
	state       string
	sess        *session.Session
	installed   *session.Session // last installed session; never reset, so the supervisor always knows what it watches
	epoch       uint64
	cur         sequential.Endpoint
	release     func()        // Tracker release for cur
	ready       chan struct{} // closed while connected
	changed     chan struct{} // closed and replaced on every state change
	subs        map[string]*Subscription
	subOrder    []*Subscription
	pending     map[string]*pending // receipt id → waiter
	cache       cache               // tracked sends awaiting receipts
	finalErr    error
	closing     bool
	lostAt      time.Time
	lostEp      sequential.Endpoint // the endpoint of the last lost session
	hasLost     bool
	quit        chan struct{}   // closed by Close
	ctx         context.Context // cancelled by Close: stops walks at once
	cancel      context.CancelFunc
	lastDef     *confparse.Factory
	supDone     chan struct{}
	nextID      uint64
	stats       counters
	probeCancel context.CancelFunc
	installMu   sync.Mutex // one installer at a time: reconnect or planned switch
	extras      sync.WaitGroup
	spare       *spare
}

type counters struct {
	connects, reconnects, disconnects, failedAttempts uint64
	sent, received, acked, nacked                     uint64
	replayed, dupsDropped, inDoubt                    uint64
	lastDowntime, totalDowntime                       time.Duration
	bytesSent                                         int64
}

type pending struct {
	id      string
	epoch   uint64 // session the frame was written on
	tracked bool
	f       *frame.Frame
	size    int64
	written bool       // the frame left whole (untracked sends)
	done    chan error // buffered 1; nil when nobody waits
	prev    *pending
	next    *pending
}

// cache is the ordered list of tracked sends awaiting receipts.
type cache struct {
	head, tail *pending
	n          int
	bytes      int64
	room       chan struct{} // closed and replaced whenever room is freed
}

func (q *cache) push(p *pending) {
	p.prev = q.tail
	if q.tail != nil {
		q.tail.next = p
	} else {
		q.head = p
	}
	q.tail = p
	q.n++
	q.bytes += p.size
}

func (q *cache) remove(p *pending) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		q.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		q.tail = p.prev
	}
	p.prev, p.next = nil, nil
	q.n--
	q.bytes -= p.size
	close(q.room)
	q.room = make(chan struct{})
}

func newConnection(f *Factory, name string, def *confparse.Factory, opts Options) *Connection {
	c := &Connection{
		f:       f,
		name:    name,
		opts:    opts,
		disp:    newDispatcher(),
		id:      fmt.Sprintf("%x-%d", time.Now().UnixNano(), connSeq.Add(1)),
		state:   StateConnecting,
		ready:   make(chan struct{}),
		changed: make(chan struct{}),
		subs:    map[string]*Subscription{},
		pending: map[string]*pending{},
		quit:    make(chan struct{}),
		supDone: make(chan struct{}),
	}
	c.cache.room = make(chan struct{})
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.log = opts.Logger.WithField("factory", name)
	c.walker = sequential.NewWalker(def.URLs, sequential.WalkOptions{
		Randomize:      def.Randomize,
		PriorityBackup: def.PriorityBackup,
		Metric:         def.Metric,
		Tracker:        opts.Tracker,
	})
	c.chooser = c.walker
	if opts.Chooser != nil {
		c.chooser = opts.Chooser
	}
	return c
}

// def returns the factory's current definition (it changes on hot reload).
func (c *Connection) def() *confparse.Factory {
	d := c.f.definition(c.name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d == nil {
		return c.lastDef // removed by a reload: keep the last definition
	}
	return d
}

// refreshDef makes the walker follow a reloaded definition.
func (c *Connection) refreshDef() *confparse.Factory {
	def := c.def()
	c.mu.Lock()
	changed := def != c.lastDef
	c.lastDef = def
	c.mu.Unlock()
	if changed {
		c.walker.SetList(c.f.listFor(c.name, def))
	}
	return def
}

func (c *Connection) emit(e Event) {
	e.Factory = c.name
	if e.Time.IsZero() {
		e.Time = c.opts.Clock.Now()
	}
	if h := c.opts.EventHandler; h != nil {
		c.disp.push(func() { h(e) })
	}
	if h := c.opts.ExceptionListener; h != nil && e.Err != nil &&
		(e.Kind == EventDisconnected || e.Kind == EventFailed || e.Kind == EventSendRejected) {
		err := e.Err
		c.disp.push(func() { h(err) })
	}
}

// setState changes state and wakes every waiter; c.mu must be held.
func (c *Connection) setStateLocked(s string) {
	c.state = s
	close(c.changed)
	c.changed = make(chan struct{})
}

// ---------------------------------------------------------------- connecting

// connect makes the first connection, using the connect policy.
func (c *Connection) connect(ctx context.Context) error {
	def := c.def()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	sess, ep, err := c.walk(ctx, "connect", def.ConnectPolicy(), nil, nil)
	if err != nil {
		return err
	}
	r := c.install(sess, ep, nil)
	c.emit(Event{Kind: EventConnected, URL: ep.String()})
	c.announce(r)
	go c.supervise()
	return nil
}

// walk runs passes over the URL list until a session is up, the policy or
// its budget is exhausted, an error is permanent, or ctx ends.
func (c *Connection) walk(ctx context.Context, phase string, pol attempts.Policy, lost *sequential.Endpoint, sched *attempts.Scheduler) (*session.Session, sequential.Endpoint, error) {
	episode := pol.Episode(c.opts.Rand)
	var deadline time.Time
	if pol.Budget > 0 {
		deadline = c.opts.Clock.Now().Add(pol.Budget)
	}
	cerr := &ConnectError{Factory: c.name, Phase: phase, Count: pol.Count}
	for {
		d, ok := episode.Next()
		if !ok {
			return nil, sequential.Endpoint{}, cerr
		}
		if !deadline.IsZero() && c.opts.Clock.Now().Add(d).After(deadline) {
			cerr.Budget = true
			return nil, sequential.Endpoint{}, cerr
		}
		attempt := episode.Attempt()
		waitStart := c.opts.Clock.Now()
		wait := attempts.Wait
		if episode.Spreading() && sched != nil {
			// The spread after a storm signal shrinks when many of this
			// factory's connections reconnect together: the scheduler's
			// window paces those (see Scheduler.WaitSpread).
			wait = sched.WaitSpread
		}
		if err := wait(ctx, c.opts.Clock, d); err != nil {
			cerr.add("(waiting)", err)
			return nil, sequential.Endpoint{}, cerr
		}
		cerr.Passes++
		for i, ep := range c.chooser.Pass(lost) {
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
				// Announced as the pass starts, with the wait that happened
				// (spread division and scheduler queueing included).
				waited := c.opts.Clock.Now().Sub(waitStart)
				c.emit(Event{Kind: EventReconnecting, Attempt: attempt, Delay: waited, Drawn: d})
				c.log.WithFields(logrus.Fields{"attempt": attempt, "delay": waited, "drawn": d}).Info("reconnecting")
			}
			start := c.opts.Clock.Now()
			sess, err := c.dialOne(ctx, ep, pol.Timeout, episode.ConnectBound())
			o := outcome(err)
			ticket.Done(o)
			episode.Report(o, c.opts.Clock.Now().Sub(start), ticket.Queued())
			if err == nil {
				return sess, ep, nil
			}
			c.mu.Lock()
			c.stats.failedAttempts++
			c.mu.Unlock()
			c.f.metricsAttemptFailed(c.name, ep.String())
			c.log.WithFields(logrus.Fields{"url": ep.String(), "attempt": attempt}).WithError(err).Warn("attempt failed")
			cerr.add(ep.String(), err)
			if attempts.IsPermanent(err) {
				cerr.Permanent = true
				return nil, sequential.Endpoint{}, cerr
			}
			if ctx.Err() != nil {
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

// install makes sess the current session: resubscribe, replay, then open
// the gate for waiting sends. With old set it is a planned switch: old is
// disconnected gracefully first, so receipts for what was sent on it arrive
// and only what is still unconfirmed is replayed.
func (c *Connection) install(sess *session.Session, ep sequential.Endpoint, old *session.Session) installed {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()

	c.mu.Lock()
	c.sess = sess
	c.installed = sess
	c.epoch = sessEpoch(sess)
	c.cur = ep
	if c.release != nil {
		c.release()
	}
	c.release = c.opts.Tracker.Connected(ep)
	subs := append([]*Subscription(nil), c.subOrder...)
	epoch := c.epoch
	c.mu.Unlock()

	if old != nil {
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.DisconnectTimeout)
		_ = old.Disconnect(ctx)
		cancel()
	}
	c.mu.Lock()
	var replay []*pending
	for p := c.cache.head; p != nil; p = p.next {
		replay = append(replay, p)
	}
	c.mu.Unlock()

	// Subscriptions first, so that replies to replayed sends find them.
	for _, s := range subs {
		if err := sess.Write(s.frame); err != nil {
			break // the session died; the supervisor sees it and walks again
		}
	}
	for _, p := range replay {
		c.mu.Lock()
		p.epoch = epoch
		c.mu.Unlock()
		if err := sess.Write(p.f); err != nil {
			break
		}
	}
	c.mu.Lock()
	resub := c.stats.connects > 0
	c.stats.connects++
	c.stats.replayed += uint64(len(replay))
	if c.sess == sess && !c.closing && c.state != StateConnected {
		c.setStateLocked(StateConnected)
		close(c.ready)
	}
	c.mu.Unlock()
	c.f.metricsConnected(c.name, ep.String())
	res := installed{url: ep.String(), replayed: len(replay)}
	if resub {
		res.resubscribed = len(subs)
	}
	return res
}

// installed is what install did, announced by its caller after its own
// event (reconnected, switched) so the timeline reads in order.
type installed struct {
	url                    string
	resubscribed, replayed int
}

func (c *Connection) announce(r installed) {
	if r.resubscribed > 0 {
		c.emit(Event{Kind: EventResubscribed, URL: r.url, Count: r.resubscribed})
	}
	if r.replayed > 0 {
		c.emit(Event{Kind: EventReplayed, URL: r.url, Count: r.replayed})
	}
}

// sessionEnded runs synchronously when any session ends, so a caller whose
// write just failed already sees the connection as down.
func (c *Connection) sessionEnded(epoch uint64, err error) {
	c.mu.Lock()
	lostURL := c.sessionEndedLocked(epoch, err)
	c.mu.Unlock()
	// User code (observer, logger hooks) runs outside the lock.
	if lostURL != "" {
		c.f.metricsDisconnected(c.name, lostURL)
		c.log.WithField("url", lostURL).WithError(err).Warn("connection lost")
	}
}

// sessionEndedLocked applies a session's end; it returns the lost URL when
// this was the current session's loss (to be announced), else "".
func (c *Connection) sessionEndedLocked(epoch uint64, err error) (lostURL string) {
	if c.sess != nil && c.epoch == epoch {
		c.sess = nil
		if c.release != nil {
			c.release()
			c.release = nil
		}
		if c.state == StateConnected {
			c.ready = make(chan struct{})
		}
		c.lostAt = c.opts.Clock.Now()
		c.lostEp, c.hasLost = c.cur, true
		if !c.closing {
			// Announced here, at the moment of loss, so that it precedes the
			// reconnect whoever performs it (the supervisor, or a waiting
			// sender taking the hot-standby spare).
			c.stats.disconnects++
			lostURL = c.cur.String()
			// Only queued here (the handlers run on the dispatcher), which
			// keeps it ahead of any Reconnected.
			c.emit(Event{Kind: EventDisconnected, URL: lostURL, Err: err})
			c.setStateLocked(StateReconnecting)
		}
	}
	// Whatever waited on this session learns its fate, current or not.
	var se *session.ServerError
	rejected := errors.As(err, &se) && se.ReceiptID != ""
	for id, p := range c.pending {
		if p.epoch != epoch {
			continue
		}
		if rejected && id == se.ReceiptID {
			// The broker refused this frame: a definite failure, not a doubt.
			delete(c.pending, id)
			if p.tracked {
				c.cache.remove(p)
			}
			c.finish(p, fmt.Errorf("stompft: broker rejected the send: %w", err))
			continue
		}
		if p.tracked {
			continue // replayed on the next connection
		}
		if !p.written {
			continue // its write failed: the sender retries it, no doubt
		}
		delete(c.pending, id)
		c.stats.inDoubt++
		c.finish(p, fmt.Errorf("%w: %w", ErrInDoubt, err))
	}
	return lostURL
}

// finish completes p's waiter, if any; c.mu must be held. A tracked send
// nobody waits for is reported as an event instead: never a silent drop.
func (c *Connection) finish(p *pending, err error) {
	if p.done != nil {
		p.done <- err
		p.done = nil
		return
	}
	if err != nil && p.tracked {
		c.emit(Event{Kind: EventSendRejected, Err: err})
	}
}

// supervise owns reconnection: exactly one per connection, from the first
// successful connect to Close or final failure.
func (c *Connection) supervise() {
	defer close(c.supDone)
	for {
		c.mu.Lock()
		sess := c.installed
		c.mu.Unlock()
		if !c.waitLoss(sess) {
			return
		}
		cause := sess.Err()
		c.mu.Lock()
		swapped := c.installed != sess
		c.mu.Unlock()
		if swapped {
			continue // moved on purpose (priority backup, standby)
		}
		_ = cause // announced by sessionEnded at the moment of loss
		c.installMu.Lock()
		c.mu.Lock()
		lost := c.cur
		closing := c.closing
		taken := c.installed != sess // a waiting sender installed the spare meanwhile
		c.mu.Unlock()
		if closing {
			c.installMu.Unlock()
			return
		}
		if taken {
			c.installMu.Unlock()
			continue
		}
		def := c.refreshDef()
		if sp := c.takeSpare(); sp != nil {
			c.installSpare(sp, lost)
			c.installMu.Unlock()
			continue
		}
		sched := c.f.scheduler(c.name, c.opts)
		endReconnect := sched.Reconnecting()
		newSess, ep, err := c.walk(c.ctx, "reconnect", def.ReconnectPolicy(), &lost, sched)
		endReconnect()
		if err != nil {
			c.installMu.Unlock()
			c.fail(err)
			return
		}
		c.mu.Lock()
		closing = c.closing
		c.mu.Unlock()
		if closing {
			c.installMu.Unlock()
			newSess.Close()
			return
		}
		r := c.install(newSess, ep, nil)
		c.installMu.Unlock()
		c.reconnected(ep)
		c.announce(r)
	}
}

// reconnected records and announces a completed reconnect.
func (c *Connection) reconnected(ep sequential.Endpoint) {
	c.mu.Lock()
	down := c.opts.Clock.Now().Sub(c.lostAt)
	c.stats.reconnects++
	c.stats.lastDowntime = down
	c.stats.totalDowntime += down
	c.mu.Unlock()
	c.f.metricsReconnected(c.name, ep.String(), down)
	c.log.WithFields(logrus.Fields{"url": ep.String(), "downtime": down}).Info("reconnected")
	c.emit(Event{Kind: EventReconnected, URL: ep.String(), Downtime: down})
}

// fail closes the connection after reconnecting gave up.
func (c *Connection) fail(err error) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.finalErr = err
	c.mu.Unlock()
	c.log.WithError(err).Error("reconnect failed; connection closed")
	c.emit(Event{Kind: EventFailed, Err: err})
	c.shutdown(err)
}

// ---------------------------------------------------------------- waiting

// waitReady returns the live session, waiting (within ctx) for a reconnect.
func (c *Connection) waitReady(ctx context.Context) (*session.Session, uint64, error) {
	for {
		c.mu.Lock()
		state, sess, epoch, changed := c.state, c.sess, c.epoch, c.changed
		closing, final := c.closing, c.finalErr
		c.mu.Unlock()
		if closing || state == StateClosed {
			if final != nil {
				return nil, 0, final
			}
			return nil, 0, ErrClosed
		}
		if state == StateConnected && sess != nil {
			return sess, epoch, nil
		}
		if state == StateReconnecting && c.takeSpareFast() {
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w waiting for a connection (%s): %v", ErrTimeout, state, ctx.Err())
		}
	}
}

// sendContext applies the factory's send_timeout to ctx.
func (c *Connection) sendContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if t := c.def().SendTimeout; t > 0 {
		return context.WithTimeout(ctx, t)
	}
	return context.WithCancel(ctx)
}

func (c *Connection) newID(prefix string) string {
	c.mu.Lock()
	c.nextID++
	n := c.nextID
	c.mu.Unlock()
	return prefix + c.id + "-" + strconv.FormatUint(n, 10)
}

// onReceipt completes the waiter of a receipt.
func (c *Connection) onReceipt(id string) {
	c.mu.Lock()
	if p, ok := c.pending[id]; ok {
		delete(c.pending, id)
		if p.tracked {
			c.cache.remove(p)
		}
		c.finish(p, nil)
	}
	c.mu.Unlock()
}

// ---------------------------------------------------------------- closing

// Close stops reconnecting, waits (bounded) for tracked sends to be
// confirmed, disconnects gracefully (bounded), closes every subscription
// channel and returns once no goroutine of the connection is left.
// It returns ErrUnconfirmed when tracked sends were left unconfirmed.
func (c *Connection) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		<-c.supDone
		return nil
	}
	connected := c.state == StateConnected
	c.mu.Unlock()

	var result error
	if connected {
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.DisconnectTimeout)
		if err := c.Flush(ctx); err != nil {
			c.mu.Lock()
			n := c.cache.n
			c.mu.Unlock()
			if n > 0 {
				result = fmt.Errorf("%w: %d sends had no receipt by Close", ErrUnconfirmed, n)
			}
		}
		cancel()
	}
	c.shutdown(ErrClosed)
	return result
}

// shutdown is Close's and fail's common end.
func (c *Connection) shutdown(cause error) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	sess := c.sess
	if c.probeCancel != nil {
		c.probeCancel()
	}
	close(c.quit)
	c.cancel()
	c.mu.Unlock()

	if sess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.DisconnectTimeout)
		_ = sess.Disconnect(ctx)
		cancel()
	}
	if cause == ErrClosed {
		// Close from the application: the supervisor exits on quit.
		<-c.waitSupervisor()
	}
	c.stopExtras()

	c.mu.Lock()
	c.sess = nil
	if c.release != nil {
		c.release()
		c.release = nil
	}
	c.setStateLocked(StateClosed)
	subs := c.subOrder
	c.subOrder = nil
	c.subs = map[string]*Subscription{}
	for _, p := range c.pending {
		if p.done != nil {
			p.done <- fmt.Errorf("%w: %v", ErrClosed, cause)
			p.done = nil
		}
	}
	c.pending = map[string]*pending{}
	c.mu.Unlock()

	final := cause
	if final == ErrClosed {
		final = nil
	}
	for _, s := range subs {
		s.close(final)
	}
	c.f.forget(c)
	c.emit(Event{Kind: EventClosed})
	c.disp.close()
}

// waitSupervisor returns a channel closed when the supervisor has exited
// (at once if it never started).
func (c *Connection) waitSupervisor() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stats.connects == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return c.supDone
}

// ---------------------------------------------------------------- info

// CurrentURL returns the URL of the live connection ("" while disconnected).
func (c *Connection) CurrentURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return ""
	}
	return c.cur.String()
}

// ServerInfo returns what the current broker's CONNECTED frame said.
func (c *Connection) ServerInfo() (session.Info, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return session.Info{}, false
	}
	return c.sess.Info(), true
}

// Stats is a snapshot of a connection's figures.
type Stats struct {
	Factory           string
	URL               string // current URL, "" while disconnected
	State             string // StateConnecting, StateConnected, StateReconnecting, StateClosed
	Connects          uint64 // sessions established (first connect + reconnects + switches)
	Reconnects        uint64
	Disconnects       uint64
	FailedAttempts    uint64 // attempts to one URL that failed
	Sent              uint64 // SEND frames written (replays included)
	Received          uint64 // messages delivered to subscriptions
	Acked, Nacked     uint64
	Replayed          uint64 // tracked sends re-sent after a reconnect
	DuplicatesDropped uint64
	InDoubt           uint64 // receipt sends reported with ErrInDoubt
	InFlight          int    // tracked sends awaiting their receipt
	CacheBytes        int64  // bytes held by those
	Subscriptions     int
	LastDowntime      time.Duration
	TotalDowntime     time.Duration
	BytesSent         int64
}

// Stats returns a snapshot of the connection's figures.
func (c *Connection) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{
		Factory: c.name, State: c.state,
		Connects: c.stats.connects, Reconnects: c.stats.reconnects, Disconnects: c.stats.disconnects,
		FailedAttempts: c.stats.failedAttempts, Sent: c.stats.sent, Received: c.stats.received,
		Acked: c.stats.acked, Nacked: c.stats.nacked, Replayed: c.stats.replayed,
		DuplicatesDropped: c.stats.dupsDropped, InDoubt: c.stats.inDoubt,
		InFlight: c.cache.n, CacheBytes: c.cache.bytes, Subscriptions: len(c.subOrder),
		LastDowntime: c.stats.lastDowntime, TotalDowntime: c.stats.totalDowntime,
		BytesSent: c.stats.bytesSent,
	}
	if c.sess != nil {
		s.URL = c.cur.String()
	}
	return s
}

// waitLoss blocks until sess ends (true) or the connection closes (false).
func (c *Connection) waitLoss(sess *session.Session) bool {
	select {
	case <-c.quit:
		return false
	case <-sess.Done():
		return true
	}
}
