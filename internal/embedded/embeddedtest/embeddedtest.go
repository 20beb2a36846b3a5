package embeddedtest

import (
	"testing"

	"github.com/stompft/stompft/internal/embedded"
)

// Start starts a broker with opts, closed when t ends.
func Start(t testing.TB, opts embedded.Options) *embedded.Broker {
	t.Helper()
	b, err := embedded.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// Pair starts a primary and a backup sharing their queues (a shared-store
// pair, like ActiveMQ master/slave) on the mini engine, which takes client
// acknowledgements; go-stomp's own server cannot.
func Pair(t testing.TB) (primary, backup *embedded.Broker) {
	t.Helper()
	st := embedded.NewSharedStorage()
	primary = Start(t, embedded.Options{Storage: st, Engine: embedded.EngineMini})
	backup = Start(t, embedded.Options{Storage: st, Engine: embedded.EngineMini})
	return primary, backup
}
