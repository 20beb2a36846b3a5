// Package leakcheck is the project's goroutine-leak check for tests: goleak
// with the one exception every test needs. go-stomp's embedded server
// (internal/embedded's default engine) has no way to stop: its request
// processor and, for a while after a kill, its per-connection loops outlive
// the broker (its Serve has no exit: see internal/embedded's package
// documentation). Everything else a test starts must be gone
// when it ends.
package leakcheck
