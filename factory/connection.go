package factory

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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

// healthyAfter is how long a session must last before its end starts a
// fresh reconnect episode. A session that a broker ends with an ERROR frame,
// or with a frame over one of the limits (max_frame_size, ...), sooner than this (it accepts CONNECT, then refuses what we send: a full
// disk, a forbidden destination replayed from the cache) only looked
// healthy: its reconnect continues the previous episode's attempt count and
// budget, so such a loop ends in EventFailed instead of going on for ever.
// One second is ten times a loopback round trip under load and far below
// any reconnect delay worth configuring, so a genuinely healthy session is
// never mistaken for such a loop.
const healthyAfter = time.Second

// maxErrorEndsPerSend is how many sessions may end by an ERROR frame without
// a receipt-id while a tracked send is the oldest unconfirmed one, before
// that send is given up as rejected (EventSendRejected) instead of being
// replayed again.
const maxErrorEndsPerSend = 3

var connSeq atomic.Uint64

// Connection is a STOMP connection that survives broker failures. It is safe
// for concurrent use, and any of its methods may be called from an event
// handler, an exception listener or while draining a Subscription's C.
// See the package documentation for its guarantees and how it is built.
type Connection struct {
	f    *Factory
	name string
	opts connConfig
	log  logrus.FieldLogger
	disp *dispatcher
	id   string // unique per connection, prefixes generated ids
	ids  atomic.Uint64

	inbox    inbox         // requests and events for the owner, in order
	walkJobs chan *walkJob // the owner's next walk, for an idle walker
	closed   chan struct{} // closed when the owner has finished: the one "closed" signal
	ctx      context.Context
	cancel   context.CancelFunc // cancels every helper (walks, probes, standby)

	// Read by any goroutine, written only by the owner.
	live    atomic.Pointer[liveSession]              // the session to write on, nil while none
	on      atomic.Pointer[liveSession]              // the session the connection is on, from the start of its install
	subsMap atomic.Pointer[map[string]*Subscription] // for the session readers' deliveries
	defSnap atomic.Pointer[confparse.Factory]        // definition in force
	ext     extCounters                              // counters updated off the owner
	// cacheRes is the tracked-send cache's bytes, reserved before a send
	// is cached (by a caller on the fast path, by the owner otherwise) and
	// released when it leaves the cache.
	cacheRes atomic.Int64
	parkedN  atomic.Int64 // len(own.parked): the fast paths keep behind parked requests
	// spareSlot holds a hot-standby session between its keeper's dial and
	// the owner's claim (see claimSpare).
	spareSlot  atomic.Pointer[spare]
	final      Stats // set by the owner before closed closes
	closedWith error // the final failure, nil after Close; set likewise

	// Owned by run: nothing else reads or writes these.
	own owner
}

// liveSession is what a caller may write on without asking the owner: the
// owner publishes it (live) only once resubscribe and replay are done, and
// clears it the moment the session is lost. The same value is published as
// on (CurrentURL, ServerInfo) before install writes anything: a message the
// new session delivers, or an Ack it takes, must already find the
// connection on its broker.
type liveSession struct {
	sess  *session.Session
	epoch uint64
	ep    sequential.Endpoint
}

// extCounters are updated by callers, pumps and session readers.
type extCounters struct {
	sent, received, acked, nacked atomic.Uint64
	dupsDropped, dedupUnchecked   atomic.Uint64
	failedAttempts                atomic.Uint64
	bytesSent                     atomic.Int64
}

// owner is the state of run.
type owner struct {
	state     string
	def       *confparse.Factory
	walker    *sequential.Walker
	chooser   sequential.Chooser
	schedKey  string
	sess      *session.Session
	epoch     uint64
	cur       sequential.Endpoint
	release   func() // Tracker release for cur
	connected time.Time
	subs      map[string]*Subscription
	subOrder  []*Subscription
	pending   map[string]*pending // receipt id → waiter
	// installed holds the sessions installed whose end the owner has not
	// handled yet (the current one, and the old one of a switch being
	// disconnected): a receipt send registered for one of them is failed
	// by that end; for any other its end has been handled already.
	installed map[uint64]struct{}
	cache     cache        // tracked sends awaiting receipts
	parked    []*parked    // requests waiting for a connection or cache room
	flushers  []chan error // Flush calls waiting for an empty cache
	paused    map[*Subscription]bool
	spare     *spare
	lostAt    time.Time
	lostEp    sequential.Endpoint
	hasLost   bool
	lastProg  *walkProgress // the walk that made the current session
	carry     *walkProgress // continued by the next reconnect (see healthyAfter)
	stats     counters

	walkCancel context.CancelFunc
	walkGen    uint64
	// walkerEpoch is the session read by a walker goroutine (the one whose
	// walk brought it up); walkerIdle says that session has ended, so that
	// goroutine waits on walkJobs for the next walk.
	walkerEpoch   uint64
	walkerIdle    bool
	probeCancel   context.CancelFunc
	probeGen      uint64
	standbyCancel context.CancelFunc
	standbyGen    uint64
	switching     *switchState
	helpers       sync.WaitGroup

	connectReply chan error // the first connect's caller
	closeReply   chan error // the first Close's caller
	closing      bool
	closeResult  error
	closeTimer   *time.Timer
	finalErr     error
	exit         bool
}

type counters struct {
	connects, reconnects, disconnects uint64
	replayed, inDoubt, slowConsumers  uint64
	lastDowntime, totalDowntime       time.Duration
}

type pending struct {
	id        string
	epoch     uint64 // session the frame was written on
	tracked   bool
	f         *frame.Frame
	size      int64
	written   bool       // the frame left whole (untracked sends)
	done      chan error // buffered 1; nil when nobody waits
	errorEnds int        // sessions ended by ERROR while this was the oldest (tracked)
	prev      *pending
	next      *pending
}

// cache is the ordered list of tracked sends awaiting receipts.
type cache struct {
	head, tail *pending
	n          int
	bytes      int64
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
}

// reserve takes size bytes of the tracked-send cache, within max (0 = no
// limit); a frame larger than the cache goes alone, into an empty cache.
func (c *Connection) reserve(size, max int64) bool {
	for {
		cur := c.cacheRes.Load()
		if max > 0 && cur > 0 && cur+size > max {
			return false
		}
		if c.cacheRes.CompareAndSwap(cur, cur+size) {
			return true
		}
	}
}

// uncache removes a tracked send from the cache and releases its bytes;
// owner only.
func (c *Connection) uncache(p *pending) {
	c.own.cache.remove(p)
	c.cacheRes.Add(-p.size)
}

// parked is a request the owner could not serve yet (no connection, no
// cache room). try runs on the owner and reports whether it is served; fail
// ends it (close, final failure). The caller abandons it when its context
// ends (see Connection.abandon).
type parked struct {
	ctx  context.Context
	try  func() bool
	fail func(error)
	why  string // what it waits for, for the caller's error
}

// ---------------------------------------------------------------- inbox

// inbox is the owner's queue: posting never blocks (session readers and
// helpers must never wait for the owner), and it holds at most one entry
// per blocked caller plus the frames and events sessions produced.
type inbox struct {
	mu     sync.Mutex
	q      []func()
	wake   chan struct{} // capacity 1
	closed bool
}

func (b *inbox) post(fn func()) bool {
	if !b.postQuiet(fn) {
		return false
	}
	b.nudge()
	return true
}

// nudge wakes the owner to run what was queued quietly.
func (b *inbox) nudge() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// postQuiet queues fn without waking the owner: for work that only has to
// be done before whatever comes after it (a registration that must precede
// its receipt), never on its own. Every later post wakes the owner, which
// then runs the queue in order.
func (b *inbox) postQuiet(fn func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.q = append(b.q, fn)
	return true
}

func (b *inbox) take(buf []func()) []func() {
	b.mu.Lock()
	buf = append(buf[:0], b.q...)
	clear(b.q)
	b.q = b.q[:0]
	b.mu.Unlock()
	return buf
}

func (b *inbox) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// post queues fn for the owner; false once the owner has stopped taking work.
func (c *Connection) post(fn func()) bool { return c.inbox.post(fn) }

// call runs fn on the owner and waits for it; false if the connection is
// closed (fn may then not have run).
func (c *Connection) call(fn func()) bool {
	done := make(chan struct{})
	if !c.post(func() { fn(); close(done) }) {
		return false
	}
	select {
	case <-done:
		return true
	case <-c.closed:
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
}

// ---------------------------------------------------------------- creation

func newConnection(f *Factory, name string, def *confparse.Factory, opts connConfig) *Connection {
	c := &Connection{
		f:      f,
		name:   name,
		opts:   opts,
		disp:   newDispatcher(),
		id:     fmt.Sprintf("%x-%d", time.Now().UnixNano(), connSeq.Add(1)),
		closed: make(chan struct{}),
	}
	c.inbox.wake = make(chan struct{}, 1)
	c.walkJobs = make(chan *walkJob, 1)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.log = opts.logger.WithField("factory", name)
	o := &c.own
	o.state = StateConnecting
	o.subs = map[string]*Subscription{}
	o.pending = map[string]*pending{}
	o.installed = map[uint64]struct{}{}
	o.paused = map[*Subscription]bool{}
	c.setDef(def)
	c.publishSubs()
	return c
}

// discard undoes newConnection for a connection whose owner never started.
func (c *Connection) discard() {
	if k := c.own.schedKey; k != "" {
		schedulers.release(k)
		c.own.schedKey = ""
	}
	c.cancel()
	c.disp.close()
}

// setDef makes def the definition in force and rebuilds the walker from it;
// owner only (or before the owner starts).
func (c *Connection) setDef(def *confparse.Factory) {
	o := &c.own
	o.def = def
	c.defSnap.Store(def)
	o.walker = sequential.NewWalker(c.f.listFor(c.name, def), sequential.WalkOptions{
		Randomize:      def.Randomize,
		PriorityBackup: def.PriorityBackup,
		Metric:         def.Metric,
		Tracker:        c.opts.tracker,
	})
	o.chooser = o.walker
	if c.opts.chooser != nil {
		o.chooser = c.opts.chooser
	}
	key := c.f.schedulerKey(def)
	if key != o.schedKey {
		if o.schedKey != "" {
			schedulers.release(o.schedKey)
		}
		schedulers.acquire(key, def.SchedulerConfig(), c.f.opts.conn.clock)
		o.schedKey = key
	}
}

// def is the definition in force (any goroutine).
func (c *Connection) def() *confparse.Factory { return c.defSnap.Load() }

// logs reports whether the logger writes at level, so that a silent logger
// (the default) costs the reconnect path no field maps: logging is off the
// path a failover waits on only if it costs nothing when off.
func (c *Connection) logs(level logrus.Level) bool {
	switch l := c.log.(type) {
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(level)
	case interface{ IsLevelEnabled(logrus.Level) bool }:
		return l.IsLevelEnabled(level)
	}
	return true
}

func (c *Connection) newID(prefix string) string {
	return prefix + c.id + "-" + strconv.FormatUint(c.ids.Add(1), 10)
}

func (c *Connection) emit(e Event) { c.queueEvent(e, true) }

// emitQuiet queues e's callbacks without waking the dispatcher: the caller
// wakes it (disp.kick) once the work that must not wait is started.
func (c *Connection) emitQuiet(e Event) { c.queueEvent(e, false) }

func (c *Connection) queueEvent(e Event, wake bool) {
	e.Factory = c.name
	if e.Time.IsZero() {
		e.Time = c.opts.clock.Now()
	}
	if h := c.opts.eventHandler; h != nil {
		c.disp.push(func() { h(e) }, wake)
	}
	if h := c.opts.exceptionListener; h != nil && e.Err != nil &&
		(e.Kind == EventDisconnected || e.Kind == EventFailed || e.Kind == EventSendRejected) {
		err := e.Err
		c.disp.push(func() { h(err) }, wake)
	}
}

// start runs the owner and the first connect; it returns when connected or
// when connecting failed (the connection is then closed).
func (c *Connection) start(ctx context.Context) error {
	reply := make(chan error, 1)
	go c.run()
	c.post(func() {
		o := &c.own
		o.connectReply = reply
		c.startWalk(ctx, "connect", nil)
	})
	select {
	case err := <-reply:
		if err != nil {
			<-c.closed
			c.disp.close()
		}
		return err
	case <-c.closed:
		c.disp.close()
		select {
		case err := <-reply:
			return err
		default:
			return ErrClosed
		}
	}
}

// ---------------------------------------------------------------- the owner

// run is the owner: the only goroutine that reads or writes c.own. It
// serves requests and session events in order, never calls user code and
// never blocks on I/O without a bound.
func (c *Connection) run() {
	o := &c.own
	var buf []func()
	for !o.exit {
		<-c.inbox.wake
		buf = c.inbox.take(buf)
		for i, fn := range buf {
			fn()
			buf[i] = nil
		}
	}
	c.cancel()
	c.inbox.close()
	o.helpers.Wait()
	// What was queued meanwhile sees the connection closed.
	for _, fn := range c.inbox.take(nil) {
		fn()
	}
	for _, s := range o.subOrder {
		<-s.pumpDone
	}
	if schedKey := o.schedKey; schedKey != "" {
		schedulers.release(schedKey)
		o.schedKey = ""
	}
	c.final = c.snapshot()
	c.closedWith = o.finalErr
	c.f.forget(c)
	c.emit(Event{Kind: EventClosed})
	c.disp.stop()
	close(c.closed)
}

// setState changes the state; owner only.
func (c *Connection) setState(s string) { c.own.state = s }

// publishSubs refreshes the readers' view of the subscriptions.
func (c *Connection) publishSubs() {
	m := make(map[string]*Subscription, len(c.own.subs))
	for k, v := range c.own.subs {
		m[k] = v
	}
	c.subsMap.Store(&m)
}

// ---------------------------------------------------------------- walks

// startWalk runs a connect or reconnect walk on a helper goroutine; its
// result comes back to walkDone. ctx (the caller's, for the first connect)
// bounds it as well as Close.
func (c *Connection) startWalk(ctx context.Context, phase string, lost *sequential.Endpoint) {
	o := &c.own
	parent := ctx
	if parent == nil {
		parent = c.ctx
	}
	wctx, cancel := context.WithCancel(parent)
	if ctx != nil {
		// The caller's context (its deadline is the error's cause) and Close.
		stop := context.AfterFunc(c.ctx, cancel)
		inner := cancel
		cancel = func() { stop(); inner() }
	}
	ctx = wctx
	o.walkCancel = cancel
	o.walkGen++
	gen := o.walkGen
	var prog *walkProgress
	var sched = c.scheduler()
	if phase == "connect" {
		prog = newProgress(o.def.ConnectPolicy(), c.opts)
		sched = nil
	} else if o.carry != nil {
		prog = o.carry
	} else {
		prog = newProgress(o.def.ReconnectPolicy(), c.opts)
		prog.reconnect = true
	}
	o.carry = nil
	job := &walkJob{ctx: ctx, cancel: cancel, gen: gen, phase: phase, prog: prog,
		def: o.def, chooser: o.chooser, lost: lost, sched: sched}
	if o.walkerIdle {
		// The goroutine that read the session just lost takes the walk:
		// no goroutine to start, no stack to grow again.
		o.walkerIdle = false
		select {
		case c.walkJobs <- job:
			return
		default: // an exit request is still queued: start a walker
		}
	}
	o.helpers.Add(1)
	go c.walker(job)
}

// walkJob is one connect or reconnect walk, as the owner hands it to a
// walker goroutine: everything the walk reads, fixed when it starts.
type walkJob struct {
	ctx     context.Context
	cancel  context.CancelFunc
	gen     uint64
	phase   string
	prog    *walkProgress
	def     *confparse.Factory
	chooser sequential.Chooser
	lost    *sequential.Endpoint
	sched   *attempts.Scheduler
}

// walker runs walks. The session a walk brings up is read by the same
// goroutine (Session.Serve): nothing is started or scheduled between the
// dial and the first frames the owner writes on it. Once that session has
// ended the goroutine waits for the owner's next walk (see walkerIdle),
// and ends with a failed walk or the connection.
func (c *Connection) walker(job *walkJob) {
	defer c.own.helpers.Done()
	for {
		var endReconnect func()
		if job.sched != nil {
			endReconnect = job.sched.Reconnecting()
		}
		sess, ep, err := c.walk(job.ctx, job.phase, job.prog, job.def, job.chooser, job.lost, job.sched)
		if endReconnect != nil {
			endReconnect()
		}
		job.cancel()
		j := job
		if !c.post(func() { c.walkDone(j.gen, j.phase, j.prog, sess, ep, err) }) {
			if sess != nil {
				go sess.Close() // Close waits for the reader: this goroutine, below
				sess.Serve()
			}
			return
		}
		if sess == nil {
			return
		}
		sess.Serve()
		select {
		case job = <-c.walkJobs:
			if job == nil {
				return // another walker is idle already
			}
		case <-c.ctx.Done():
			return
		}
	}
}

// walkDone is where every walk ends: the one place, with switchDone and
// takeSpare, that installs a session.
func (c *Connection) walkDone(gen uint64, phase string, prog *walkProgress, sess *session.Session, ep sequential.Endpoint, err error) {
	o := &c.own
	if gen == o.walkGen {
		o.walkCancel = nil
	}
	if o.closing || gen != o.walkGen {
		if sess != nil {
			sess.Close()
			if !o.closing {
				// Its walker read it and now waits for the next walk; one
				// idle walker is enough.
				if o.walkerIdle {
					select {
					case c.walkJobs <- nil:
					default:
					}
				}
				o.walkerIdle = true
			}
		}
		if o.connectReply != nil && o.closing {
			o.connectReply <- ErrClosed
			o.connectReply = nil
		}
		return
	}
	if err != nil {
		if phase == "connect" {
			reply := o.connectReply
			o.connectReply = nil
			o.finalErr = err
			c.shutdown(err, false)
			reply <- err
			return
		}
		c.log.WithError(err).Error("reconnect failed; connection closed")
		o.finalErr = err
		c.emit(Event{Kind: EventFailed, Err: err})
		c.shutdown(err, false)
		return
	}
	o.lastProg = prog
	o.walkerEpoch = sess.Tag()
	r := c.install(sess, ep)
	if phase == "connect" {
		c.emit(Event{Kind: EventConnected, URL: ep.String()})
		o.connectReply <- nil
		o.connectReply = nil
	} else {
		c.reconnected(ep)
	}
	c.announce(r)
	c.startExtras()
	c.checkInstalled(sess)
}

// checkInstalled applies the end of a session that ended before it was
// installed: its end event was handled while it was not yet current;
// owner only.
func (c *Connection) checkInstalled(sess *session.Session) {
	if err := sess.Err(); err != nil && c.own.sess == sess {
		c.sessionEnded(sess.Tag(), err)
	}
}

// ---------------------------------------------------------------- installing

// install makes sess the current session: resubscribe, replay, publish it
// to writers, then serve parked requests; owner only.
func (c *Connection) install(sess *session.Session, ep sequential.Endpoint) installed {
	o := &c.own
	o.sess = sess
	o.epoch = sess.Tag()
	o.installed[o.epoch] = struct{}{}
	o.cur = ep
	o.connected = c.opts.clock.Now()
	if o.release != nil {
		o.release()
	}
	o.release = c.opts.tracker.Connected(ep)
	ls := &liveSession{sess: sess, epoch: o.epoch, ep: ep}
	c.on.Store(ls)

	// Subscriptions first, so that replies to replayed sends find them.
	ok := true
	for _, s := range o.subOrder {
		if err := sess.Write(s.frame); err != nil {
			ok = false // the session died; its end is already queued
			break
		}
	}
	replayed := 0
	for p := o.cache.head; p != nil && ok; p = p.next {
		p.epoch = o.epoch
		if err := sess.Write(p.f); err != nil {
			break
		}
		c.countSent(p.f, ep)
		replayed++
	}
	for _, s := range o.subOrder {
		if s.q.over() {
			sess.Pause() // still full from before: keep the broker waiting
		}
	}
	resub := o.stats.connects > 0
	o.stats.connects++
	o.stats.replayed += uint64(replayed)
	c.setState(StateConnected)
	if testHookBeforeLive != nil {
		testHookBeforeLive()
	}
	c.live.Store(ls)
	c.f.metricsConnected(c.name, ep.String())
	c.serveParked()
	res := installed{url: ep.String(), replayed: replayed}
	if resub {
		res.resubscribed = len(o.subOrder)
	}
	return res
}

// unpublish withdraws the current session from writers and readers of
// CurrentURL; owner only.
func (c *Connection) unpublish() {
	c.live.Store(nil)
	c.on.Store(nil)
}

// testHookBeforeLive, when set by a test, runs on the owner after install
// has resubscribed and replayed, before writers see the session.
var testHookBeforeLive func()

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

// reconnected records and announces a completed reconnect.
func (c *Connection) reconnected(ep sequential.Endpoint) {
	o := &c.own
	down := c.opts.clock.Now().Sub(o.lostAt)
	o.stats.reconnects++
	o.stats.lastDowntime = down
	o.stats.totalDowntime += down
	c.f.metricsReconnected(c.name, ep.String(), down)
	if c.logs(logrus.InfoLevel) {
		c.log.WithFields(logrus.Fields{"url": ep.String(), "downtime": down}).Info("reconnected")
	}
	c.emit(Event{Kind: EventReconnected, URL: ep.String(), Downtime: down})
}

// serveParked retries parked requests in order; owner only.
func (c *Connection) serveParked() {
	o := &c.own
	if len(o.parked) == 0 {
		return
	}
	list := o.parked
	o.parked = nil
	for i, p := range list {
		if p.ctx.Err() != nil {
			continue // its caller gave up and returned
		}
		if !p.try() {
			o.parked = append(o.parked, p)
		}
		if o.sess == nil {
			// The session died while serving: keep the rest, in order.
			o.parked = append(o.parked, list[i+1:]...)
			break
		}
	}
	c.parkedN.Store(int64(len(o.parked)))
}

// submit serves p now or parks it; owner only.
func (c *Connection) submit(p *parked) {
	o := &c.own
	if o.closing {
		p.fail(c.closedErr())
		return
	}
	// Queued requests go first: a new one must not overtake them.
	if len(o.parked) == 0 && p.try() {
		return
	}
	kept := o.parked[:0]
	for _, q := range o.parked {
		if q.ctx.Err() == nil {
			kept = append(kept, q)
		}
	}
	o.parked = append(kept, p)
	c.parkedN.Store(int64(len(o.parked)))
	if p.why == "" {
		p.why = "waiting for a connection (" + o.state + ")"
	}
}

// abandon removes p, whose caller's context ended; it reports what p was
// waiting for and false if the owner had served it already.
func (c *Connection) abandon(p *parked) (why string, removed bool) {
	c.call(func() {
		o := &c.own
		for i, q := range o.parked {
			if q == p {
				o.parked = append(o.parked[:i:i], o.parked[i+1:]...)
				c.parkedN.Store(int64(len(o.parked)))
				why, removed = p.why, true
				return
			}
		}
	})
	return why, removed
}

// closedErr is what calls get once the connection is closed.
func (c *Connection) closedErr() error {
	if err := c.own.finalErr; err != nil {
		return err
	}
	return ErrClosed
}

// ---------------------------------------------------------------- session events

// sessionEnded applies the end of any session (current, spare, old); owner only.
func (c *Connection) sessionEnded(epoch uint64, err error) {
	o := &c.own
	delete(o.installed, epoch)
	if epoch == o.walkerEpoch {
		o.walkerEpoch, o.walkerIdle = 0, true
	}
	if o.spare != nil && o.spare.sess.Tag() == epoch {
		o.spare = nil
		c.startStandby()
		return
	}
	if o.switching != nil && o.switching.to.Tag() == epoch {
		o.switching.toDead = true
	}
	current := o.sess != nil && o.epoch == epoch
	if current {
		c.unpublish()
		o.sess = nil
		if o.release != nil {
			o.release()
			o.release = nil
		}
		lived := c.opts.clock.Now().Sub(o.connected)
		o.lostAt = c.opts.clock.Now()
		o.lostEp, o.hasLost = o.cur, true
		var se *session.ServerError
		var le *session.LimitError
		byError := errors.As(err, &se)
		// An ERROR frame, or a frame over a limit (a redelivered oversized
		// message comes back on every new session), soon after CONNECTED.
		if (byError || errors.As(err, &le)) && lived < healthyAfter && o.lastProg != nil && o.lastProg.reconnect {
			o.carry = o.lastProg // only looked healthy: continue its episode
			o.carry.lost, o.carry.lostURL = err, o.cur.String()
		}
		if byError && se.ReceiptID == "" && o.cache.head != nil {
			c.suspectOldest(err)
		}
	}
	if !current {
		c.failPending(epoch, err)
		return
	}
	c.stopProbe()
	if o.closing {
		c.failPending(epoch, err)
		c.finishClose()
		return
	}
	o.stats.disconnects++
	lostURL := o.cur.String()
	c.setState(StateReconnecting)
	// The reconnect starts first (a spare taken, or a walk started), then
	// the bookkeeping: the event is queued before the walk can queue its
	// own, and its callbacks wake once the walk is under way.
	c.emitQuiet(Event{Kind: EventDisconnected, URL: lostURL, Err: err})
	if !c.takeSpare() {
		lost := o.cur
		c.startWalk(nil, "reconnect", &lost)
	}
	// Let the walk run now, on this processor: the owner's bookkeeping
	// below waits, not the dial.
	runtime.Gosched()
	c.disp.kick()
	c.failPending(epoch, err)
	c.f.metricsDisconnected(c.name, lostURL)
	if c.logs(logrus.WarnLevel) {
		c.log.WithField("url", lostURL).WithError(err).Warn("connection lost")
	}
}

// suspectOldest counts a session ended by an ERROR frame naming no receipt
// against the oldest unconfirmed tracked send, and gives it up after
// maxErrorEndsPerSend such ends; owner only.
func (c *Connection) suspectOldest(err error) {
	o := &c.own
	p := o.cache.head
	if p.epoch != o.epoch {
		return // never written on the session that ended
	}
	p.errorEnds++
	if p.errorEnds < maxErrorEndsPerSend {
		return
	}
	delete(o.pending, p.id)
	c.uncache(p)
	c.finish(p, fmt.Errorf("stompft: tracked send given up: %d sessions in a row ended by an ERROR frame while it was the oldest unconfirmed send: %w", p.errorEnds, err))
	c.cacheChanged()
}

// failPending tells whatever waited on the session epoch its fate; owner only.
func (c *Connection) failPending(epoch uint64, err error) {
	o := &c.own
	var se *session.ServerError
	rejected := errors.As(err, &se) && se.ReceiptID != ""
	for id, p := range o.pending {
		if p.epoch != epoch {
			continue
		}
		if rejected && id == se.ReceiptID {
			// The broker refused this frame: a definite failure, not a doubt.
			delete(o.pending, id)
			if p.tracked {
				c.uncache(p)
				c.cacheChanged()
			}
			c.finish(p, fmt.Errorf("stompft: broker rejected the send: %w", err))
			continue
		}
		if p.tracked || !p.written {
			continue // replayed on the next connection / never left
		}
		delete(o.pending, id)
		o.stats.inDoubt++
		c.finish(p, fmt.Errorf("%w: the connection was lost before its receipt: %w", ErrInDoubt, err))
	}
}

// finish completes p's waiter, if any; owner only. A tracked send nobody
// waits for is reported as an event instead: never a silent drop.
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

// onReceipt completes the waiter of a receipt; owner only.
func (c *Connection) onReceipt(id string) {
	o := &c.own
	p, ok := o.pending[id]
	if !ok {
		return
	}
	delete(o.pending, id)
	if p.tracked {
		c.uncache(p)
		c.cacheChanged()
	}
	c.finish(p, nil)
}

// cacheChanged serves what waited for cache room or an empty cache.
func (c *Connection) cacheChanged() {
	o := &c.own
	if o.sess != nil {
		c.serveParked()
	}
	if o.cache.n == 0 {
		for _, ch := range o.flushers {
			ch <- nil
		}
		o.flushers = nil
		if o.closing && o.closeTimer != nil {
			c.finishClose()
		}
	}
}

// ---------------------------------------------------------------- closing

// Close stops reconnecting, waits (bounded by WithDisconnectTimeout) for
// tracked sends to be confirmed, disconnects gracefully (bounded), closes
// every subscription channel and returns once the connection is closed.
// It returns ErrUnconfirmed when tracked sends were left unconfirmed.
//
// Close may be called from an event handler or exception listener: it then
// returns once the connection is closed, without waiting for the callback
// it was called from. Otherwise it also waits until queued callbacks have
// run, so no goroutine of the connection is left.
func (c *Connection) Close() error {
	reply := make(chan error, 1)
	c.post(func() { c.beginClose(reply) })
	<-c.closed
	var err error
	select {
	case err = <-reply:
	default:
	}
	if !c.disp.onDispatcher() {
		c.disp.close()
	}
	return err
}

// beginClose starts closing; owner only.
func (c *Connection) beginClose(reply chan error) {
	o := &c.own
	if o.closing {
		reply <- nil
		return
	}
	o.closing = true
	o.closeResult = nil
	o.closeReply = reply
	c.stopHelpers()
	for _, p := range o.parked {
		p.fail(ErrClosed)
	}
	o.parked = nil
	c.parkedN.Store(0)
	if o.sess != nil && o.cache.n > 0 {
		// Receipts keep coming while we wait for the cache to empty.
		o.closeTimer = time.AfterFunc(c.opts.disconnectTimeout, func() {
			c.post(func() {
				if !o.exit && o.closeTimer != nil {
					c.finishClose()
				}
			})
		})
		return
	}
	c.finishClose()
}

// finishClose disconnects and tears down; owner only.
func (c *Connection) finishClose() {
	o := &c.own
	if o.closeTimer != nil {
		o.closeTimer.Stop()
		o.closeTimer = nil
	}
	var result error
	if o.cache.n > 0 {
		result = fmt.Errorf("%w: %d sends had no receipt by Close", ErrUnconfirmed, o.cache.n)
	}
	c.shutdown(ErrClosed, true)
	if o.closeReply != nil {
		o.closeReply <- result
		o.closeReply = nil
	}
}

// shutdown is Close's and a final failure's common end; owner only. The
// owner exits after the current request.
func (c *Connection) shutdown(cause error, graceful bool) {
	o := &c.own
	if o.exit {
		return
	}
	o.closing = true
	c.stopHelpers()
	c.unpublish()
	var final error
	if !errors.Is(cause, ErrClosed) {
		final = cause
	}
	// Subscriptions end first: what still arrives is dropped, so a reader
	// paused by a full queue can resume and reach the DISCONNECT receipt.
	for _, s := range o.subOrder {
		s.end(final)
	}
	empty := map[string]*Subscription{}
	c.subsMap.Store(&empty)
	if sess := o.sess; sess != nil {
		o.sess = nil
		sess.Resume()
		if graceful {
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.disconnectTimeout)
			_ = sess.Disconnect(ctx)
			cancel()
		} else {
			sess.Close()
		}
	}
	if o.switching != nil {
		o.switching.to.Close()
	}
	if o.spare != nil {
		o.spare.sess.Close()
		o.spare = nil
	}
	if sp := c.spareSlot.Swap(nil); sp != nil {
		sp.sess.Close()
	}
	if o.release != nil {
		o.release()
		o.release = nil
	}
	c.setState(StateClosed)
	closedErr := ErrClosed
	if !errors.Is(cause, ErrClosed) {
		closedErr = cause
	}
	for _, p := range o.pending {
		if p.done != nil {
			if errors.Is(cause, ErrClosed) {
				p.done <- ErrClosed
			} else {
				p.done <- fmt.Errorf("%w: %w", ErrClosed, cause)
			}
			p.done = nil
		}
	}
	o.pending = map[string]*pending{}
	for _, p := range o.parked {
		p.fail(closedErr)
	}
	o.parked = nil
	c.parkedN.Store(0)
	for _, ch := range o.flushers {
		ch <- closedErr
	}
	o.flushers = nil
	if o.connectReply != nil && errors.Is(cause, ErrClosed) {
		o.connectReply <- ErrClosed
		o.connectReply = nil
	}
	o.exit = true
}

// stopHelpers cancels walks, probes and the standby keeper; owner only.
func (c *Connection) stopHelpers() {
	o := &c.own
	if o.walkCancel != nil {
		o.walkCancel()
		o.walkCancel = nil
		o.walkGen++
	}
	c.stopProbe()
	c.stopStandby()
}

// ---------------------------------------------------------------- info

// CurrentURL returns the URL of the broker the connection is on ("" while
// disconnected). It names the new broker from the moment a reconnect starts
// resubscribing: a message that broker delivers finds it here.
func (c *Connection) CurrentURL() string {
	if l := c.on.Load(); l != nil {
		return l.ep.String()
	}
	return ""
}

// ServerInfo returns what the current broker's CONNECTED frame said.
func (c *Connection) ServerInfo() (session.Info, bool) {
	if l := c.on.Load(); l != nil {
		return l.sess.Info(), true
	}
	return session.Info{}, false
}

// Stats is a snapshot of a connection's figures.
type Stats struct {
	Factory             string
	URL                 string // current URL, "" while disconnected
	State               string // StateConnecting, StateConnected, StateReconnecting, StateClosed
	Connects            uint64 // sessions established (first connect + reconnects + switches)
	Reconnects          uint64
	Disconnects         uint64
	FailedAttempts      uint64 // attempts to one URL that failed
	Sent                uint64 // SEND frames written (replays included)
	Received            uint64 // messages delivered to subscriptions
	Acked, Nacked       uint64
	Replayed            uint64 // tracked sends re-sent after a reconnect
	DuplicatesDropped   uint64
	DuplicatesUnchecked uint64 // DropDuplicates: messages whose id was too long to remember (MaxDedupIDLen)
	InDoubt             uint64 // receipt sends reported with ErrInDoubt
	SlowConsumers       uint64 // times a subscription's delivery queue filled up (EventSlowConsumer)
	Paused              bool   // reading is paused by a full delivery queue
	InFlight            int    // tracked sends awaiting their receipt
	CacheBytes          int64  // bytes held by those
	Subscriptions       int
	LastDowntime        time.Duration
	TotalDowntime       time.Duration
	BytesSent           int64
}

// Stats returns a snapshot of the connection's figures.
func (c *Connection) Stats() Stats {
	var s Stats
	if c.call(func() { s = c.snapshot() }) {
		return s
	}
	<-c.closed
	return c.final
}

// snapshot builds Stats; owner only.
func (c *Connection) snapshot() Stats {
	o := &c.own
	s := Stats{
		Factory: c.name, State: o.state,
		Connects: o.stats.connects, Reconnects: o.stats.reconnects, Disconnects: o.stats.disconnects,
		FailedAttempts: c.ext.failedAttempts.Load(), Sent: c.ext.sent.Load(), Received: c.ext.received.Load(),
		Acked: c.ext.acked.Load(), Nacked: c.ext.nacked.Load(), Replayed: o.stats.replayed,
		DuplicatesDropped: c.ext.dupsDropped.Load(), DuplicatesUnchecked: c.ext.dedupUnchecked.Load(),
		InDoubt: o.stats.inDoubt, SlowConsumers: o.stats.slowConsumers, Paused: len(o.paused) > 0,
		InFlight: o.cache.n, CacheBytes: o.cache.bytes, Subscriptions: len(o.subOrder),
		LastDowntime: o.stats.lastDowntime, TotalDowntime: o.stats.totalDowntime,
		BytesSent: c.ext.bytesSent.Load(),
	}
	if o.sess != nil {
		s.URL = o.cur.String()
	}
	return s
}
