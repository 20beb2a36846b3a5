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
// that fails with factory.ErrStaleAck after a failover cannot take effect:
// the broker redelivers the message. DropDuplicates drops that copy only
// when the message carries a stompft-msg-id header, that is when its
// producer is a stompft connection with track_messages = true. Messages
// from other producers have no such id and are delivered again: a consumer
// of other producers must make its handling idempotent (for example keyed
// by a business id, or by the broker's message-id where the broker keeps it
// across redelivery, as ActiveMQ does and RabbitMQ does not).
//
// # Shutdown
//
// On SIGINT or SIGTERM (signal.NotifyContext) it stops and disconnects.
//
// # Exit status
//
// 0 on a clean stop, 1 when the connection failed for good, 2 for bad flags.
package main
