package factory

import (
	"context"
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

	mu   sync.Mutex
	done bool
}

// ID returns the transaction id.
func (tx *Transaction) ID() string { return tx.id }

// Begin starts a transaction, waiting for a reconnect within the send timeout.
func (c *Connection) Begin() (*Transaction, error) {
	return c.BeginContext(context.Background())
}

// BeginContext is Begin bounded by ctx as well.
func (c *Connection) BeginContext(ctx context.Context) (*Transaction, error) {
	ctx, cancel := c.sendContext(ctx)
	defer cancel()
	for {
		sess, epoch, err := c.waitReady(ctx)
		if err != nil {
			return nil, err
		}
		tx := &Transaction{c: c, id: c.newID("tx-"), epoch: epoch}
		if err := sess.Write(frame.New(frame.BEGIN, frame.Transaction, tx.id)); err != nil {
			continue // nothing began; try on the next connection
		}
		return tx, nil
	}
}

// live returns the session if the transaction's connection is still the current one.
func (tx *Transaction) live() (sessionWriter, error) {
	tx.mu.Lock()
	done := tx.done
	tx.mu.Unlock()
	if done {
		return nil, fmt.Errorf("stompft: transaction %s already finished", tx.id)
	}
	c := tx.c
	c.mu.Lock()
	sess, epoch := c.sess, c.epoch
	c.mu.Unlock()
	if sess == nil || epoch != tx.epoch {
		return nil, ErrTransactionRolledBack
	}
	return sess, nil
}

type sessionWriter interface{ Write(*frame.Frame) error }

// Send sends a message in the transaction (never tracked: the transaction
// itself is the unit of replay).
func (tx *Transaction) Send(destination, contentType string, body []byte, opts ...func(*frame.Frame) error) error {
	f, err := sendFrame(destination, contentType, body, opts)
	if err != nil {
		return err
	}
	f.Header.Del(frame.Receipt)
	f.Header.Set(frame.Transaction, tx.id)
	sess, err := tx.live()
	if err != nil {
		return err
	}
	if err := sess.Write(f); err != nil {
		return fmt.Errorf("%w: %v", ErrTransactionRolledBack, err)
	}
	tx.c.countSent(f)
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

// Abort rolls the transaction back. After a failover it succeeds locally:
// the broker already rolled it back.
func (tx *Transaction) Abort() error {
	err := tx.finish(context.Background(), frame.ABORT)
	if err == ErrTransactionRolledBack {
		return nil
	}
	return err
}

func (tx *Transaction) finish(ctx context.Context, cmd string) error {
	sess, err := tx.live()
	tx.mu.Lock()
	tx.done = true
	tx.mu.Unlock()
	if err != nil {
		return err
	}
	c := tx.c
	ctx, cancel := c.sendContext(ctx)
	defer cancel()
	id := c.newID("r-")
	done := make(chan error, 1)
	p := &pending{id: id, epoch: tx.epoch, done: done, written: true}
	c.mu.Lock()
	c.pending[id] = p
	c.mu.Unlock()
	if err := sess.Write(frame.New(cmd, frame.Transaction, tx.id, frame.Receipt, id)); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("%w: %v", ErrTransactionRolledBack, err)
	}
	return c.awaitReceipt(ctx, p, done)
}
