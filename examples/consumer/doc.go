// Command consumer receives messages through a stompft connection factory:
// the template to copy into an application that consumes.
//
//	go run ./examples/consumer -conf conf/factories.conf -factory FTQueueConnectionFactory -dest /queue/orders
//
// # Flags
//
// -conf (default conf/factories.conf), -factory (default
// FTQueueConnectionFactory), -dest (default /queue/orders), -count (stop
// after this many messages; default 0 = until interrupted).
//
// # Failover
//
// It subscribes with client-individual acknowledgements and
// factory.DropDuplicates, so with a producer using track_messages each
// message is handled once even across a failover, and acks each message
// after handling it (here: logging it through logrus). The subscription
// survives failover by itself: the same channel keeps delivering. An ack
// that fails with factory.ErrStaleAck after a failover is harmless: the
// broker redelivers the message and DropDuplicates drops the copy.
//
// # Shutdown
//
// On SIGINT or SIGTERM (signal.NotifyContext) it stops and disconnects.
//
// # Exit status
//
// 0 on a clean stop, 1 when the connection failed for good, 2 for bad flags.
package main
