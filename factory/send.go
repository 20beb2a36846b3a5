package factory

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-stomp/stomp/v3/frame"
)

// Send sends a message, like go-stomp's Conn.Send, with its send options
// (stomp.SendOpt.Receipt, stomp.SendOpt.Header, ...). It is SendContext with
// context.Background(); the factory's send_timeout bounds it.
func (c *Connection) Send(destination, contentType string, body []byte, opts ...func(*frame.Frame) error) error {
	return c.SendContext(context.Background(), destination, contentType, body, opts...)
}

// SendContext sends a message. During an outage it waits for the reconnect,
// bounded by ctx and the factory's send_timeout, and returns an error
// wrapping ErrTimeout if none comes: never for ever, never a silent drop.
//
// Without track_messages: a plain send returns once the frame is written; a
// send with stomp.SendOpt.Receipt returns once the broker's receipt arrives,
// or ErrInDoubt if the connection was lost in between. A frame whose write
// failed did not reach the broker whole and is retried on the next connection.
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
	ctx, cancel := c.sendContext(ctx)
	defer cancel()
	if c.def().TrackMessages {
		return c.sendTracked(ctx, f, wantReceipt)
	}
	return c.sendPlain(ctx, f, wantReceipt)
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

func (c *Connection) sendPlain(ctx context.Context, f *frame.Frame, wantReceipt bool) error {
	for {
		sess, epoch, err := c.waitReady(ctx)
		if err != nil {
			return err
		}
		var p *pending
		var done chan error
		if wantReceipt {
			id := c.newID("r-")
			f.Header.Set(frame.Receipt, id)
			done = make(chan error, 1)
			p = &pending{id: id, epoch: epoch, done: done}
			c.mu.Lock()
			c.pending[id] = p
			c.mu.Unlock()
		}
		c.sendMu.Lock()
		err = sess.Write(f)
		c.sendMu.Unlock()
		if err != nil {
			if p != nil {
				c.mu.Lock()
				delete(c.pending, p.id)
				c.mu.Unlock()
			}
			continue // never left whole: retry on the next connection
		}
		c.countSent(f)
		if p == nil {
			return nil
		}
		c.mu.Lock()
		p.written = true
		// The session may have ended between the write and now, while p did
		// not count as written yet: its fate is unknown.
		if _, still := c.pending[p.id]; still && sess.Err() != nil {
			delete(c.pending, p.id)
			c.stats.inDoubt++
			c.finish(p, fmt.Errorf("%w: %v", ErrInDoubt, sess.Err()))
		}
		c.mu.Unlock()
		return c.awaitReceipt(ctx, p, done)
	}
}

// awaitReceipt waits for p's verdict on done (p.done may already have been
// used and cleared by then; done is the waiter's own reference).
func (c *Connection) awaitReceipt(ctx context.Context, p *pending, done chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		_, still := c.pending[p.id]
		if still && !p.tracked {
			delete(c.pending, p.id)
			c.stats.inDoubt++
		}
		p.done = nil
		c.mu.Unlock()
		if !still {
			// The receipt raced the deadline: take its verdict.
			select {
			case err := <-done:
				return err
			default:
				return nil
			}
		}
		if p.tracked {
			return fmt.Errorf("%w: no receipt yet (the send stays tracked and will be re-sent if the connection is lost): %v", ErrTimeout, ctx.Err())
		}
		return fmt.Errorf("%w: no receipt within the send timeout: %v", ErrInDoubt, ctx.Err())
	}
}

func (c *Connection) countSent(f *frame.Frame) {
	c.mu.Lock()
	c.stats.sent++
	c.stats.bytesSent += int64(len(f.Body))
	cur := c.cur
	c.mu.Unlock()
	// Feeds `metric = byte_rate` group choice for '|' lists.
	c.opts.Tracker.AddBytes(cur, len(f.Body))
}

func frameSize(f *frame.Frame) int64 {
	n := int64(len(f.Body) + len(f.Command) + 2)
	for i := 0; i < f.Header.Len(); i++ {
		k, v := f.Header.GetAt(i)
		n += int64(len(k) + len(v) + 2)
	}
	return n
}

func (c *Connection) sendTracked(ctx context.Context, f *frame.Frame, wantReceipt bool) error {
	msgID := c.newID("m-")
	f.Header.Set(MsgIDHeader, msgID)
	f.Header.Set(frame.Receipt, "t-"+msgID)
	size := frameSize(f)
	max := c.def().MaxCacheSize
	for {
		if _, _, err := c.waitReady(ctx); err != nil {
			return err
		}
		c.sendMu.Lock()
		c.mu.Lock()
		if c.state != StateConnected || c.sess == nil {
			c.mu.Unlock()
			c.sendMu.Unlock()
			continue
		}
		// Room in the cache? A single frame larger than the cache goes alone.
		if max > 0 && c.cache.n > 0 && c.cache.bytes+size > max {
			room := c.cache.room
			c.mu.Unlock()
			c.sendMu.Unlock()
			select {
			case <-room:
				continue
			case <-ctx.Done():
				return fmt.Errorf("%w: tracked-send cache full (%d bytes, max_cache_size %d): %v", ErrTimeout, c.Stats().CacheBytes, max, ctx.Err())
			}
		}
		p := &pending{id: "t-" + msgID, epoch: c.epoch, tracked: true, f: f, size: size}
		var done chan error
		if wantReceipt {
			done = make(chan error, 1)
			p.done = done
		}
		c.pending[p.id] = p
		c.cache.push(p)
		sess := c.sess
		c.mu.Unlock()
		// A failed write leaves p cached: the next connection replays it.
		if err := sess.Write(f); err == nil {
			c.countSent(f)
		}
		c.sendMu.Unlock()
		if !wantReceipt {
			return nil
		}
		return c.awaitReceipt(ctx, p, done)
	}
}

// Flush waits until every tracked send has been confirmed by a receipt
// (replayed across reconnects as needed), or ctx ends.
func (c *Connection) Flush(ctx context.Context) error {
	for {
		c.mu.Lock()
		n, room, closing, final := c.cache.n, c.cache.room, c.closing, c.finalErr
		c.mu.Unlock()
		if n == 0 {
			return nil
		}
		if closing {
			if final != nil {
				return final
			}
			return ErrClosed
		}
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("%w: %d tracked sends unconfirmed: %v", ErrTimeout, n, ctx.Err())
		}
	}
}

// errors.Is helper for callers: IsInDoubt reports whether err means the
// outcome of a send or commit is unknown.
func IsInDoubt(err error) bool { return errors.Is(err, ErrInDoubt) }
