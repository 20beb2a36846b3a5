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
// # How a connection is built
//
// Each Connection has one owner goroutine that alone holds its state: the
// live session, the state machine, subscriptions, pending receipts, the
// tracked-send cache, the hot-standby spare and the counters. Public calls
// and session events (receipts, ERROR frames, a session's end) are queued
// to it and served in order; nothing else changes that state, so there are
// no locks to get wrong. Blocking work (dialling, TLS, CONNECT, reconnect
// delays, the scheduler, hot-standby and priority probes) runs on helper
// goroutines under a context the owner cancels, and reports back to the
// owner, which is the only place a session is installed. The goroutine that
// walked the URL list and dialled a session then reads it, and when that
// session is lost it runs the next walk the owner hands it: a failover
// starts no goroutine. Sends write directly on the session the owner
// published; a send that waits for a receipt first queues its registration
// to the owner (so the owner knows it before the receipt can arrive) and
// then waits once, for the verdict. Closing is one signal: the owner
// finishes, and every waiting call returns.
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
// Exactly one reconnect walk per connection runs at a time, started by the
// owner, with the factory's reconnect_* parameters, backoff, jitter and
// budget, starting with the URL after the lost one, through the reconnect
// scheduler (which spreads a reconnect storm; see package attempts). The
// old socket is
// closed before a new dial. On success, subscriptions are re-created with the
// same destination, ack mode, headers and id before any waiting send is
// released, and each Subscription.C keeps delivering. When attempts or budget
// run out the connection closes: every blocked call returns the final
// *ConnectError, subscriptions receive it as a last Message.Err, and an
// EventFailed is delivered.
//
// A session that the broker ends with an ERROR frame within one second of
// CONNECTED only looked healthy: its reconnect continues the previous
// reconnect episode (its attempt count and budget) instead of starting a
// fresh one, so a broker that accepts every CONNECT and then refuses
// everything ends in EventFailed, not in an endless loop. A tracked send
// that was the oldest unconfirmed one when three sessions in a row ended by
// an ERROR naming no receipt is given up (its Send returns the error, or
// EventSendRejected) instead of being replayed for ever.
//
// # Reconnect scheduler
//
// The connections of one process that reconnect to the same broker set
// (the normalised, sorted URLs of their definition) share one reconnect
// scheduler, whatever Factory or definition they came from: a process-wide
// registry, reference-counted by the connections using it, built with the
// scheduler_* limits of the first definition and rebuilt when a reload
// changes them. A factory given its own clock (WithClock on Load or New)
// gets schedulers of its own; WithScheduler replaces the registry's.
//
// # Subscriptions and slow consumers
//
// The session's reader never waits on application code. Each subscription
// has its own delivery queue, bounded in messages and bytes (QueueLimits;
// the factory's subscription_queue_messages and subscription_queue_bytes;
// else DefaultQueueMessages and DefaultQueueBytes), and a small goroutine
// that moves it to C. Below the limit a consumer that does not read delays
// nothing else: receipts, heart-beats and other subscriptions flow. At the
// limit the connection stops reading from the broker (TCP back-pressure;
// nothing is dropped), raises EventSlowConsumer naming the subscription,
// and resumes once the queue is half empty. Time paused this way is not
// counted as broker silence, so it never causes a failover; a receipt that
// waits behind the pause fails with an error matching ErrSlowConsumer. For
// client and client-individual acks the SUBSCRIBE carries
// activemq.prefetchSize and prefetch-count equal to the queue's message
// limit (unless given), so a broker that honours them never fills it.
//
// # Delivery guarantees
//
// Sends during an outage wait for the reconnect, bounded by send_timeout and
// the caller's context (send_timeout = 0: by the caller's context alone, and
// in any case by the reconnect policy giving up or Close); they are never
// dropped silently. A wait that ends with a deadline matches ErrTimeout and
// context.DeadlineExceeded; one ended by the caller's cancel matches
// context.Canceled:
//
//   - A plain send returns once written. If the write fails the frame did
//     not reach the broker whole, so it is retried on the next connection.
//   - A send with stomp.SendOpt.Receipt returns when the receipt arrives. If
//     the connection is lost in between, or the deadline passes first, it
//     returns an error matching ErrInDoubt that says which: the broker may
//     or may not have it.
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
// rename it over the original included). Each open connection's owner takes
// the new definition; confparse.KeyDocs (the key table in docs/keys.md)
// says, key by key, when an edit takes effect: on new connections
// (connect_*), on the next reconnect (url, randomize, metric, reconnect_*,
// credentials, heartbeat, ssl_*, scheduler_*), at once (send_timeout,
// max_cache_size, backup, priority_backup), on new subscriptions
// (subscription_queue_*), or only after a restart (type, clientID,
// track_messages: reported as ErrRestartRequired in the reload's
// EventConfigReloaded and logged).
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
// # Options
//
// Load and New take FactoryOptions, CreateConnection takes
// ConnectionOptions; an option that means something at only one level has
// only that type (WithWatch and WithObserver configure a Factory), so
// passing it where it would do nothing does not compile. Options of type
// Option apply at both levels: on a Factory they are every connection's
// default, on CreateConnection they override it for one connection.
//
// # Events and logging
//
// WithEventHandler and WithExceptionListener callbacks run in order on one
// goroutine per connection, outside the owner: a slow handler delays later
// handlers, never the connection. A callback may call any method of the
// Connection, its Subscriptions and Transactions, Close included; Close
// called from a callback returns once the connection is closed, without
// waiting for that callback. Called elsewhere, Close also waits until
// queued callbacks have run. Logging goes through logrus (WithLogger) with the fields factory, url,
// attempt and delay, and is silent by default.
//
// # Closing
//
// Close stops a reconnect in progress at once, waits (bounded) for tracked
// sends, disconnects with a receipt (bounded by WithDisconnectTimeout) and
// returns when no goroutine of the connection is left. An idle connection
// runs three goroutines (its owner, its callback dispatcher and the
// session's reader; heart-beats are sent by a timer), and one more per
// subscription (the pump feeding C).
package factory
