package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/internal/embedded/embeddedtest"
	"github.com/stompft/stompft/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// verifyNoLeaks checks, once the test and its cleanups are done, that no
// goroutine it started is left. Register it first: cleanups run last in,
// first out, so this one runs after the others.
func verifyNoLeaks(t *testing.T) { leakcheck.Check(t) }

// waitLimit bounds every single wait of the embedded-broker tests; real
// broker tests use their own, longer bounds.
const waitLimit = 20 * time.Second

// section renders one factory section in native EMS syntax; keys are
// "key = value" lines, a later line overriding an earlier one with the same
// key (the file format rejects duplicate keys).
func section(name, urls string, keys ...string) string {
	var order []string
	line := map[string]string{}
	for _, kv := range keys {
		k, _, _ := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if _, ok := line[k]; !ok {
			order = append(order, k)
		}
		line[k] = kv
	}
	var b strings.Builder
	b.WriteString("[" + name + "]\n  type = queue\n  url  = " + urls + "\n")
	for _, k := range order {
		b.WriteString("  " + line[k] + "\n")
	}
	return b.String()
}

// writeConf writes a factories.conf into a fresh temporary directory.
func writeConf(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "factories.conf")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// replaceConf rewrites path the way editors do: a temporary file renamed
// over the original.
func replaceConf(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// load is factory.Load of a written file, not watched unless opts say so,
// closed at the end of the test.
func load(t *testing.T, body string, opts ...factory.FactoryOption) (*factory.Factory, string) {
	t.Helper()
	path := writeConf(t, body)
	f, err := factory.Load(path, append([]factory.FactoryOption{factory.WithWatch(false)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f, path
}

// connect creates a connection within limit and closes it at the end.
func connect(t *testing.T, f *factory.Factory, name string, limit time.Duration, opts ...factory.ConnectionOption) *factory.Connection {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c, err := f.CreateConnectionContext(ctx, name, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// broker starts an embedded broker closed at the end of the test.
func broker(t *testing.T, opts embedded.Options) *embedded.Broker {
	t.Helper()
	return embeddedtest.Start(t, opts)
}

// recorder collects a connection's events and lets a test wait for one.
type recorder struct {
	mu     sync.Mutex
	events []factory.Event
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) handle(e factory.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) option() factory.Option { return factory.WithEventHandler(r.handle) }

// len returns how many events have arrived.
func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// wait blocks until an event of kind k arrives at index >= after, within
// limit, and returns it and the index after it.
func (r *recorder) wait(t *testing.T, k factory.EventKind, after int, limit time.Duration) (factory.Event, int) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
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
		case <-deadline.C:
			t.Fatalf("no %v event within %v; saw %v", k, limit, r.kinds())
		}
	}
}

// of returns the events of kind k.
func (r *recorder) of(k factory.EventKind) []factory.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []factory.Event
	for _, e := range r.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = e.Kind.String()
	}
	return out
}

// attemptLog is a factory.Observer counting failed attempts per URL.
type attemptLog struct {
	mu     sync.Mutex
	failed map[string]int
	signal chan struct{}
}

func newAttemptLog() *attemptLog {
	return &attemptLog{failed: map[string]int{}, signal: make(chan struct{}, 1)}
}

// The other Observer methods are not needed here (Downtime is kept for
// the interface's earlier shape).
func (a *attemptLog) Connected(string, string)                  {}
func (a *attemptLog) Disconnected(string, string)               {}
func (a *attemptLog) Reconnected(string, string, time.Duration) {}
func (a *attemptLog) Downtime(string, time.Duration)            {}
func (a *attemptLog) AttemptFailed(_ string, url string) {
	a.mu.Lock()
	a.failed[url]++
	a.mu.Unlock()
	select {
	case a.signal <- struct{}{}:
	default:
	}
}

func (a *attemptLog) count(url string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failed[url]
}

// waitFailed blocks until url has failed at least n times, within limit.
func (a *attemptLog) waitFailed(t *testing.T, url string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for a.count(url) < n {
		select {
		case <-a.signal:
		case <-deadline.C:
			t.Fatalf("%s did not fail %d times within %v (failed %d)", url, n, limit, a.count(url))
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (log output).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// debugLogger logs everything, as text, to the returned buffer.
func debugLogger() (*logrus.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	l := logrus.New()
	l.SetOutput(buf)
	l.SetLevel(logrus.TraceLevel)
	l.SetFormatter(&logrus.TextFormatter{DisableColors: true})
	return l, buf
}

// receive takes one message from sub within limit.
func receive(t *testing.T, sub *factory.Subscription, limit time.Duration) *factory.Message {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case m, ok := <-sub.C:
		if !ok {
			t.Fatal("subscription closed")
		}
		if m.Err != nil {
			t.Fatalf("subscription error: %v", m.Err)
		}
		return m
	case <-timer.C:
		t.Fatalf("no message on %s within %v", sub.Destination(), limit)
	}
	return nil
}

// uniqueQueue is a destination no earlier run used (real brokers keep
// their queues between runs).
func uniqueQueue(t *testing.T) string {
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	return "/queue/stompft.it." + name + "." + time.Now().UTC().Format("150405.000000000")
}

// eventually polls cond until it holds, failing after limit. For figures
// updated just after the event a test waits on (Stats().Received counts a
// message once it has been handed over, a moment after the receiver got it).
func eventually(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		<-tick.C
	}
}
