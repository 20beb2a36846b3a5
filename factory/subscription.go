package factory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/session"
)

// Private SUBSCRIBE headers set by subscribe options and stripped before
// the frame leaves.
const (
	dedupHeader      = "x-stompft-dedup-window"
	queueMsgsHeader  = "x-stompft-queue-messages"
	queueBytesHeader = "x-stompft-queue-bytes"
)

// Broker prefetch headers set on client and client-individual SUBSCRIBE
// frames (unless given): ActiveMQ's and RabbitMQ's.
const (
	prefetchActiveMQ = "activemq.prefetchSize"
	prefetchRabbitMQ = "prefetch-count"
)

// Delivery queue defaults, used when neither QueueLimits nor the factory's
// subscription_queue_messages / subscription_queue_bytes keys set them.
const (
	DefaultQueueMessages = confparse.DefaultSubscriptionQueueMessages
	DefaultQueueBytes    = confparse.DefaultSubscriptionQueueBytes
)

// DefaultDedupWindow is how many recent stompft-msg-id values DropDuplicates
// remembers per subscription when given 0.
const DefaultDedupWindow = 65536

// DefaultDedupBytes bounds the memory DropDuplicates uses per subscription:
// the remembered ids plus a fixed overhead per id (dedupEntryOverhead). The
// oldest ids are forgotten first when either bound is reached.
const DefaultDedupBytes = 4 << 20

// MaxDedupIDLen is the longest stompft-msg-id DropDuplicates remembers. A
// longer id is delivered unchecked and counted in Stats.DuplicatesUnchecked:
// stompft's own ids are under 64 bytes, so a longer one comes from another
// producer and must not let it grow the window's memory.
const MaxDedupIDLen = 256

// dedupEntryOverhead approximates a remembered id's cost beyond its bytes
// (map entry and ring slot).
const dedupEntryOverhead = 48

// DropDuplicates is a subscribe option: messages whose stompft-msg-id header
// was already delivered on this subscription are dropped (and acknowledged
// for you in client-individual mode). It remembers the last window ids
// (0 = DefaultDedupWindow), within DefaultDedupBytes of memory, ids up to
// MaxDedupIDLen bytes; a duplicate arriving after window newer messages is
// not caught. Together with track_messages on the producer this gives
// effectively-once delivery.
func DropDuplicates(window int) func(*frame.Frame) error {
	return func(f *frame.Frame) error {
		if f.Command != frame.SUBSCRIBE {
			return stomp.ErrInvalidCommand
		}
		if window <= 0 {
			window = DefaultDedupWindow
		}
		f.Header.Set(dedupHeader, strconv.Itoa(window))
		return nil
	}
}

// QueueLimits is a subscribe option: the subscription's delivery queue
// holds at most msgs messages and bytes bytes of bodies before the
// connection stops reading from the broker (EventSlowConsumer). 0 keeps
// the factory's setting (subscription_queue_messages /
// subscription_queue_bytes, else DefaultQueueMessages / DefaultQueueBytes).
func QueueLimits(msgs int, bytes int64) func(*frame.Frame) error {
	return func(f *frame.Frame) error {
		if f.Command != frame.SUBSCRIBE {
			return stomp.ErrInvalidCommand
		}
		if msgs < 0 || bytes < 0 {
			return errors.New("stompft: QueueLimits: negative limit")
		}
		if msgs > 0 {
			f.Header.Set(queueMsgsHeader, strconv.Itoa(msgs))
		}
		if bytes > 0 {
			f.Header.Set(queueBytesHeader, strconv.FormatInt(bytes, 10))
		}
		return nil
	}
}

// Message is a message delivered to a Subscription. Err is set on the last
// value a subscription delivers when its connection failed for good.
type Message struct {
	Err          error
	Destination  string
	ContentType  string
	Header       *frame.Header
	Body         []byte
	Subscription *Subscription

	epoch uint64           // session it arrived on
	sess  *session.Session // that session: acks go on it
	seq   uint64           // delivery number on its subscription
}

// ShouldAck reports whether the message needs Ack or Nack.
func (m *Message) ShouldAck() bool {
	return m.Subscription != nil && m.Subscription.ack != stomp.AckAuto
}

// MsgID returns the stompft-msg-id header ("" for untracked producers).
func (m *Message) MsgID() string {
	if m.Header == nil {
		return ""
	}
	return m.Header.Get(MsgIDHeader)
}

// Subscription is a subscription that survives failover: after a reconnect
// it is re-created with the same destination, ack mode, headers and id, and
// C keeps delivering. Messages wait in a bounded delivery queue of their own
// (QueueLimits), so a consumer that does not read delays no other
// subscription. C is closed by Unsubscribe or Close, and after a final
// failure (whose error is the last Message's Err, when there was room).
type Subscription struct {
	C <-chan *Message

	c     chan *Message
	conn  *Connection
	id    string
	dest  string
	ack   stomp.AckMode
	frame *frame.Frame
	dedup *dedupWindow
	q     deliveryQueue

	done     chan struct{} // closed when the subscription ends
	doneOnce sync.Once
	final    error         // set before done closes
	pumpDone chan struct{} // closed when the pump has closed C

	// Cumulative-ack bookkeeping for dropped duplicates (AckClient): a
	// duplicate may only be acked once everything delivered before it is,
	// or the ack would also cover messages the application still holds.
	ackMu     sync.Mutex
	delivered uint64   // seq of the last message handed to C
	acked     uint64   // highest seq the application acked
	deferred  *Message // latest dropped duplicate awaiting that moment
}

// ID returns the subscription id (kept across reconnects).
func (s *Subscription) ID() string { return s.id }

// Destination returns the subscribed destination.
func (s *Subscription) Destination() string { return s.dest }

// AckMode returns the acknowledgement mode.
func (s *Subscription) AckMode() stomp.AckMode { return s.ack }

// Subscribe subscribes like go-stomp's Conn.Subscribe (stomp.SubscribeOpt
// options, plus DropDuplicates and QueueLimits). During an outage it waits
// for the reconnect within the send timeout. For client and
// client-individual acks the SUBSCRIBE carries activemq.prefetchSize and
// prefetch-count equal to the queue's message limit unless given, so a
// broker that honours them never fills the queue.
func (c *Connection) Subscribe(destination string, ack stomp.AckMode, opts ...func(*frame.Frame) error) (*Subscription, error) {
	return c.SubscribeContext(context.Background(), destination, ack, opts...)
}

// SubscribeContext is Subscribe bounded by ctx as well.
func (c *Connection) SubscribeContext(ctx context.Context, destination string, ack stomp.AckMode, opts ...func(*frame.Frame) error) (*Subscription, error) {
	f := frame.New(frame.SUBSCRIBE, frame.Destination, destination, frame.Ack, ack.String())
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(f); err != nil {
			return nil, err
		}
	}
	if _, ok := f.Header.Contains(frame.Id); !ok {
		f.Header.Set(frame.Id, c.newID("s-"))
	}
	def := c.def()
	s := &Subscription{
		conn: c, id: f.Header.Get(frame.Id), dest: destination, ack: ack,
		done: make(chan struct{}), pumpDone: make(chan struct{}),
	}
	if w, ok := f.Header.Contains(dedupHeader); ok {
		n, _ := strconv.Atoi(w)
		s.dedup = newDedupWindow(n, DefaultDedupBytes)
		f.Header.Del(dedupHeader)
	}
	s.q.maxMsgs, s.q.maxBytes = DefaultQueueMessages, DefaultQueueBytes
	if def.SubscriptionQueueMessages > 0 {
		s.q.maxMsgs = def.SubscriptionQueueMessages
	}
	if def.SubscriptionQueueBytes > 0 {
		s.q.maxBytes = def.SubscriptionQueueBytes
	}
	if v, ok := f.Header.Contains(queueMsgsHeader); ok {
		s.q.maxMsgs, _ = strconv.Atoi(v)
		f.Header.Del(queueMsgsHeader)
	}
	if v, ok := f.Header.Contains(queueBytesHeader); ok {
		s.q.maxBytes, _ = strconv.ParseInt(v, 10, 64)
		f.Header.Del(queueBytesHeader)
	}
	s.q.wake = make(chan struct{}, 1)
	if ack != stomp.AckAuto {
		for _, h := range []string{prefetchActiveMQ, prefetchRabbitMQ} {
			if _, ok := f.Header.Contains(h); !ok {
				f.Header.Set(h, strconv.Itoa(s.q.maxMsgs))
			}
		}
	}
	s.frame = f
	s.c = make(chan *Message, c.opts.subBuffer)
	s.C = s.c

	ctx, cancel := c.sendContext(ctx, def)
	defer cancel()
	reply := make(chan error, 1)
	p := &parked{ctx: ctx, fail: func(err error) { reply <- err }}
	p.try = func() bool {
		o := &c.own
		if o.sess == nil {
			return false
		}
		if _, dup := o.subs[s.id]; dup {
			reply <- fmt.Errorf("stompft: subscription id %q already in use", s.id)
			return true
		}
		o.subs[s.id] = s
		o.subOrder = append(o.subOrder, s)
		c.publishSubs()
		go c.pump(s)
		// A failed write is fine: the subscription is registered and the
		// next connection re-creates it.
		_ = o.sess.Write(f)
		reply <- nil
		return true
	}
	if err := c.await(ctx, p, reply); err != nil {
		return nil, err
	}
	return s, nil
}

// Unsubscribe ends the subscription and closes C. It may be called while
// draining C.
func (s *Subscription) Unsubscribe() error {
	c := s.conn
	var found bool
	var err error
	c.call(func() {
		o := &c.own
		if _, found = o.subs[s.id]; !found || o.subs[s.id] != s {
			found = false
			return
		}
		delete(o.subs, s.id)
		for i, x := range o.subOrder {
			if x == s {
				o.subOrder = append(o.subOrder[:i:i], o.subOrder[i+1:]...)
				break
			}
		}
		c.publishSubs()
		if o.sess != nil {
			err = o.sess.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, s.id))
		}
		s.end(nil)
		c.queueDrained(s)
	})
	if !found {
		return ErrClosed
	}
	<-s.pumpDone
	return err
}

// end ends the subscription: its pump delivers final (if non-nil and there
// is room) and closes C.
func (s *Subscription) end(final error) {
	s.doneOnce.Do(func() {
		s.final = final
		close(s.done)
	})
}

// ---------------------------------------------------------------- delivery

// deliveryQueue holds a subscription's messages between the session reader
// and the pump, bounded in messages and bytes.
type deliveryQueue struct {
	mu       sync.Mutex
	msgs     []*Message
	head     int
	bytes    int64
	maxMsgs  int
	maxBytes int64
	full     bool          // reached a limit: reading is paused on its account
	wake     chan struct{} // capacity 1
}

func (q *deliveryQueue) lenLocked() int { return len(q.msgs) - q.head }

func (q *deliveryQueue) overLocked() bool {
	return q.lenLocked() >= q.maxMsgs || q.bytes >= q.maxBytes
}

func (q *deliveryQueue) over() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.overLocked()
}

// deliver runs on a session's read goroutine: it never waits on user code.
// A message that fills its subscription's queue pauses the session (TCP
// back-pressure; nothing is dropped) until the pump has drained it.
func (c *Connection) deliver(epoch uint64, sess *session.Session, f *frame.Frame) {
	s := (*c.subsMap.Load())[f.Header.Get(frame.Subscription)]
	if s == nil {
		return // unsubscribed meanwhile
	}
	m := &Message{
		Destination:  f.Header.Get(frame.Destination),
		ContentType:  f.Header.Get(frame.ContentType),
		Header:       f.Header,
		Body:         f.Body,
		Subscription: s,
		epoch:        epoch,
		sess:         sess,
	}
	if s.dedup != nil && c.isDuplicate(s, m) {
		c.ackDuplicate(s, m, sess)
		return
	}
	q := &s.q
	q.mu.Lock()
	q.msgs = append(q.msgs, m)
	q.bytes += int64(len(m.Body))
	if q.overLocked() {
		sess.Pause()
		if !q.full {
			q.full = true
			// Posted under q.mu so that it precedes the pump's drained.
			c.post(func() { c.queueFull(s, epoch) })
		}
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// isDuplicate checks m's id against s's window; off the owner.
func (c *Connection) isDuplicate(s *Subscription, m *Message) bool {
	id := m.MsgID()
	if id == "" {
		return false
	}
	if len(id) > MaxDedupIDLen {
		return false
	}
	if s.dedup.has(id) {
		c.ext.dupsDropped.Add(1)
		return true
	}
	return false
}

// pump moves s's queue to C, one message at a time.
func (c *Connection) pump(s *Subscription) {
	q := &s.q
	defer close(s.pumpDone)
	defer func() {
		if s.final != nil {
			select {
			case s.c <- &Message{Err: s.final, Subscription: s}:
			default:
			}
		}
		close(s.c)
	}()
	for {
		q.mu.Lock()
		if q.lenLocked() == 0 {
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-s.done:
				return
			}
		}
		m := q.msgs[q.head]
		q.msgs[q.head] = nil
		q.head++
		if q.head == len(q.msgs) {
			q.msgs, q.head = q.msgs[:0], 0
		}
		q.bytes -= int64(len(m.Body))
		if q.full && q.lenLocked() <= q.maxMsgs/2 && q.bytes <= q.maxBytes/2 {
			q.full = false
			c.post(func() { c.queueDrained(s) })
		}
		q.mu.Unlock()
		if s.ack != stomp.AckAuto {
			// Acks for a message of a lost session cannot take effect and
			// the broker redelivers it: do not hand over a stale copy.
			if m.sess.Err() != nil {
				continue
			}
		}
		id := ""
		if s.dedup != nil {
			if id = m.MsgID(); len(id) > MaxDedupIDLen {
				c.ext.dedupUnchecked.Add(1)
				id = ""
			} else if id != "" && s.dedup.has(id) {
				// A copy queued behind the original.
				c.ext.dupsDropped.Add(1)
				c.ackDuplicate(s, m, nil)
				continue
			}
		}
		s.ackMu.Lock()
		s.delivered++
		m.seq = s.delivered
		s.ackMu.Unlock()
		// Counted before the hand-over, so that Stats read by the
		// application after it took the message includes it.
		c.ext.received.Add(1)
		select {
		case s.c <- m:
			// Seen only once delivered: a delivery cut short must not turn
			// the broker's redelivery into a "duplicate".
			if id != "" {
				s.dedup.add(id)
			}
		case <-s.done:
			c.ext.received.Add(^uint64(0)) // not delivered after all: minus one
			return
		}
	}
}

// queueFull records that s's queue paused reading; owner only.
func (c *Connection) queueFull(s *Subscription, epoch uint64) {
	o := &c.own
	if _, ok := o.subs[s.id]; !ok || o.paused[s] {
		return
	}
	o.paused[s] = true
	o.stats.slowConsumers++
	c.log.WithField("subscription", s.id).Warn("slow consumer: delivery queue full, reading paused")
	c.emit(Event{Kind: EventSlowConsumer, URL: o.cur.String(), Subscription: s.id, Count: s.q.maxMsgs})
}

// queueDrained resumes reading once no queue is full; owner only.
func (c *Connection) queueDrained(s *Subscription) {
	o := &c.own
	if !o.paused[s] {
		return
	}
	delete(o.paused, s)
	if len(o.paused) == 0 && o.sess != nil {
		o.sess.Resume()
	}
}

// ---------------------------------------------------------------- acks

// ackDuplicate acknowledges a dropped duplicate so the broker does not hold
// it for ever, without acking anything the application has not.
func (c *Connection) ackDuplicate(s *Subscription, m *Message, sess *session.Session) {
	switch s.ack {
	case stomp.AckClientIndividual:
		_ = c.sendAck(m, true, "", sess)
	case stomp.AckClient:
		s.ackMu.Lock()
		now := s.acked == s.delivered
		if !now {
			s.deferred = m
		}
		s.ackMu.Unlock()
		if now {
			_ = c.sendAck(m, true, "", sess)
		}
	}
}

// Ack acknowledges a message. A message that arrived on a connection since
// lost cannot be acknowledged: the error wraps ErrStaleAck and the broker
// will redeliver the message.
func (c *Connection) Ack(m *Message) error { return c.ackNack(m, true, "") }

// Nack rejects a message; stale messages give ErrStaleAck like Ack.
func (c *Connection) Nack(m *Message) error { return c.ackNack(m, false, "") }

func (c *Connection) ackNack(m *Message, ack bool, tx string) error {
	if m == nil || m.Subscription == nil || m.Subscription.conn != c {
		return errors.New("stompft: message was not received on this connection")
	}
	s := m.Subscription
	if s.ack == stomp.AckAuto {
		return nil
	}
	if err := c.sendAck(m, ack, tx, nil); err != nil {
		return err
	}
	if s.ack == stomp.AckClient && ack && tx == "" {
		s.ackMu.Lock()
		s.acked = max(s.acked, m.seq)
		var dup *Message
		if s.acked == s.delivered && s.deferred != nil && s.deferred.epoch == m.epoch {
			dup, s.deferred = s.deferred, nil
		}
		s.ackMu.Unlock()
		if dup != nil {
			_ = c.sendAck(dup, true, "", nil)
		}
	}
	return nil
}

// sendAck writes an ACK or NACK for m on the session m arrived on (sess,
// when given, is that session): after that session ended it cannot take
// effect.
func (c *Connection) sendAck(m *Message, ack bool, tx string, sess *session.Session) error {
	if sess == nil {
		sess = m.sess
	}
	if sess == nil || sess.Err() != nil {
		return ErrStaleAck
	}
	cmd := frame.NACK
	if ack {
		cmd = frame.ACK
	}
	f := frame.New(cmd)
	if sess.Info().Version == "1.2" {
		f.Header.Set(frame.Id, m.Header.Get(frame.Ack))
	} else {
		f.Header.Set(frame.Subscription, m.Subscription.id)
	}
	// STOMP 1.2 brokers read id and ignore extra headers; go-stomp's embedded
	// server reads message-id even in 1.2, so send it always.
	f.Header.Set(frame.MessageId, m.Header.Get(frame.MessageId))
	if tx != "" {
		f.Header.Set(frame.Transaction, tx)
	}
	if err := sess.Write(f); err != nil {
		return fmt.Errorf("%w: %w", ErrStaleAck, err)
	}
	if ack {
		c.ext.acked.Add(1)
	} else {
		c.ext.nacked.Add(1)
	}
	return nil
}

// ---------------------------------------------------------------- dedup

// dedupWindow remembers the last ids in a ring, bounded in count and bytes.
type dedupWindow struct {
	mu       sync.Mutex
	set      map[string]struct{}
	ring     []string
	head, n  int // oldest slot, ids held
	bytes    int64
	maxBytes int64
}

func newDedupWindow(n int, maxBytes int64) *dedupWindow {
	if n <= 0 {
		n = DefaultDedupWindow
	}
	return &dedupWindow{set: make(map[string]struct{}), ring: make([]string, n), maxBytes: maxBytes}
}

// has reports whether id was delivered within the window.
func (d *dedupWindow) has(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.set[id]
	return ok
}

// add records a delivered id, forgetting the oldest ones while the window
// is over its count or byte bound. Ids over MaxDedupIDLen are not recorded.
func (d *dedupWindow) add(id string) {
	if len(id) > MaxDedupIDLen {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.set[id]; ok {
		return
	}
	cost := int64(len(id) + dedupEntryOverhead)
	for d.n > 0 && (d.n == len(d.ring) || d.bytes+cost > d.maxBytes) {
		old := d.ring[d.head]
		d.ring[d.head] = ""
		delete(d.set, old)
		d.bytes -= int64(len(old) + dedupEntryOverhead)
		d.head = (d.head + 1) % len(d.ring)
		d.n--
	}
	d.ring[(d.head+d.n)%len(d.ring)] = id
	d.n++
	d.bytes += cost
	d.set[id] = struct{}{}
}

// size returns the ids held and their accounted bytes.
func (d *dedupWindow) size() (int, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n, d.bytes
}
