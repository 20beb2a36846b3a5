package factory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-stomp/stomp/v3/frame"
)

// Transaction is a STOMP transaction bound to one underlying connection.
// If the connection fails over while it is open, the broker rolls it back:
// Commit then returns ErrTransactionRolledBack, Send and Ack too, and Abort
// succeeds locally. The application re-runs the transaction (EMS semantics).
type Transaction struct {
	c     *Connection
	id    string
	epoch uint64

	mu         sync.Mutex
	done       bool
	rolledBack bool // a failover rolled it back: Abort succeeds locally
}

// ID returns the transaction id.
func (tx *Transaction) ID() string { return tx.id }

// Begin starts a transaction, waiting for a reconnect within the send
// timeout (send_timeout = 0: bounded by nothing but Close; use BeginContext).
func (c *Connection) Begin() (*Transaction, error) {
	return c.BeginContext(context.Background())
}

// BeginContext is Begin bounded by ctx as well.
func (c *Connection) BeginContext(ctx context.Context) (*Transaction, error) {
	ctx, cancel := c.sendContext(ctx, c.def())
	defer cancel()
	tx := &Transaction{c: c, id: c.newID("tx-")}
	reply := make(chan error, 1)
	p := &parked{ctx: ctx, fail: func(err error) { reply <- err }}
	p.try = func() bool {
		o := &c.own
		if o.sess == nil {
			return false
		}
		if err := o.sess.Write(frame.New(frame.BEGIN, frame.Transaction, tx.id)); err != nil {
			return false // nothing began; try on the next connection
		}
		tx.epoch = o.epoch
		reply <- nil
		return true
	}
	if err := c.await(ctx, p, reply); err != nil {
		return nil, err
	}
	return tx, nil
}

// live returns the session if the transaction's connection is still the
// current one.
func (tx *Transaction) live() (*liveSession, error) {
	tx.mu.Lock()
	done, rolledBack := tx.done, tx.rolledBack
	tx.mu.Unlock()
	if rolledBack {
		return nil, ErrTransactionRolledBack
	}
	if done {
		return nil, fmt.Errorf("stompft: transaction %s already finished", tx.id)
	}
	l := tx.c.live.Load()
	if l == nil || l.epoch != tx.epoch {
		return nil, ErrTransactionRolledBack
	}
	return l, nil
}

// Send sends a message in the transaction (never tracked: the transaction
// itself is the unit of replay).
func (tx *Transaction) Send(destination, contentType string, body []byte, opts ...func(*frame.Frame) error) error {
	f, err := sendFrame(destination, contentType, body, opts)
	if err != nil {
		return err
	}
	f.Header.Del(frame.Receipt)
	f.Header.Set(frame.Transaction, tx.id)
	l, err := tx.live()
	if err != nil {
		return err
	}
	if err := l.sess.Write(f); err != nil {
		return fmt.Errorf("%w: %w", ErrTransactionRolledBack, err)
	}
	tx.c.countSent(f, l.ep)
	return nil
}

// Ack acknowledges m within the transaction.
func (tx *Transaction) Ack(m *Message) error { return tx.ackNack(m, true) }

// Nack rejects m within the transaction.
func (tx *Transaction) Nack(m *Message) error { return tx.ackNack(m, false) }

func (tx *Transaction) ackNack(m *Message, ack bool) error {
	if _, err := tx.live(); err != nil {
		return err
	}
	return tx.c.ackNack(m, ack, tx.id)
}

// Commit commits and waits for the broker's receipt (bounded by the send
// timeout). ErrTransactionRolledBack: the connection failed over before the
// commit was sent. ErrInDoubt: it was lost after COMMIT left, before the
// receipt; the transaction may or may not have committed.
func (tx *Transaction) Commit() error { return tx.CommitContext(context.Background()) }

// CommitContext is Commit bounded by ctx as well.
func (tx *Transaction) CommitContext(ctx context.Context) error {
	return tx.finish(ctx, frame.COMMIT)
}

// Abort rolls the transaction back. After a failover it succeeds locally
// (returns nil): the broker already rolled it back. That holds after a
// Commit that returned ErrTransactionRolledBack, too.
func (tx *Transaction) Abort() error {
	err := tx.finish(context.Background(), frame.ABORT)
	if errors.Is(err, ErrTransactionRolledBack) {
		return nil
	}
	return err
}

func (tx *Transaction) finish(ctx context.Context, cmd string) error {
	_, err := tx.live()
	tx.mu.Lock()
	tx.done = true
	if errors.Is(err, ErrTransactionRolledBack) {
		tx.rolledBack = true
	}
	tx.mu.Unlock()
	if err != nil {
		return err
	}
	c := tx.c
	ctx, cancel := c.sendContext(ctx, c.def())
	defer cancel()
	err = c.sendWithReceipt(ctx, frame.New(cmd, frame.Transaction, tx.id), tx.epoch)
	if errors.Is(err, ErrTransactionRolledBack) {
		tx.mu.Lock()
		tx.rolledBack = true
		tx.mu.Unlock()
	}
	return err
}
