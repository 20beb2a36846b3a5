package embedded

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// Engine selects the STOMP implementation behind a Broker.
type Engine int

const (
	// EngineGoStomp serves with go-stomp's server (the default). Only
	// ack:auto works there: its client and client-individual acknowledgements
	// are broken.
	EngineGoStomp Engine = iota
	// EngineMini serves with this package's own small STOMP 1.2 (and 1.1)
	// engine: client and client-individual acknowledgements, NACK,
	// transactions, receipts, heart-beats, /queue/ (point-to-point,
	// round-robin) and /topic/ (fan-out) destinations. Its queues live in a
	// SharedStorage: Options.Storage, or else a private one that the Broker
	// keeps across Kill and Start, like a persistent broker.
	EngineMini
)

// String names the engine.
func (e Engine) String() string {
	switch e {
	case EngineGoStomp:
		return "go-stomp"
	case EngineMini:
		return "mini"
	}
	return "Engine(" + strconv.Itoa(int(e)) + ")"
}

const (
	// miniWindow bounds a subscription's deliveries that are not yet
	// acknowledged (client modes) or not yet written (auto mode).
	miniWindow = 1000
	// miniWriteTimeout bounds every socket write.
	miniWriteTimeout = 10 * time.Second
	// miniLinger bounds the wait for the client to close after an ERROR or
	// a DISCONNECT receipt, so that the last frame is not lost to a reset.
	miniLinger = time.Second
	// miniDefaultHeartBeat is the server's heart-beat when Options.HeartBeat is 0.
	miniDefaultHeartBeat = time.Minute
)

// miniBroker is one run (Start to Kill) of the mini engine.
type miniBroker struct {
	b      *Broker
	store  *SharedStorage
	hb     time.Duration
	prefix string        // makes message-ids unique per run
	quit   chan struct{} // closed by stop
	kick   chan struct{} // wakes the dispatcher; capacity 1
	wg     sync.WaitGroup

	mu      sync.Mutex
	seq     uint64
	connSeq uint64
	queues  map[string]*miniQueue
	topics  map[string][]*miniSub
}

// miniQueue is a queue destination's subscriptions, served round-robin.
type miniQueue struct {
	subs []*miniSub
	next int
}

type miniSub struct {
	c     *miniConn
	id    string
	dest  string
	mode  string // "auto", "client" or "client-individual"
	topic bool
	// pending holds, oldest first, deliveries not yet acknowledged (client
	// modes) or not yet handed to the writer (auto mode).
	pending []*miniDelivery
	queued  int // deliveries in pending that came from the queue store
}

type miniDelivery struct {
	sub    *miniSub
	ackID  string
	stored *frame.Frame // as held in the store; nil for a topic message
	popped bool         // taken by the writer: the client may have seen it
}

type outFrame struct {
	f *frame.Frame
	d *miniDelivery
}

type miniConn struct {
	m       *miniBroker
	tc      *trackedConn
	r       *frame.Reader
	w       *frame.Writer
	session string
	tx, rx  time.Duration // heart-beat send and expected-receive intervals

	signal     chan struct{} // wakes the writer; capacity 1
	done       chan struct{} // closed when the reader gives up
	writerDone chan struct{}

	// Guarded by m.mu.
	out     []outFrame
	closing bool // the writer drains out and stops; nothing more is delivered
	subs    map[string]*miniSub
	acks    map[string]*miniDelivery
	txs     map[string][]*frame.Frame
}

// stompError is a protocol error: it is sent as an ERROR frame, then the
// connection closes.
type stompError struct {
	msg   string
	cause *frame.Frame
}

func protoErr(cause *frame.Frame, format string, args ...any) *stompError {
	return &stompError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// startMini serves ln with the mini engine on store.
func startMini(b *Broker, ln net.Listener, store *SharedStorage) *miniBroker {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	hb := b.opts.HeartBeat
	if hb <= 0 {
		hb = miniDefaultHeartBeat
	}
	m := &miniBroker{
		b: b, store: store, hb: hb, prefix: hex.EncodeToString(rnd[:]),
		quit: make(chan struct{}), kick: make(chan struct{}, 1),
		queues: map[string]*miniQueue{}, topics: map[string][]*miniSub{},
	}
	m.wg.Add(2)
	go m.acceptLoop(ln)
	go m.dispatchLoop()
	return m
}

// stop ends the dispatcher and waits (bounded) for every goroutine of this
// run; the listener and the connections must already be closed.
func (m *miniBroker) stop() {
	close(m.quit)
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	t := time.NewTimer(killSettle)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

func (m *miniBroker) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *miniBroker) acceptLoop(ln net.Listener) {
	defer m.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tc, ok := c.(*trackedConn)
		if !ok {
			_ = c.Close()
			continue
		}
		m.wg.Add(1)
		go m.handle(tc)
	}
}

// dispatchLoop moves queued messages to subscriptions with room, whenever
// the store changes (here or in another broker sharing it) or a
// subscription gains room.
func (m *miniBroker) dispatchLoop() {
	defer m.wg.Done()
	for {
		// A frozen broker takes nothing from the store: with a shared store
		// the other broker must get what arrives meanwhile.
		if frozen := m.b.frozenCh(); frozen != nil {
			select {
			case <-frozen:
			case <-m.quit:
				return
			}
		}
		changed := m.store.Changed()
		m.dispatch()
		select {
		case <-changed:
		case <-m.kick:
		case <-m.quit:
			return
		}
	}
}

func (m *miniBroker) dispatch() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for dest, q := range m.queues {
		for {
			i := q.ready()
			if i < 0 {
				break
			}
			f, _ := m.store.Dequeue(dest)
			if f == nil {
				break
			}
			q.next = (i + 1) % len(q.subs)
			m.deliverLocked(q.subs[i], f)
		}
	}
}

// ready returns the index of the next subscription, round-robin, that can
// take a message, or -1.
func (q *miniQueue) ready() int {
	n := len(q.subs)
	for k := 0; k < n; k++ {
		i := (q.next + k) % n
		if s := q.subs[i]; !s.c.closing && s.queued < miniWindow {
			return i
		}
	}
	return -1
}

// deliverLocked queues a MESSAGE for sub; stored is the frame as held in the
// store (never modified), topic messages included.
func (m *miniBroker) deliverLocked(sub *miniSub, stored *frame.Frame) {
	m.seq++
	id := m.prefix + "-" + strconv.FormatUint(m.seq, 10)
	msg := stored.Clone()
	msg.Command = frame.MESSAGE
	msg.Header.Set(frame.MessageId, id)
	msg.Header.Set(frame.Subscription, sub.id)
	if sub.mode == "auto" {
		msg.Header.Del(frame.Ack)
	} else {
		msg.Header.Set(frame.Ack, id)
	}
	msg.Header.Set(frame.ContentLength, strconv.Itoa(len(msg.Body)))
	d := &miniDelivery{sub: sub, ackID: id}
	if !sub.topic {
		d.stored = stored
		sub.queued++
	}
	sub.pending = append(sub.pending, d)
	if sub.mode != "auto" {
		sub.c.acks[id] = d
	}
	sub.c.queueLocked(msg, d)
}

// requeueLocked puts the queue messages of ds (deliveries of one
// subscription) back at the head of its queue in one step, keeping their
// order; those the client may have seen are marked redelivered:true.
func (m *miniBroker) requeueLocked(ds []*miniDelivery) {
	var fs []*frame.Frame
	for _, d := range ds {
		if d.stored == nil || (d.popped && d.sub.mode == "auto") {
			continue
		}
		f := d.stored
		if d.popped {
			f = f.Clone()
			f.Header.Set("redelivered", "true")
		}
		fs = append(fs, f)
	}
	if len(fs) > 0 {
		m.store.RequeueAll(ds[0].sub.dest, fs)
	}
}

// removeSubLocked drops sub and requeues what it had not acknowledged.
func (m *miniBroker) removeSubLocked(sub *miniSub) {
	c := sub.c
	delete(c.subs, sub.id)
	if sub.topic {
		subs := m.topics[sub.dest]
		for i, s := range subs {
			if s == sub {
				m.topics[sub.dest] = append(subs[:i:i], subs[i+1:]...)
				break
			}
		}
		if len(m.topics[sub.dest]) == 0 {
			delete(m.topics, sub.dest)
		}
	} else if q := m.queues[sub.dest]; q != nil {
		for i, s := range q.subs {
			if s == sub {
				q.subs = append(q.subs[:i:i], q.subs[i+1:]...)
				if q.next > i {
					q.next--
				}
				break
			}
		}
		if len(q.subs) == 0 {
			delete(m.queues, sub.dest)
		} else {
			q.next %= len(q.subs)
		}
	}
	for _, d := range sub.pending {
		delete(c.acks, d.ackID)
	}
	kept := c.out[:0]
	for _, o := range c.out {
		if o.d == nil || o.d.sub != sub {
			kept = append(kept, o)
		}
	}
	clear(c.out[len(kept):])
	c.out = kept
	m.requeueLocked(sub.pending)
	sub.pending, sub.queued = nil, 0
}

func (m *miniBroker) handle(tc *trackedConn) {
	defer m.wg.Done()
	m.mu.Lock()
	m.connSeq++
	session := m.prefix + "-s" + strconv.FormatUint(m.connSeq, 10)
	m.mu.Unlock()
	c := &miniConn{
		m: m, tc: tc, r: frame.NewReader(tc), w: frame.NewWriter(tc),
		session: session,
		signal:  make(chan struct{}, 1), done: make(chan struct{}), writerDone: make(chan struct{}),
		subs: map[string]*miniSub{}, acks: map[string]*miniDelivery{}, txs: map[string][]*frame.Frame{},
	}
	graceful := c.run()
	// Requeue before Close: Kill returns once Close ran, and the store must
	// then hold everything this connection had not acknowledged.
	m.mu.Lock()
	for _, sub := range c.subs {
		m.removeSubLocked(sub)
	}
	clear(c.txs)
	clear(c.out)
	c.out = nil
	m.mu.Unlock()
	m.wake()
	if graceful {
		c.linger()
	}
	_ = tc.Close()
}

// linger half-closes and waits (bounded) for the client to close, so that
// the last frame reaches it instead of being lost to a reset.
func (c *miniConn) linger() {
	tcp, ok := c.tc.Conn.(*net.TCPConn)
	if !ok {
		return
	}
	_ = tcp.CloseWrite()
	_ = tcp.SetReadDeadline(time.Now().Add(miniLinger))
	_, _ = io.Copy(io.Discard, tcp)
}

// isProtocolError tells a malformed frame from a failed or closed socket.
func isProtocolError(err error) bool {
	var ne net.Error
	return !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
		!errors.Is(err, net.ErrClosed) && !errors.As(err, &ne)
}

// run serves the connection until it ends; it reports whether it ended by
// protocol (ERROR or DISCONNECT) rather than by a failed socket. The writer
// has stopped when it returns.
func (c *miniConn) run() (graceful bool) {
	var f *frame.Frame
	for f == nil {
		var err error
		if f, err = c.r.Read(); err != nil {
			if isProtocolError(err) {
				_ = c.writeDirect(errorFrame("malformed frame: "+err.Error(), nil))
				return true
			}
			return false
		}
	}
	if serr := c.connect(f); serr != nil {
		_ = c.writeDirect(errorFrame(serr.msg, serr.cause))
		return true
	}
	go c.writeLoop()
	for {
		if c.rx > 0 {
			_ = c.tc.SetReadDeadline(time.Now().Add(2 * c.rx))
		}
		f, err := c.r.Read()
		if err != nil {
			if isProtocolError(err) {
				c.finish(errorFrame("malformed frame: "+err.Error(), nil))
				return true
			}
			close(c.done)
			<-c.writerDone
			return false
		}
		if f == nil {
			continue // heart-beat
		}
		disconnect, serr := c.handleFrame(f)
		if serr != nil {
			c.finish(errorFrame(serr.msg, serr.cause))
			return true
		}
		if disconnect {
			c.finish(nil)
			return true
		}
	}
}

// finish has the writer send what is queued, then last (if any), and stop.
func (c *miniConn) finish(last *frame.Frame) {
	c.m.mu.Lock()
	if last != nil {
		c.queueLocked(last, nil)
	}
	c.closing = true
	c.m.mu.Unlock()
	c.poke()
	<-c.writerDone
}

func (c *miniConn) poke() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// queueLocked hands f to the writer; m.mu must be held.
func (c *miniConn) queueLocked(f *frame.Frame, d *miniDelivery) {
	c.out = append(c.out, outFrame{f, d})
	c.poke()
}

func (c *miniConn) queue(f *frame.Frame) {
	c.m.mu.Lock()
	c.queueLocked(f, nil)
	c.m.mu.Unlock()
}

func (c *miniConn) writeDirect(f *frame.Frame) error {
	b := c.m.b
	if f != nil && f.Command == frame.RECEIPT && b.muteReceipts.Load() {
		return nil
	}
	_ = c.tc.SetWriteDeadline(time.Now().Add(miniWriteTimeout))
	if f != nil && b.cutNext.CompareAndSwap(true, false) {
		return c.writeHalf(f)
	}
	return c.w.Write(f)
}

// errCut ends a connection whose frame was cut by CutNextFrame.
var errCut = errors.New("embedded broker: frame cut in the middle")

// writeHalf writes the first half of f, then closes the connection (FIN):
// the client reads a partial frame, then EOF.
func (c *miniConn) writeHalf(f *frame.Frame) error {
	var buf bytes.Buffer
	if err := frame.NewWriter(&buf).Write(f); err != nil {
		return err
	}
	_, _ = c.tc.Write(buf.Bytes()[:buf.Len()/2])
	_ = c.tc.Conn.Close()
	return errCut
}

// writeLoop is the only writer once CONNECTED is sent; it also sends the
// heart-beats.
func (c *miniConn) writeLoop() {
	defer close(c.writerDone)
	var beat <-chan time.Time
	var t *time.Timer
	if c.tx > 0 {
		t = time.NewTimer(c.tx)
		defer t.Stop()
		beat = t.C
	}
	for {
		c.m.mu.Lock()
		var o outFrame
		ok := len(c.out) > 0
		if ok {
			o = c.out[0]
			c.out[0] = outFrame{}
			c.out = c.out[1:]
			if d := o.d; d != nil {
				d.popped = true
				if d.sub.mode == "auto" {
					removeDelivery(d.sub, d)
					c.m.wake()
				}
			}
		}
		closing := c.closing
		c.m.mu.Unlock()
		if !ok {
			if closing {
				return
			}
			select {
			case <-c.signal:
				continue
			case <-c.done:
				return
			case <-beat:
			}
		}
		if err := c.writeDirect(o.f); err != nil { // o.f nil = heart-beat
			_ = c.tc.Conn.Close() // the reader fails and cleans up
			return
		}
		if t != nil {
			t.Reset(c.tx)
		}
	}
}

// removeDelivery drops d from its subscription's pending list.
func removeDelivery(sub *miniSub, d *miniDelivery) {
	for i, p := range sub.pending {
		if p == d {
			sub.pending = append(sub.pending[:i:i], sub.pending[i+1:]...)
			if d.stored != nil {
				sub.queued--
			}
			return
		}
	}
}

func errorFrame(msg string, cause *frame.Frame) *frame.Frame {
	f := frame.New(frame.ERROR, frame.Message, msg, frame.ContentType, "text/plain")
	if cause != nil {
		if r, ok := cause.Header.Contains(frame.Receipt); ok {
			f.Header.Add(frame.ReceiptId, r)
		}
	}
	f.Body = []byte(msg)
	f.Header.Set(frame.ContentLength, strconv.Itoa(len(f.Body)))
	return f
}

func millis(d time.Duration) string {
	ms := d.Milliseconds()
	if ms == 0 && d > 0 {
		ms = 1
	}
	return strconv.FormatInt(ms, 10)
}

// connect handles CONNECT/STOMP and sends CONNECTED.
func (c *miniConn) connect(f *frame.Frame) *stompError {
	if f.Command != frame.CONNECT && f.Command != frame.STOMP {
		return protoErr(f, "expected CONNECT, got %s", f.Command)
	}
	version := ""
	for _, v := range strings.Split(f.Header.Get(frame.AcceptVersion), ",") {
		switch v = strings.TrimSpace(v); {
		case v == "1.2":
			version = v
		case v == "1.1" && version == "":
			version = v
		}
	}
	if version == "" {
		return protoErr(f, "unsupported STOMP version: need 1.1 or 1.2")
	}
	var cx, cy time.Duration
	if h, ok := f.Header.Contains(frame.HeartBeat); ok {
		var err error
		if cx, cy, err = frame.ParseHeartBeat(h); err != nil {
			return protoErr(f, "invalid heart-beat %q", h)
		}
	}
	if o := c.m.b.opts; o.Login != "" &&
		(f.Header.Get(frame.Login) != o.Login || f.Header.Get(frame.Passcode) != o.Passcode) {
		return protoErr(f, "Bad CONNECT")
	}
	hb := c.m.hb
	if cy > 0 {
		c.tx = max(hb, cy)
	}
	// The client sends every max(cx, our wish): allow twice that.
	if cx > 0 {
		c.rx = max(hb, cx)
	}
	ok := frame.New(frame.CONNECTED,
		frame.Version, version,
		frame.Server, "stompft-embedded",
		frame.HeartBeat, millis(hb)+","+millis(hb),
		frame.Session, c.session)
	if err := c.writeDirect(ok); err != nil {
		return protoErr(f, "write CONNECTED: %v", err)
	}
	return nil
}

// handleFrame serves one frame after CONNECT.
func (c *miniConn) handleFrame(f *frame.Frame) (disconnect bool, serr *stompError) {
	switch f.Command {
	case frame.SEND:
		serr = c.bufferOr(f, c.send)
	case frame.ACK:
		serr = c.bufferOr(f, func(f *frame.Frame) *stompError { return c.ack(f, false) })
	case frame.NACK:
		serr = c.bufferOr(f, func(f *frame.Frame) *stompError { return c.ack(f, true) })
	case frame.SUBSCRIBE:
		serr = c.subscribe(f)
	case frame.UNSUBSCRIBE:
		serr = c.unsubscribe(f)
	case frame.BEGIN, frame.COMMIT, frame.ABORT:
		serr = c.transaction(f)
	case frame.DISCONNECT:
		disconnect = true
	case frame.CONNECT, frame.STOMP:
		serr = protoErr(f, "already connected")
	default:
		serr = protoErr(f, "unexpected command %s", f.Command)
	}
	if serr != nil {
		return false, serr
	}
	if r, ok := f.Header.Contains(frame.Receipt); ok {
		c.queue(frame.New(frame.RECEIPT, frame.ReceiptId, r))
	}
	return disconnect, nil
}

// bufferOr keeps f for its transaction's COMMIT, or applies it now.
func (c *miniConn) bufferOr(f *frame.Frame, apply func(*frame.Frame) *stompError) *stompError {
	tx, ok := f.Header.Contains(frame.Transaction)
	if !ok {
		return apply(f)
	}
	if f.Command == frame.SEND {
		if _, serr := destKind(f); serr != nil {
			return serr
		}
	} else if ackID(f) == "" {
		return protoErr(f, "%s without id", f.Command)
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	fs, ok := c.txs[tx]
	if !ok {
		return protoErr(f, "unknown transaction %q", tx)
	}
	c.txs[tx] = append(fs, f)
	return nil
}

// destKind validates f's destination and reports whether it is a topic.
func destKind(f *frame.Frame) (topic bool, serr *stompError) {
	d := f.Header.Get(frame.Destination)
	switch {
	case strings.HasPrefix(d, "/queue/") && len(d) > len("/queue/"):
		return false, nil
	case strings.HasPrefix(d, "/topic/") && len(d) > len("/topic/"):
		return true, nil
	}
	return false, protoErr(f, "%s: destination %q is not /queue/NAME or /topic/NAME", f.Command, d)
}

func (c *miniConn) send(f *frame.Frame) *stompError {
	topic, serr := destKind(f)
	if serr != nil {
		return serr
	}
	stored := f.Clone()
	stored.Command = frame.MESSAGE
	for _, h := range []string{frame.Receipt, frame.Transaction, frame.ContentLength,
		frame.MessageId, frame.Subscription, frame.Ack} {
		stored.Header.Del(h)
	}
	dest := f.Header.Get(frame.Destination)
	if !topic {
		_ = c.m.store.Enqueue(dest, stored) // the dispatcher hears of it
		return nil
	}
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sub := range m.topics[dest] {
		if !sub.c.closing {
			m.deliverLocked(sub, stored)
		}
	}
	return nil
}

// ackID is the ACK/NACK's id (1.2), or its message-id (1.1).
func ackID(f *frame.Frame) string {
	if id := f.Header.Get(frame.Id); id != "" {
		return id
	}
	return f.Header.Get(frame.MessageId)
}

func (c *miniConn) ack(f *frame.Frame, nack bool) *stompError {
	id := ackID(f)
	if id == "" {
		return protoErr(f, "%s without id", f.Command)
	}
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	d := c.acks[id]
	if d == nil {
		return protoErr(f, "%s: unknown or already acknowledged id %q", f.Command, id)
	}
	sub := d.sub
	done := []*miniDelivery{d}
	if sub.mode == "client" { // cumulative: d and everything before it
		for i, p := range sub.pending {
			if p == d {
				done = append([]*miniDelivery(nil), sub.pending[:i+1]...)
				break
			}
		}
	}
	for _, p := range done {
		removeDelivery(sub, p)
		delete(c.acks, p.ackID)
	}
	if nack {
		m.requeueLocked(done)
	}
	m.wake()
	return nil
}

func (c *miniConn) subscribe(f *frame.Frame) *stompError {
	topic, serr := destKind(f)
	if serr != nil {
		return serr
	}
	id, ok := f.Header.Contains(frame.Id)
	if !ok || id == "" {
		return protoErr(f, "SUBSCRIBE without id")
	}
	mode := f.Header.Get(frame.Ack)
	switch mode {
	case "":
		mode = "auto"
	case "auto", "client", "client-individual":
	default:
		return protoErr(f, "SUBSCRIBE: unknown ack mode %q", mode)
	}
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := c.subs[id]; dup {
		return protoErr(f, "SUBSCRIBE: id %q already in use", id)
	}
	sub := &miniSub{c: c, id: id, dest: f.Header.Get(frame.Destination), mode: mode, topic: topic}
	c.subs[id] = sub
	if topic {
		m.topics[sub.dest] = append(m.topics[sub.dest], sub)
		return nil
	}
	q := m.queues[sub.dest]
	if q == nil {
		q = &miniQueue{}
		m.queues[sub.dest] = q
	}
	q.subs = append(q.subs, sub)
	m.wake()
	return nil
}

func (c *miniConn) unsubscribe(f *frame.Frame) *stompError {
	id := f.Header.Get(frame.Id)
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	sub := c.subs[id]
	if sub == nil {
		return protoErr(f, "UNSUBSCRIBE: no subscription %q", id)
	}
	m.removeSubLocked(sub)
	m.wake()
	return nil
}

func (c *miniConn) transaction(f *frame.Frame) *stompError {
	tx, ok := f.Header.Contains(frame.Transaction)
	if !ok || tx == "" {
		return protoErr(f, "%s without transaction", f.Command)
	}
	c.m.mu.Lock()
	fs, exists := c.txs[tx]
	switch {
	case f.Command == frame.BEGIN && exists:
		c.m.mu.Unlock()
		return protoErr(f, "BEGIN: transaction %q already started", tx)
	case f.Command == frame.BEGIN:
		c.txs[tx] = nil
		c.m.mu.Unlock()
		return nil
	case !exists:
		c.m.mu.Unlock()
		return protoErr(f, "%s: unknown transaction %q", f.Command, tx)
	}
	delete(c.txs, tx)
	c.m.mu.Unlock()
	if f.Command == frame.ABORT {
		return nil
	}
	for _, bf := range fs {
		var serr *stompError
		switch bf.Command {
		case frame.SEND:
			serr = c.send(bf)
		case frame.ACK:
			serr = c.ack(bf, false)
		case frame.NACK:
			serr = c.ack(bf, true)
		}
		if serr != nil {
			serr.cause = f
			return serr
		}
	}
	return nil
}
