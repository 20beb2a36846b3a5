package factory

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stompft/stompft/internal/session"
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrClosed is returned by calls on a connection after Close.
	ErrClosed = errors.New("stompft: connection closed")
	// ErrInDoubt: the frame was written but its receipt never came; the
	// broker may or may not have it. The error wrapping it says what
	// happened: the connection was lost, the receipt deadline passed, or
	// reading was paused behind a slow consumer (then ErrSlowConsumer
	// matches too).
	ErrInDoubt = errors.New("stompft: outcome in doubt (written, no receipt)")
	// ErrSlowConsumer: reading from the broker was paused because a
	// subscription's delivery queue was full (see EventSlowConsumer); a
	// receipt waited behind that pause.
	ErrSlowConsumer = errors.New("stompft: reading paused by a slow consumer")
	// ErrTransactionRolledBack: the connection failed over while the
	// transaction was open; the broker rolled it back. Re-run it.
	ErrTransactionRolledBack = errors.New("stompft: transaction rolled back by a failover")
	// ErrStaleAck: the message arrived on a connection since lost; the broker
	// will redeliver it, so this ack or nack cannot take effect.
	ErrStaleAck = errors.New("stompft: message arrived on a connection since lost (the broker will redeliver it)")
	// ErrTimeout: no connection (or no cache room, or no receipt) within the
	// send timeout or the caller's context deadline. When a caller's context
	// was cancelled, the error wraps context.Canceled instead.
	ErrTimeout = errors.New("stompft: timed out")
	// ErrUnconfirmed: Close found tracked sends whose receipts never came.
	ErrUnconfirmed = errors.New("stompft: tracked sends left unconfirmed")
	// ErrUnknownFactory: no [name] section in the factories file.
	ErrUnknownFactory = errors.New("stompft: unknown factory")
	// ErrHeartbeatTimeout: the broker was silent longer than the negotiated
	// heart-beat interval × heartbeat_grace (a frozen or blackholed broker).
	ErrHeartbeatTimeout = session.ErrHeartbeatTimeout
)

// URLError is why one attempt to one URL failed.
type URLError struct {
	URL string
	Err error
}

func (e *URLError) Error() string { return e.URL + ": " + e.Err.Error() }
func (e *URLError) Unwrap() error { return e.Err }

// ConnectError is a failed connect or reconnect walk: every URL tried, each
// with its last failure. It wraps them all, so errors.Is/As see the causes.
type ConnectError struct {
	Factory   string
	Phase     string // "connect" or "reconnect"
	Count     int    // the attempt count the walk ran under (attempts.Forever = -1 for unlimited)
	Passes    int    // attempts (passes over the URL list) made
	Permanent bool   // stopped early: a broker refused CONNECT, or TLS rejected its certificate
	Budget    bool   // stopped because the reconnect budget ran out
	Errors    []*URLError
}

func (e *ConnectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stompft: %s %s failed", e.Factory, e.Phase)
	switch {
	case e.Permanent:
		b.WriteString(" (permanent error, not retried)")
	case e.Budget:
		fmt.Fprintf(&b, " after %d attempts (reconnect budget exhausted; raise reconnect_budget, or set it to 0 for none)", e.Passes)
	case e.Phase == "reconnect" && e.Count > 0 && e.Passes >= e.Count:
		// Name the key that brings the connection back next time.
		fmt.Fprintf(&b, " after %d attempts (reconnect_attempt_count = %d; set reconnect_attempt_count = -1 to reconnect until a broker is back)", e.Passes, e.Count)
	default:
		fmt.Fprintf(&b, " after %d attempts", e.Passes)
	}
	// The last failure per URL, in the order first tried.
	seen := map[string]int{}
	var last []*URLError
	for _, u := range e.Errors {
		if i, ok := seen[u.URL]; ok {
			last[i] = u
			continue
		}
		seen[u.URL] = len(last)
		last = append(last, u)
	}
	for i, u := range last {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(u.Error())
	}
	if len(last) == 0 {
		b.WriteString(": no URL was tried")
	}
	return b.String()
}

// Unwrap returns each URL's failure.
func (e *ConnectError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, u := range e.Errors {
		out[i] = u
	}
	return out
}

func (e *ConnectError) add(url string, err error) {
	e.Errors = append(e.Errors, &URLError{URL: url, Err: err})
}
