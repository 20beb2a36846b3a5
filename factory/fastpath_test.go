package factory

import (
	"errors"
	"testing"
	"time"

	"github.com/stompft/stompft/internal/embedded"
)

// liveConnection connects to a broker of its own and returns the session
// the owner published.
func liveConnection(t *testing.T) (*embedded.Broker, *Connection, *liveSession) {
	t.Helper()
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	c := connect(t, load(t, conf(b.URL(), fastReconnect...)))
	l := c.live.Load()
	if l == nil {
		t.Fatal("no live session after connect")
	}
	return b, c, l
}

// A receipt send written by its caller on a session whose end the owner
// handled before the send's registration is in doubt at once: it must not
// wait for a receipt (or a loss) that will never be reported.
func TestReceiptSendRegisteredAfterItsSessionEndedIsInDoubt(t *testing.T) {
	b, c, l := liveConnection(t)
	b.Kill()
	eventually(t, "the session's end handled", func() bool { return c.Stats().Disconnects == 1 })

	done := make(chan error, 1)
	pd := &pending{id: c.newID("r-"), done: done, epoch: l.epoch, written: true}
	if !c.post(func() { c.registerReceipt(pd, l.sess) }) {
		t.Fatal("owner gone")
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrInDoubt) || !errors.Is(err, l.sess.Err()) {
			t.Fatalf("verdict %v, want ErrInDoubt wrapping the session's end (%v)", err, l.sess.Err())
		}
		done <- err // unread, as its caller leaves it when the write fails
	case <-time.After(waitLimit):
		t.Fatal("no verdict: the send waits for a session that already ended")
	}
	if got := c.Stats().InDoubt; got != 1 {
		t.Fatalf("InDoubt %d, want 1", got)
	}
	// Its write failed after all: taken back, it was never in doubt.
	if !c.reclaim(pd, done) {
		t.Fatal("owner gone")
	}
	if got := c.Stats().InDoubt; got != 0 {
		t.Fatalf("InDoubt %d after reclaim, want 0", got)
	}
}

// A registration for the live session waits for its receipt; taking it
// back removes it, so nothing is left pending.
func TestReclaimRemovesAPendingReceiptSend(t *testing.T) {
	_, c, l := liveConnection(t)
	done := make(chan error, 1)
	pd := &pending{id: c.newID("r-"), done: done, epoch: l.epoch, written: true}
	c.post(func() { c.registerReceipt(pd, l.sess) })
	var n int
	c.call(func() { n = len(c.own.pending) })
	if n != 1 {
		t.Fatalf("%d pending after registration, want 1", n)
	}
	c.reclaim(pd, done)
	c.call(func() { n = len(c.own.pending) })
	if n != 0 {
		t.Fatalf("%d pending after reclaim, want 0", n)
	}
	select {
	case err := <-done:
		t.Fatalf("verdict %v for a send taken back", err)
	default:
	}
}
