package factory

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/internal/embedded/embeddedtest"
	"github.com/stompft/stompft/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// verifyNoLeaks checks, at the end of a test, that every goroutine the
// test's connections started is gone.
func verifyNoLeaks(t *testing.T) { leakcheck.Check(t) }

const waitLimit = 20 * time.Second

func broker(t *testing.T, opts embedded.Options) *embedded.Broker {
	t.Helper()
	return embeddedtest.Start(t, opts)
}

// pair starts a primary and a backup sharing their queues, on the mini
// engine: go-stomp's server cannot take client acknowledgements (see
// internal/embedded), and these tests need them.
func pair(t *testing.T) (primary, backup *embedded.Broker) {
	t.Helper()
	return embeddedtest.Pair(t)
}

// writeConf writes a native-syntax factories.conf and returns its path.
func writeConf(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "factories.conf")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// conf builds one [Test] factory section; extra holds more key = value
// lines, a later one overriding an earlier one with the same key.
func conf(urls string, extra ...string) string {
	var order []string
	val := map[string]string{}
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if _, ok := val[k]; !ok {
			order = append(order, k)
		}
		val[k] = kv
	}
	lines := make([]string, len(order))
	for i, k := range order {
		lines[i] = val[k]
	}
	return "[Test]\n  type = queue\n  url = " + urls + "\n  " + strings.Join(lines, "\n  ") + "\n"
}

// fastReconnect are keys that keep tests quick: short delays, no spread.
var fastReconnect = []string{
	"connect_attempt_count = 1",
	"connect_attempt_delay = 10",
	"connect_attempt_timeout = 2000",
	"reconnect_attempt_count = 50",
	"reconnect_attempt_delay = 20",
	"reconnect_attempt_timeout = 2000",
	"reconnect_backoff_multiplier = 1",
	"reconnect_jitter = none",
	"reconnect_spread = 0",
	"send_timeout = 15000",
}

func load(t *testing.T, body string, opts ...FactoryOption) *Factory {
	t.Helper()
	f, err := Load(writeConf(t, body), append([]FactoryOption{WithWatch(false)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func connect(t *testing.T, f *Factory, opts ...ConnectionOption) *Connection {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, err := f.CreateConnectionContext(ctx, "Test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// recorder collects events and lets a test wait for one.
type recorder struct {
	mu     sync.Mutex
	events []Event
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) handle(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) option() Option { return WithEventHandler(r.handle) }

// wait blocks until an event of kind k beyond the first n events exists.
func (r *recorder) wait(t *testing.T, k EventKind, after int) (Event, int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		r.mu.Lock()
		for i := after; i < len(r.events); i++ {
			if r.events[i].Kind == k {
				e := r.events[i]
				r.mu.Unlock()
				return e, i + 1
			}
		}
		r.mu.Unlock()
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("no %v event within %v; saw %v", k, waitLimit, r.kinds())
		}
	}
}

func (r *recorder) kinds() []EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]EventKind, len(r.events))
	for i, e := range r.events {
		out[i] = e.Kind
	}
	return out
}

// receive takes one message from sub within the wait limit.
func receive(t *testing.T, sub *Subscription) *Message {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok {
			t.Fatal("subscription closed")
		}
		if m.Err != nil {
			t.Fatalf("subscription error: %v", m.Err)
		}
		return m
	case <-time.After(waitLimit):
		t.Fatal("no message within the wait limit")
	}
	return nil
}

// eventually polls cond (on a condition, not a guess of time) until true.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func urls(bs ...interface{ URL() string }) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = b.URL()
	}
	return strings.Join(s, ",")
}

var _ = fmt.Sprintf
