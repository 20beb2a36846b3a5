// Package factory creates STOMP connections that survive broker failures,
// from the connection factories of an EMS-style factories.conf.
//
//	f, err := factory.Load("conf/factories.conf")
//	conn, err := f.CreateConnection("FTQueueConnectionFactory")
//	defer conn.Close()
//	err = conn.Send("/queue/orders", "text/plain", []byte("hello"))
//	sub, err := conn.Subscribe("/queue/orders", stomp.AckClientIndividual)
//	msg := <-sub.C // the same channel before and after a failover
//	err = conn.Ack(msg)
//
// # Connecting
//
// CreateConnection walks the factory's URL list in order (EMS semantics:
// one attempt is one pass over every URL, wrapping to the start) with the
// factory's connect_attempt_count/delay/timeout. One attempt to one URL
// covers the TCP dial, the TLS handshake for ssl:// and CONNECT→CONNECTED,
// all within the attempt timeout (DefaultAttemptTimeout when the file says
// 0), so a broker that accepts TCP and never answers cannot hang the caller.
// An ERROR frame answering CONNECT (bad credentials) and a rejected TLS
// certificate are permanent: the walk stops at once and the *ConnectError
// names every URL tried with its failure. Passcodes never appear in errors
// or logs.
//
// # Detecting a loss
//
// A read or write error, an ERROR frame mid-session, or silence from the
// broker for longer than the negotiated heart-beat × heartbeat_grace ends the
// session. A frozen broker (SIGSTOP, no RST) is therefore detected within
// that bound.
//
// # Reconnecting
//
// Exactly one goroutine per connection reconnects, with the factory's
// reconnect_* parameters, backoff, jitter and budget, starting with the URL
// after the lost one, through the factory's reconnect scheduler (which
// spreads a reconnect storm; see package attempts). The old socket is
// closed before a new dial. On success, subscriptions are re-created with the
// same destination, ack mode, headers and id before any waiting send is
// released, and each Subscription.C keeps delivering. When attempts or budget
// run out the connection closes: every blocked call returns the final
// *ConnectError, subscriptions receive it as a last Message.Err, and an
// EventFailed is delivered.
//
// # Delivery guarantees
//
// Sends during an outage wait for the reconnect, bounded by send_timeout or
// the caller's context; they never block for ever and are never dropped
// silently:
//
//   - A plain send returns once written. If the write fails the frame did
//     not reach the broker whole, so it is retried on the next connection.
//   - A send with stomp.SendOpt.Receipt returns when the receipt arrives. If
//     the connection is lost in between, it returns an error matching
//     ErrInDoubt: the broker may or may not have it.
//   - With track_messages every send carries a receipt and a stompft-msg-id
//     header and is kept, within max_cache_size bytes, until confirmed.
//     Sends are pipelined (no wait per receipt); when the cache is full Send
//     waits for room. After a reconnect the unconfirmed sends are re-sent in
//     their original order before any new send. This is at-least-once: a
//     send whose receipt was lost is delivered twice with the same
//     stompft-msg-id, and a subscription made with DropDuplicates drops the
//     second copy. Flush waits until everything is confirmed; Close reports
//     ErrUnconfirmed for what never was.
//   - Acking or nacking a message that arrived on a connection since lost
//     returns ErrStaleAck: the broker will redeliver it.
//   - A transaction open when the connection is lost cannot commit: Commit
//     returns ErrTransactionRolledBack (EMS, ActiveMQ and Artemis agree), and
//     Abort succeeds locally. Re-run the transaction. A commit whose receipt
//     was lost returns ErrInDoubt.
//
// # Priority backup and hot standby
//
// With priority_backup, while connected to any URL but the first, the
// connection probes the first one (through the scheduler) and moves back as
// soon as it answers: the old session is disconnected gracefully, so what
// was confirmed stays confirmed and the rest is replayed; subscriptions move
// too. With backup, a second session to the next URL is kept connected, so a
// failover swaps to it without dialling. The new spare for the broker just
// lost waits reconnect_attempt_delay (at least 100 ms) from the loss.
//
// # Hot reload
//
// Load watches the file (fsnotify; editors that write a temporary file and
// rename it over the original included). New connections and the next
// reconnect of existing ones use the new definition.
//
// An edit is applied only once the file has settled: ReloadSettle (150 ms)
// after the last change event the file is read, ReloadSettle later it is
// read again, and only if both reads agree (size, modification time,
// SHA-256) with no change event in between is it considered. A save written
// in several pieces, or truncated and then rewritten, is never read half
// way unless a pause inside it exceeds twice ReloadSettle. The content must
// then pass Reload's checks: it is a regular file of at most
// MaxConfigFileSize bytes, it parses, it defines at least one factory
// (ErrConfigEmpty otherwise), and it still defines every factory that has
// open connections (ErrFactoryInUse otherwise). A rejected edit changes
// nothing: the last good configuration stays in force, the rejection is
// logged (parse errors one per line with file:line) and every connection
// gets an EventConfigReloaded whose Err says why. An accepted edit replaces
// the whole configuration at once: a concurrent CreateConnection sees the
// old one or the new one, never a part.
//
// # Events and logging
//
// WithEventHandler and WithExceptionListener callbacks run in order on one
// goroutine per connection, never under a lock: a slow handler delays later
// handlers, never the connection. Close waits until queued callbacks have
// run. Logging goes through logrus (WithLogger) with the fields factory, url,
// attempt and delay, and is silent by default.
//
// # Closing
//
// Close stops a reconnect in progress at once, waits (bounded) for tracked
// sends, disconnects with a receipt (bounded by WithDisconnectTimeout) and
// returns when no goroutine of the connection is left.
package factory
