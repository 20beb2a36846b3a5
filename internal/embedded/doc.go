// Package embedded runs an in-process STOMP broker that can be crashed and
// restarted, for the tests, the demo and the benchmarks.
//
// # Engines
//
// Options.Engine picks the implementation: EngineGoStomp (the default) is
// go-stomp's server, whose client acknowledgements are broken (only ack:auto
// works); EngineMini is this package's own small STOMP 1.2/1.1 engine with
// client and client-individual acks, NACK, transactions and receipts. Its
// queues live in a SharedStorage (Options.Storage, or else one private to
// the Broker), so they survive Kill and Start.
//
// # Why a wrapper
//
// go-stomp's server.Serve never returns and closing its listener leaves the
// accepted connections working. A Broker therefore records every accepted
// connection: Kill closes the listener and resets (RST) every connection, which
// is what clients see when a broker process dies. Start brings it back on the
// same port; go-stomp's own queues start empty, like a restarted
// non-persistent broker, while a SharedStorage keeps its messages.
//
// # Faults
//
// Beyond Kill and Start: Freeze and Thaw (silent connections, as under
// SIGSTOP), Refuse and Listen (dials refused, open connections kept),
// SetBlackhole (new connections accepted, never answered), and for
// EngineMini SetMuteReceipts and CutNextFrame. The public package
// factory/factorytest offers them to users; see its documentation for what
// a client observes.
//
// # Goroutines
//
// With EngineGoStomp, each Start leaves go-stomp's request processor goroutine
// running (it has no exit); goroutine-leak checks must ignore it. EngineMini
// leaves no goroutine behind after Kill.
package embedded
