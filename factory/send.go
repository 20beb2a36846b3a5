package factory

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/session"
	"github.com/stompft/stompft/sequential"
)

// errSendTimeout is the cause recorded when send_timeout ends a call.
var errSendTimeout = fmt.Errorf("%w: send_timeout elapsed", ErrTimeout)

// Send sends a message, like go-stomp's Conn.Send, with its send options
// (stomp.SendOpt.Receipt, stomp.SendOpt.Header, ...). It is SendContext with
// context.Background(); the factory's send_timeout bounds it (with
// send_timeout = 0 only the caller's context does).
func (c *Connection) Send(destination, contentType string, body []byte, opts ...func(*frame.Frame) error) error {
	return c.SendContext(context.Background(), destination, contentType, body, opts...)
}

// SendContext sends a message. During an outage it waits for the reconnect,
// bounded by ctx and the factory's send_timeout (0 = bounded by ctx alone),
// and returns an error if none comes: never a silent drop. The error
// matches ErrTimeout when a deadline (send_timeout or ctx's) ended the
// wait, and errors.Is(err, ctx.Err()) holds when ctx ended.
//
// Without track_messages: a plain send returns once the frame is written; a
// send with stomp.SendOpt.Receipt returns once the broker's receipt arrives,
// or ErrInDoubt if the connection was lost in between, or no receipt came
// before the deadline (the error says which). A frame whose write failed
// did not reach the broker whole and is retried on the next connection.
//
// With track_messages: every send carries a receipt and a stompft-msg-id
// header and is kept (within max_cache_size bytes) until its receipt
// arrives; sends do not wait for receipts (they are pipelined). After a
// reconnect the unconfirmed ones are re-sent, in order, before any new send.
// With stomp.SendOpt.Receipt the call also waits for the receipt, across
// reconnects. Flush waits for every tracked send to be confirmed.
func (c *Connection) SendContext(ctx context.Context, destination, contentType string, body []byte, opts ...func(*frame.Frame) error) error {
	f, err := sendFrame(destination, contentType, body, opts)
	if err != nil {
		return err
	}
	_, wantReceipt := f.Header.Contains(frame.Receipt)
	f.Header.Del(frame.Receipt)
	def := c.def()
	if !def.TrackMessages && !wantReceipt {
		// The hot path: write on the live session, no hop to the owner.
		if l := c.live.Load(); l != nil && l.sess.Err() == nil {
			if err := l.sess.Write(f); err == nil {
				c.countSent(f, l.ep)
				return nil
			}
		}
	}
	ctx, cancel := c.sendContext(ctx, def)
	defer cancel()
	if def.TrackMessages {
		return c.sendTracked(ctx, f, wantReceipt)
	}
	if wantReceipt {
		return c.sendWithReceipt(ctx, f, 0)
	}
	return c.sendPlain(ctx, f)
}

func sendFrame(destination, contentType string, body []byte, opts []func(*frame.Frame) error) (*frame.Frame, error) {
	f := frame.New(frame.SEND, frame.ContentLength, strconv.Itoa(len(body)))
	f.Body = body
	f.Header.Set(frame.Destination, destination)
	if contentType != "" {
		f.Header.Set(frame.ContentType, contentType)
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(f); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// sendContext applies the factory's send_timeout to ctx; 0 leaves ctx alone.
func (c *Connection) sendContext(ctx context.Context, def *confparse.Factory) (context.Context, context.CancelFunc) {
	if t := def.SendTimeout; t > 0 {
		return context.WithTimeoutCause(ctx, t, errSendTimeout)
	}
	return context.WithCancel(ctx)
}

// waitErr is the error of a call whose context ended while it waited for
// what: it wraps ErrTimeout and ctx.Err() (context.Canceled or
// DeadlineExceeded), and the cause when send_timeout ended it.
func waitErr(ctx context.Context, what string) error {
	err := ctx.Err()
	cause := context.Cause(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		if cause != nil && cause != err && errors.Is(cause, ErrTimeout) {
			return fmt.Errorf("%w %s: %w", cause, what, err)
		}
		return fmt.Errorf("%w %s: %w", ErrTimeout, what, err)
	}
	return fmt.Errorf("%w: gave up %s: %w", ErrTimeout, what, err)
}

// await submits a parked request and waits for its reply or ctx's end.
func (c *Connection) await(ctx context.Context, p *parked, reply <-chan error) error {
	if !c.post(func() { c.submit(p) }) {
		<-c.closed
		return c.finalOrClosed()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		why, removed := c.abandon(p)
		if !removed {
			select {
			case err := <-reply:
				return err
			case <-c.closed:
				select {
				case err := <-reply:
					return err
				default:
					return c.finalOrClosed()
				}
			}
		}
		return waitErr(ctx, why)
	}
}

// finalOrClosed is the error of a call made after the owner stopped.
func (c *Connection) finalOrClosed() error {
	if err := c.closedWith; err != nil {
		return err
	}
	return ErrClosed
}

// sendPlain writes f once a session is up; owner-served.
func (c *Connection) sendPlain(ctx context.Context, f *frame.Frame) error {
	reply := make(chan error, 1)
	p := &parked{ctx: ctx, fail: func(err error) { reply <- err }}
	p.try = func() bool {
		o := &c.own
		if o.sess == nil {
			return false
		}
		if err := o.sess.Write(f); err != nil {
			return false // never left whole: the next connection sends it
		}
		c.countSent(f, o.cur)
		reply <- nil
		return true
	}
	return c.await(ctx, p, reply)
}

// sendWithReceipt writes f with a receipt and waits for it. With epoch
// non-zero it must go on that session (a transaction's), else it fails
// with ErrTransactionRolledBack.
//
// On a live session with nothing parked the caller writes the frame itself
// after posting its registration to the owner, so the owner sees the
// registration before the receipt (the reader posts that after the frame
// went out): the caller waits once, for the verdict. Otherwise the owner
// writes it once a session is up, and the caller still waits once: the
// parked stage's failure and the receipt's verdict come on one channel.
func (c *Connection) sendWithReceipt(ctx context.Context, f *frame.Frame, epoch uint64) error {
	id := c.newID("r-")
	f.Header.Set(frame.Receipt, id)
	if l := c.live.Load(); l != nil && (epoch == 0 || l.epoch == epoch) && l.sess.Err() == nil && c.parkedN.Load() == 0 {
		done := make(chan error, 1)
		pd := &pending{id: id, done: done, epoch: l.epoch, written: true}
		// Quiet: the receipt (or the session's end) wakes the owner,
		// which runs this first.
		if !c.inbox.postQuiet(func() { c.registerReceipt(pd, l.sess) }) {
			<-c.closed
			return c.finalOrClosed()
		}
		err := l.sess.Write(f)
		if err == nil {
			c.countSent(f, l.ep)
			return c.awaitReceipt(ctx, pd, done)
		}
		// The frame never left whole: take the registration back and
		// send it the owner's way (on the next session, or rolled back
		// for a transaction's).
		if !c.reclaim(pd, done) {
			<-c.closed
			return c.finalOrClosed()
		}
		id = c.newID("r-")
		f.Header.Set(frame.Receipt, id)
	}
	done := make(chan error, 1)
	pd := &pending{id: id, done: done}
	p := &parked{ctx: ctx, fail: func(err error) { done <- err }}
	p.try = func() bool {
		o := &c.own
		if epoch != 0 && (o.sess == nil || o.epoch != epoch) {
			done <- ErrTransactionRolledBack
			return true
		}
		if o.sess == nil {
			return false
		}
		pd.epoch = o.epoch
		o.pending[id] = pd
		if err := o.sess.Write(f); err != nil {
			delete(o.pending, id)
			if epoch != 0 {
				done <- fmt.Errorf("%w: %w", ErrTransactionRolledBack, err)
				return true
			}
			return false // never left whole: retried on the next connection
		}
		pd.written = true
		c.countSent(f, o.cur)
		return true
	}
	if !c.post(func() { c.submit(p) }) {
		<-c.closed
		return c.finalOrClosed()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	if why, removed := c.abandon(p); removed {
		return waitErr(ctx, why)
	}
	// Served meanwhile: the receipt's wait (or its verdict) decides.
	return c.awaitReceipt(ctx, pd, done)
}

// registerReceipt records a receipt send whose caller writes it on sess
// (pd.epoch); owner only. If the owner has handled that session's end
// already, its losses were counted without this send: the send is in doubt
// (unless its write fails, in which case the caller takes it back, see
// reclaim).
func (c *Connection) registerReceipt(pd *pending, sess *session.Session) {
	o := &c.own
	if o.exit {
		c.finish(pd, ErrClosed)
		return
	}
	if _, ok := o.installed[pd.epoch]; ok {
		o.pending[pd.id] = pd
		return
	}
	o.stats.inDoubt++
	c.finish(pd, fmt.Errorf("%w: the connection was lost before its receipt: %w", ErrInDoubt, sess.Err()))
}

// reclaim takes back a receipt send registered by registerReceipt whose
// write failed: it never reached the broker whole, so it is neither
// pending nor in doubt. False once the connection is closed.
func (c *Connection) reclaim(pd *pending, done chan error) bool {
	return c.call(func() {
		o := &c.own
		if q, ok := o.pending[pd.id]; ok && q == pd {
			delete(o.pending, pd.id)
		}
		pd.done = nil
		select {
		case err := <-done:
			if errors.Is(err, ErrInDoubt) {
				o.stats.inDoubt-- // counted when its session ended; it was not
			}
		default:
		}
	})
}

// awaitReceipt waits for p's verdict on done.
func (c *Connection) awaitReceipt(ctx context.Context, p *pending, done chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	var still bool
	var slow string
	c.call(func() {
		o := &c.own
		_, still = o.pending[p.id]
		if still && !p.tracked {
			delete(o.pending, p.id)
			o.stats.inDoubt++
		}
		p.done = nil
		slow = c.pausedBy()
	})
	if !still {
		// The receipt (or the loss) raced the deadline: take its verdict.
		select {
		case err := <-done:
			return err
		default:
			return c.finalOrClosed()
		}
	}
	because := ""
	if slow != "" {
		because = fmt.Sprintf(" (reading was paused: subscription %s's delivery queue is full, a slow consumer)", slow)
	}
	if p.tracked {
		if slow != "" {
			return fmt.Errorf("%w: no receipt yet%s; the send stays tracked and is re-sent if the connection is lost: %w", ErrSlowConsumer, because, waitErr(ctx, "waiting for the receipt"))
		}
		return fmt.Errorf("no receipt yet (the send stays tracked and is re-sent if the connection is lost): %w", waitErr(ctx, "waiting for the receipt"))
	}
	if slow != "" {
		return fmt.Errorf("%w: receipt deadline passed behind a slow consumer%s: %w: %w", ErrInDoubt, because, ErrSlowConsumer, waitErr(ctx, "waiting for the receipt"))
	}
	return fmt.Errorf("%w: receipt deadline passed, no receipt from the broker: %w", ErrInDoubt, waitErr(ctx, "waiting for the receipt"))
}

// pausedBy names a subscription whose full queue paused reading ("" when
// reading is not paused); owner only.
func (c *Connection) pausedBy() string {
	o := &c.own
	for _, s := range o.subOrder {
		if o.paused[s] {
			return fmt.Sprintf("%q (%s)", s.id, s.dest)
		}
	}
	return ""
}

func (c *Connection) countSent(f *frame.Frame, ep sequential.Endpoint) {
	c.ext.sent.Add(1)
	c.ext.bytesSent.Add(int64(len(f.Body)))
	// Feeds `metric = byte_rate` group choice for '|' lists.
	c.opts.tracker.AddBytes(ep, len(f.Body))
}

func frameSize(f *frame.Frame) int64 {
	n := int64(len(f.Body) + len(f.Command) + 2)
	for i := 0; i < f.Header.Len(); i++ {
		k, v := f.Header.GetAt(i)
		n += int64(len(k) + len(v) + 2)
	}
	return n
}

// testHookTrackedFastPath, when set by a test, runs in a tracked send's
// caller once it has chosen the fast path, before it queues the send to the
// owner and writes it.
var testHookTrackedFastPath func()

func (c *Connection) sendTracked(ctx context.Context, f *frame.Frame, wantReceipt bool) error {
	msgID := c.newID("m-")
	f.Header.Set(MsgIDHeader, msgID)
	f.Header.Set(frame.Receipt, "t-"+msgID)
	size := frameSize(f)
	reply := make(chan error, 1)
	pd := &pending{id: "t-" + msgID, tracked: true, f: f, size: size}
	var done chan error
	if wantReceipt {
		done = make(chan error, 1)
		pd.done = done
	}
	max := c.def().MaxCacheSize
	if l := c.live.Load(); l != nil && l.sess.Err() == nil && c.parkedN.Load() == 0 && c.reserve(size, max) {
		if testHookTrackedFastPath != nil {
			testHookTrackedFastPath()
		}
		// The fast path: the caller writes; the owner caches it (in the
		// order of these posts, which precede the frame's receipt).
		pd.epoch = l.epoch
		if !c.inbox.postQuiet(func() { c.cacheTracked(pd) }) {
			c.cacheRes.Add(-size)
			<-c.closed
			return c.finalOrClosed()
		}
		if err := l.sess.Write(f); err == nil {
			c.countSent(f, l.ep)
		} else {
			// The session is gone, and its end may have been handled
			// before the post above: nothing else would wake the owner
			// to cache the send and write it on the next session.
			c.inbox.nudge()
		}
		// A failed write leaves it cached: the next connection replays it.
		if !wantReceipt {
			return nil
		}
		return c.awaitReceipt(ctx, pd, done)
	}
	p := &parked{ctx: ctx, fail: func(err error) { reply <- err }}
	p.try = func() bool {
		o := &c.own
		if o.sess == nil {
			p.why = "waiting for a connection (" + o.state + ")"
			return false
		}
		// Room in the cache? A single frame larger than the cache goes alone.
		if !c.reserve(size, o.def.MaxCacheSize) {
			p.why = fmt.Sprintf("waiting for room in the tracked-send cache (%d bytes held, max_cache_size %d)", o.cache.bytes, o.def.MaxCacheSize)
			return false
		}
		pd.epoch = o.epoch
		o.pending[pd.id] = pd
		o.cache.push(pd)
		// A failed write leaves it cached: the next connection replays it.
		if err := o.sess.Write(f); err == nil {
			c.countSent(f, o.cur)
		}
		reply <- nil
		return true
	}
	if err := c.await(ctx, p, reply); err != nil {
		return err
	}
	if !wantReceipt {
		return nil
	}
	return c.awaitReceipt(ctx, pd, done)
}

// cacheTracked caches a tracked send its caller writes on session
// pd.epoch; owner only. If that session is gone and another is installed,
// the send is written there now (install's replay did not know it).
func (c *Connection) cacheTracked(pd *pending) {
	o := &c.own
	if o.exit {
		c.cacheRes.Add(-pd.size)
		c.finish(pd, ErrClosed)
		return
	}
	o.pending[pd.id] = pd
	o.cache.push(pd)
	if o.sess != nil && o.epoch != pd.epoch {
		pd.epoch = o.epoch
		if err := o.sess.Write(pd.f); err == nil {
			c.countSent(pd.f, o.cur)
		}
	}
}

// Flush waits until every tracked send has been confirmed by a receipt
// (replayed across reconnects as needed), or ctx ends.
func (c *Connection) Flush(ctx context.Context) error {
	ch := make(chan error, 1)
	var n int
	if !c.call(func() {
		o := &c.own
		n = o.cache.n
		switch {
		case o.cache.n == 0:
			ch <- nil
		case o.closing:
			ch <- c.closedErr()
		default:
			o.flushers = append(o.flushers, ch)
		}
	}) {
		return c.finalOrClosed()
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return waitErr(ctx, fmt.Sprintf("flushing (%d tracked sends unconfirmed)", n))
	case <-c.closed:
		select {
		case err := <-ch:
			return err
		default:
			return c.finalOrClosed()
		}
	}
}

// IsInDoubt reports whether err means the outcome of a send or commit is
// unknown (errors.Is(err, ErrInDoubt)).
func IsInDoubt(err error) bool { return errors.Is(err, ErrInDoubt) }
