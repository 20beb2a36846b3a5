package leakcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// Options are the goroutines goleak must ignore.
func Options() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/go-stomp/stomp/v3/server.(*requestProcessor).Serve"),
		goleak.IgnoreAnyFunction("github.com/go-stomp/stomp/v3/server.(*requestProcessor).Listen"),
		goleak.IgnoreAnyFunction("github.com/go-stomp/stomp/v3/server/client.(*Conn).readLoop"),
		goleak.IgnoreAnyFunction("github.com/go-stomp/stomp/v3/server/client.(*Conn).processLoop"),
		goleak.IgnoreAnyFunction("github.com/stompft/stompft/internal/embedded.(*trackingListener).serveDeaf.func1"),
		goleak.IgnoreAnyFunction("github.com/stompft/stompft/internal/embedded.(*Broker).Start.func1"),
	}
}

// Main runs a package's tests and fails if goroutines are left at the end.
func Main(m *testing.M) { goleak.VerifyTestMain(m, Options()...) }

// Check registers a cleanup that fails t if a goroutine started during the
// test is still running once the test and its later-registered cleanups are
// done. Call it first in the test.
func Check(t *testing.T) {
	t.Helper()
	opts := append(Options(), goleak.IgnoreCurrent())
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}
