package factory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
)

// dedupHeader is a private SUBSCRIBE header set by DropDuplicates and
// stripped before the frame leaves.
const dedupHeader = "x-stompft-dedup-window"

// DefaultDedupWindow is how many recent stompft-msg-id values DropDuplicates
// remembers per subscription when given 0.
const DefaultDedupWindow = 65536

// DropDuplicates is a subscribe option: messages whose stompft-msg-id header
// was already delivered on this subscription are dropped (and acknowledged
// for you in client-individual mode). It remembers the last window ids
// (0 = DefaultDedupWindow; about 50 bytes each), so a duplicate arriving
// after window newer messages is not caught. Together with track_messages on
// the producer this gives effectively-once delivery.
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

// Message is a message delivered to a Subscription. Err is set on the last
// value a subscription delivers when its connection failed for good.
type Message struct {
	Err          error
	Destination  string
	ContentType  string
	Header       *frame.Header
	Body         []byte
	Subscription *Subscription

	epoch uint64 // session it arrived on
	seq   uint64 // delivery number on its subscription
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
// C keeps delivering. C is closed by Unsubscribe or Close, and after a final
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

	mu       sync.RWMutex // held for reading while delivering; for writing to close C
	done     chan struct{}
	doneOnce sync.Once
	closed   bool

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
// options, plus DropDuplicates). During an outage it waits for the reconnect
// within the send timeout.
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
	s := &Subscription{conn: c, id: f.Header.Get(frame.Id), dest: destination, ack: ack, done: make(chan struct{})}
	if w, ok := f.Header.Contains(dedupHeader); ok {
		n, _ := strconv.Atoi(w)
		s.dedup = newDedupWindow(n)
		f.Header.Del(dedupHeader)
	}
	s.frame = f
	s.c = make(chan *Message, c.opts.SubscriptionBuffer)
	s.C = s.c

	ctx, cancel := c.sendContext(ctx)
	defer cancel()
	for {
		sess, _, err := c.waitReady(ctx)
		if err != nil {
			return nil, err
		}
		c.sendMu.Lock()
		c.mu.Lock()
		if c.sess != sess || c.state != StateConnected {
			c.mu.Unlock()
			c.sendMu.Unlock()
			continue
		}
		if _, dup := c.subs[s.id]; dup {
			c.mu.Unlock()
			c.sendMu.Unlock()
			return nil, fmt.Errorf("stompft: subscription id %q already in use", s.id)
		}
		c.subs[s.id] = s
		c.subOrder = append(c.subOrder, s)
		c.mu.Unlock()
		// A failed write is fine: the subscription is registered and the
		// next connection re-creates it.
		_ = sess.Write(f)
		c.sendMu.Unlock()
		return s, nil
	}
}

// Unsubscribe ends the subscription and closes C.
func (s *Subscription) Unsubscribe() error {
	c := s.conn
	c.mu.Lock()
	_, ok := c.subs[s.id]
	if ok {
		delete(c.subs, s.id)
		for i, x := range c.subOrder {
			if x == s {
				c.subOrder = append(c.subOrder[:i:i], c.subOrder[i+1:]...)
				break
			}
		}
	}
	sess, connected := c.sess, c.state == StateConnected
	c.mu.Unlock()
	if !ok {
		return ErrClosed
	}
	var err error
	if connected && sess != nil {
		err = sess.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, s.id))
	}
	s.close(nil)
	return err
}

// close closes C after delivering final (if non-nil and there is room).
func (s *Subscription) close(final error) {
	// done first: a delivery blocked on a full C holds mu for reading and
	// waits on done; taking mu before closing done would deadlock.
	s.doneOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if final != nil {
		select {
		case s.c <- &Message{Err: final, Subscription: s}:
		default:
		}
	}
	close(s.c)
}

// onMessage runs on a session's read goroutine.
func (c *Connection) onMessage(epoch uint64, sessDone <-chan struct{}, f *frame.Frame) {
	c.mu.Lock()
	s := c.subs[f.Header.Get(frame.Subscription)]
	c.mu.Unlock()
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
	}
	id := ""
	if s.dedup != nil {
		if id = m.MsgID(); id != "" && s.dedup.has(id) {
			c.mu.Lock()
			c.stats.dupsDropped++
			c.mu.Unlock()
			c.ackDuplicate(s, m)
			return
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	s.ackMu.Lock()
	s.delivered++
	m.seq = s.delivered
	s.ackMu.Unlock()
	select {
	case s.c <- m:
		// Seen only once delivered: a delivery cut short by a lost
		// connection must not turn the broker's redelivery into a "duplicate".
		if id != "" {
			s.dedup.add(id)
		}
		c.mu.Lock()
		c.stats.received++
		c.mu.Unlock()
	case <-s.done:
	case <-sessDone:
	}
}

// ackDuplicate acknowledges a dropped duplicate so the broker does not hold
// it for ever, without acking anything the application has not.
func (c *Connection) ackDuplicate(s *Subscription, m *Message) {
	switch s.ack {
	case stomp.AckClientIndividual:
		_ = c.sendAck(m, true, "")
	case stomp.AckClient:
		s.ackMu.Lock()
		now := s.acked == s.delivered
		if !now {
			s.deferred = m
		}
		s.ackMu.Unlock()
		if now {
			_ = c.sendAck(m, true, "")
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
	if err := c.sendAck(m, ack, tx); err != nil {
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
			_ = c.sendAck(dup, true, "")
		}
	}
	return nil
}

// sendAck writes an ACK or NACK for m.
func (c *Connection) sendAck(m *Message, ack bool, tx string) error {
	c.mu.Lock()
	sess, epoch, state := c.sess, c.epoch, c.state
	c.mu.Unlock()
	if sess == nil || state == StateClosed || epoch != m.epoch {
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
		return fmt.Errorf("%w: %v", ErrStaleAck, err)
	}
	c.mu.Lock()
	if ack {
		c.stats.acked++
	} else {
		c.stats.nacked++
	}
	c.mu.Unlock()
	return nil
}

// dedupWindow remembers the last n ids in a ring.
type dedupWindow struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newDedupWindow(n int) *dedupWindow {
	if n <= 0 {
		n = DefaultDedupWindow
	}
	return &dedupWindow{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// has reports whether id was delivered within the window.
func (d *dedupWindow) has(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.set[id]
	return ok
}

// add records a delivered id, forgetting the oldest when the window is full.
func (d *dedupWindow) add(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.set[id]; ok {
		return
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.set, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % len(d.ring)
	d.set[id] = struct{}{}
}
