// Command failover-demo shows a STOMP failover end to end, on a fresh
// machine, with no broker to install:
//
//	go run ./examples/failover-demo
//
// # What it does
//
// It starts a primary and a backup embedded broker on loopback (a
// shared-store pair: both serve the same queues, like ActiveMQ master/slave),
// writes a factories.conf naming them, and connects a producer (tracked
// sends, track_messages = true) and a consumer (client-individual acks,
// factory.DropDuplicates) through the factory. Mid-stream it kills the
// broker the producer is on, restarts it later, and with -kills N does it
// again, alternating between the two brokers (the one not being killed is
// always running first).
//
// # What it prints
//
// A progress line (sent / received / in flight) that redraws in place on a
// terminal and is printed once a second otherwise; the event timeline as it
// happens, from the factory's events (lost primary, reconnect attempt n
// after d ms, reconnected to backup after X ms, resubscribed, replayed);
// then a summary:
//
//	sent 3000
//	received 3000
//	duplicates dropped 4
//	lost 0
//	downtime failover 1: producer 2 ms, consumer 2 ms
//
// "lost" counts messages whose send succeeded and that the consumer never
// received. The exit status is 0 when nothing was lost and every send
// succeeded, 1 otherwise, 2 for a usage error.
//
// # Your own brokers
//
// With -conf FILE (and -factory NAME, default FTQueueConnectionFactory) the
// demo runs the same producer and consumer against the brokers that factory
// names. It cannot kill those: stop and start them yourself while it runs
// and the timeline shows what the connections went through. Messages carry
// a per-run id, so messages left in the queue by an earlier run are acked
// and ignored.
package main
