// Package factorytest starts in-process STOMP brokers for testing an
// application built on stompft, in the style of net/http/httptest: no
// broker to install, a free loopback port per broker, everything stopped
// when the test ends, and the failures an application must survive
// available as method calls.
//
// # Brokers
//
// NewBroker(t) starts a broker on 127.0.0.1 and closes it with
// t.Cleanup; NewPair(t) starts a primary and a backup sharing one store,
// like an ActiveMQ shared-store pair. The broker follows STOMP 1.2 (and
// 1.1): ack modes auto, client (cumulative) and client-individual, NACK,
// transactions (BEGIN, COMMIT, ABORT, with SEND, ACK and NACK inside),
// receipts, heart-beats in both directions, /queue/NAME (each message to
// one consumer, round-robin) and /topic/NAME (to every subscriber).
// Messages a consumer had not acknowledged when its connection ended are
// redelivered, marked redelivered:true. Options: WithHeartBeat,
// WithCredentials. StartBroker and StartPair are the same without a test
// (the caller closes them), for Examples and TestMain.
//
// Broker.Conf and Pair.Conf return factories.conf text naming the broker
// (or both brokers of a pair), with reconnect settings fit for tests;
// Config returns it parsed, ready for factory.New.
//
// # Faults
//
// Each fault method says what the client observes:
//
//	Kill         every connection reset (RST), new dials refused; Restart brings it back
//	Restart      a killed (or running) broker back on the same address, faults cleared
//	Refuse       new dials refused, open connections unaffected
//	Blackhole    new dials accepted and never answered, open connections unaffected
//	Freeze       everything silent, no RST, no FIN (SIGSTOP); Thaw resumes it
//	MuteReceipts RECEIPT frames swallowed, the frames themselves still done
//	CutMidFrame  the next frame sent is cut in half, then that connection closes (EOF)
//	Heal         ends Refuse, Blackhole, Freeze, MuteReceipts and a pending cut
//
// Messages survive every fault: a killed broker's store is kept for its
// Restart (and is the backup's store in a Pair). Queued reports what a
// queue holds, to check that nothing was lost.
//
// # Goroutines
//
// A broker's goroutines end when Close returns (Close is idempotent and
// waits, bounded, for them); a test that checks for leaks with goleak
// passes when its connections are closed too.
package factorytest
