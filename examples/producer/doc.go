// Command producer sends messages through a stompft connection factory: the
// template to copy into an application that publishes.
//
//	go run ./examples/producer -conf conf/factories.conf -factory FTQueueConnectionFactory -dest /queue/orders -count 100
//
// # Flags
//
// -conf (default conf/factories.conf), -factory (default
// FTQueueConnectionFactory), -dest (default /queue/orders), -count messages
// (default 10; 0 = until interrupted), -rate per second (default 10; 0 = no
// limit), -body (prefix; the message number is appended).
//
// # Failover
//
// It connects with the factory's connect policy. Sends made during a
// failover wait for the reconnect, within the factory's send_timeout; with
// track_messages on they are also replayed after a reconnect if their
// receipt never came. Logs go to stderr through logrus, the factory's own
// reconnect messages included.
//
// # Shutdown
//
// On SIGINT or SIGTERM (signal.NotifyContext) it stops sending, and Close
// waits (bounded) until the broker confirmed the tracked sends in flight,
// then disconnects.
//
// # Exit status
//
// 0 when every send succeeded, 1 otherwise, 2 for bad flags.
package main
