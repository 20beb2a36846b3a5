package factory

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/stompft/stompft/internal/session"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/attempts/attemptstest"
	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/sequential"
)

// closeWithin fails t unless fn returns within the wait limit.
func closeWithin(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatalf("%s did not return (deadlock)", what)
	}
}

// Every exported method may be called from an event handler, including
// Close, which then returns once the connection is closed.
func TestCallbacksMayCallAnyMethodIncludingClose(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	var conn atomic.Pointer[Connection]
	var sub atomic.Pointer[Subscription]
	closed := make(chan struct{})
	var fromHandler []error
	var mu sync.Mutex
	handler := func(e Event) {
		c := conn.Load()
		if c == nil || e.Kind != EventReconnected {
			return
		}
		// Inside the callback: calls that need the owner must not deadlock.
		_ = c.Stats()
		_ = c.CurrentURL()
		_, _ = c.ServerInfo()
		errs := []error{c.Send("/queue/cb", "", []byte("from handler"), stomp.SendOpt.Receipt)}
		s2, err := c.Subscribe("/queue/cb2", stomp.AckAuto)
		errs = append(errs, err)
		if err == nil {
			errs = append(errs, s2.Unsubscribe())
		}
		tx, err := c.Begin()
		errs = append(errs, err)
		if err == nil {
			errs = append(errs, tx.Send("/queue/cb", "", []byte("tx")), tx.Commit())
		}
		errs = append(errs, c.Flush(context.Background()))
		errs = append(errs, sub.Load().Unsubscribe())
		errs = append(errs, c.Close())
		mu.Lock()
		fromHandler = errs
		mu.Unlock()
		close(closed)
	}
	f := load(t, conf(urls(primary, backup), fastReconnect...))
	c := connect(t, f, WithEventHandler(handler))
	s, err := c.Subscribe("/queue/cb", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	sub.Store(s)
	conn.Store(c)
	primary.Kill()
	closeWithin(t, "Close from an event handler", closed)
	mu.Lock()
	defer mu.Unlock()
	for i, err := range fromHandler {
		if err != nil {
			t.Errorf("call %d from the handler: %v", i, err)
		}
	}
	if st := c.Stats(); st.State != StateClosed {
		t.Fatalf("state after Close from the handler: %s", st.State)
	}
}

func TestCloseFromExceptionListenerReturns(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	var conn atomic.Pointer[Connection]
	closed := make(chan error, 1)
	listener := func(err error) {
		if c := conn.Load(); c != nil {
			closed <- c.Close()
		}
	}
	f := load(t, conf(urls(primary, backup), fastReconnect...))
	c := connect(t, f, WithExceptionListener(listener))
	conn.Store(c)
	primary.Kill()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close from the exception listener: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Close from the exception listener never returned")
	}
	if err := c.Send("/queue/x", "", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after Close: %v", err)
	}
}

func TestCloseWhileDrainingSubscriptionC(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	f := load(t, conf(b.URL(), fastReconnect...))
	c := connect(t, f, WithSubscriptionBuffer(0))
	sub, err := c.Subscribe("/queue/drain", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := c.Send("/queue/drain", "", []byte("x"), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sub.C {
			_ = c.Close() // on the first message, with more queued behind it
		}
	}()
	closeWithin(t, "Close while draining C", done)
}

// --------------------------------------------------------------- slow consumers

// A subscription nobody reads, below its queue limit, delays nothing:
// another subscription and receipts keep flowing.
func TestUnreadSubscriptionBelowItsLimitDelaysNothing(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "send_timeout = 5000")
	f := load(t, conf(b.URL(), keys...))
	c := connect(t, f)
	if _, err := c.Subscribe("/queue/unread", stomp.AckAuto); err != nil {
		t.Fatal(err)
	}
	other, err := c.Subscribe("/queue/other", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ { // well past C's 64 and below the queue's 1000
		if err := c.Send("/queue/unread", "", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Send("/queue/other", "", []byte("through"), stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("receipt send behind an unread subscription: %v", err)
	}
	if m := receive(t, other); string(m.Body) != "through" {
		t.Fatalf("got %q", m.Body)
	}
	if st := c.Stats(); st.Paused || st.SlowConsumers != 0 {
		t.Fatalf("paused below the limit: %+v", st)
	}
}

// At its limit, a queue pauses reading (nothing dropped), raises
// EventSlowConsumer, fails a receipt waiting behind the pause with an error
// that says so, and does not make the silence detector fail over.
func TestSlowConsumerPausesReadingWithoutFailover(t *testing.T) {
	verifyNoLeaks(t)
	// Beats of 300 ms: wide enough that a loaded machine's scheduling stays
	// inside the silence bound (it flaked at 100 ms), short enough that the
	// observation below spans several bounds.
	b := broker(t, embedded.Options{HeartBeat: 300 * time.Millisecond})
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "heartbeat = 300,300", "heartbeat_grace = 2", "send_timeout = 400")
	rec := newRecorder()
	f := load(t, conf(b.URL(), keys...), rec.option())
	c := connect(t, f, WithSubscriptionBuffer(0))
	slow, err := c.Subscribe("/queue/slow", stomp.AckAuto, QueueLimits(5, 0))
	if err != nil {
		t.Fatal(err)
	}
	fast, err := c.Subscribe("/queue/fast", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := 0; i < n; i++ {
		if err := c.Send("/queue/slow", "", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	ev, _ := rec.wait(t, EventSlowConsumer, 0)
	if ev.Subscription != slow.ID() {
		t.Fatalf("slow consumer event names %q, want %q", ev.Subscription, slow.ID())
	}
	if !c.Stats().Paused {
		t.Fatal("not paused at the limit")
	}
	err = c.Send("/queue/fast", "", []byte("behind"), stomp.SendOpt.Receipt)
	if !errors.Is(err, ErrSlowConsumer) || !errors.Is(err, ErrInDoubt) || strings.Contains(err.Error(), "connection was lost") {
		t.Fatalf("receipt behind the pause: %v (want ErrSlowConsumer, not a loss)", err)
	}
	// Observe for several silence bounds (300 ms × 2): paused time is not silence.
	<-time.After(2 * time.Second)
	for _, k := range rec.kinds() {
		if k == EventDisconnected {
			t.Fatal("pausing for a slow consumer caused a failover")
		}
	}
	for i := 0; i < n; i++ {
		if m := receive(t, slow); string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q (dropped or reordered)", i, m.Body)
		}
	}
	if m := receive(t, fast); string(m.Body) != "behind" {
		t.Fatalf("got %q", m.Body)
	}
	eventually(t, "reading resumed", func() bool { return !c.Stats().Paused })
	if err := c.Send("/queue/fast", "", []byte("after"), stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("receipt after the queue drained: %v", err)
	}
}

func TestClientAckSubscribeCarriesPrefetchSizedToTheQueue(t *testing.T) {
	verifyNoLeaks(t)
	subs := make(chan map[string]string, 4)
	b := newScripted(t, func(cmd string, h map[string]string, w *bufio.Writer) bool {
		if cmd == "SUBSCRIBE" {
			subs <- h
		}
		return false
	})
	f := load(t, conf(b.URL(), fastReconnect...))
	c := connect(t, f)
	if _, err := c.Subscribe("/queue/a", stomp.AckClientIndividual, QueueLimits(25, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe("/queue/b", stomp.AckClient, stomp.SubscribeOpt.Header("activemq.prefetchSize", "3")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe("/queue/c", stomp.AckAuto); err != nil {
		t.Fatal(err)
	}
	want := []struct{ amq, rabbit string }{{"25", "25"}, {"3", fmt.Sprint(DefaultQueueMessages)}, {"", ""}}
	for i, w := range want {
		var h map[string]string
		select {
		case h = <-subs:
		case <-time.After(waitLimit):
			t.Fatal("no SUBSCRIBE")
		}
		if h[prefetchActiveMQ] != w.amq || h[prefetchRabbitMQ] != w.rabbit {
			t.Errorf("subscription %d: prefetch headers %q/%q, want %q/%q", i, h[prefetchActiveMQ], h[prefetchRabbitMQ], w.amq, w.rabbit)
		}
		if _, leaked := h[queueMsgsHeader]; leaked {
			t.Errorf("private header left on the wire: %v", h)
		}
	}
}

// --------------------------------------------------------------- errors

func TestErrorsKeepTheCallersContextCause(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "reconnect_attempt_count = -1", "send_timeout = 200")
	rec := newRecorder()
	f := load(t, conf(b.URL(), keys...), rec.option())
	c := connect(t, f)
	b.Kill()
	rec.wait(t, EventDisconnected, 0)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.SendContext(ctx, "/queue/e", "", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v does not match context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.SendContext(ctx, "/queue/e", "", nil); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTimeout) {
		t.Errorf("caller deadline: %v (want DeadlineExceeded and ErrTimeout)", err)
	}
	if err := c.Send("/queue/e", "", nil); !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "send_timeout") {
		t.Errorf("send_timeout: %v", err)
	}
	if _, err := c.SubscribeContext(ctx, "/queue/e", stomp.AckAuto); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("subscribe, caller deadline: %v", err)
	}
}

func TestCreateConnectionContextKeepsTheDeadline(t *testing.T) {
	verifyNoLeaks(t)
	deaf := broker(t, embedded.Options{Deaf: true})
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "connect_attempt_timeout = 10000")
	f := load(t, conf(deaf.URL(), keys...))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := f.CreateConnectionContext(ctx, "Test")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connect past the caller's deadline: %v", err)
	}
}

func TestReceiptDeadlineSaysSo(t *testing.T) {
	verifyNoLeaks(t)
	b := silentBroker(t)
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "send_timeout = 100")
	f := load(t, conf(b.URL(), keys...), WithDisconnectTimeout(100*time.Millisecond))
	c := connect(t, f)
	err := c.Send("/queue/d", "", []byte("?"), stomp.SendOpt.Receipt)
	if !errors.Is(err, ErrInDoubt) || !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "receipt deadline") || strings.Contains(err.Error(), "lost") {
		t.Fatalf("receipt deadline: %v", err)
	}
}

func TestAbortAfterARolledBackCommitSucceedsLocally(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	f := load(t, conf(urls(primary, backup), fastReconnect...))
	c := connect(t, f)
	tx, err := c.Begin()
	if err != nil {
		t.Fatal(err)
	}
	primary.Kill()
	eventually(t, "reconnect", func() bool { return c.CurrentURL() == backup.URL() })
	if err := tx.Commit(); !errors.Is(err, ErrTransactionRolledBack) {
		t.Fatalf("commit after failover: %v", err)
	}
	if err := tx.Abort(); err != nil {
		t.Fatalf("abort after a rolled-back commit: %v", err)
	}
}

// --------------------------------------------------------------- scheduler registry

func TestConnectionsToOneBrokerSetShareOneScheduler(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{})
	b := broker(t, embedded.Options{})
	other := broker(t, embedded.Options{})
	f1 := load(t, conf(a.URL()+","+b.URL(), fastReconnect...))
	f2 := load(t, strings.Replace(conf(b.URL()+","+a.URL(), fastReconnect...), "[Test]", "[Test]", 1))
	f3 := load(t, conf(other.URL(), fastReconnect...))
	c1, c2, c3 := connect(t, f1), connect(t, f2), connect(t, f3)
	sched := func(c *Connection) (s any) {
		c.call(func() { s = c.scheduler() })
		return s
	}
	if sched(c1) != sched(c2) {
		t.Fatal("two factories on the same brokers got different schedulers")
	}
	if sched(c1) == sched(c3) {
		t.Fatal("different brokers share a scheduler")
	}
	key := f1.schedulerKey(f1.Config().Factories[0])
	_ = c1.Close()
	if schedulers.get(key) == nil {
		t.Fatal("scheduler dropped while a connection still uses it")
	}
	_ = c2.Close()
	if schedulers.get(key) != nil {
		t.Fatal("scheduler kept after its last connection closed")
	}
}

// --------------------------------------------------------------- loops that only look healthy

// A broker that accepts CONNECT and then ends every session with ERROR at
// once must exhaust the reconnect policy, not loop for ever.
func TestErrorRightAfterConnectedCountsTowardTheReconnectPolicy(t *testing.T) {
	verifyNoLeaks(t)
	addr, sessions := reconnectLoopPeer(t, func(nc net.Conn, r *bufio.Reader, first bool) {
		fmt.Fprintf(nc, "CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00")
		if first {
			// The first session is healthy for a while: the connection
			// gets made.
			_, _, _ = readFrame(r) // until the client sends something
		}
		fmt.Fprintf(nc, "ERROR\nmessage:disk full\n\n\x00")
	})
	ev := failsAfterReconnectLoop(t, addr, sessions)
	if ev.Err == nil {
		t.Fatal("failed without an error")
	}
}

// A broker that sends a frame over max_frame_size right after CONNECTED on
// every session (a redelivered oversized message does that) counts toward
// the reconnect policy like an ERROR right after CONNECTED: it ends in
// EventFailed, not in an endless reconnect loop.
func TestOverLimitFrameRightAfterConnectedCountsTowardTheReconnectPolicy(t *testing.T) {
	verifyNoLeaks(t)
	addr, sessions := reconnectLoopPeer(t, func(nc net.Conn, r *bufio.Reader, first bool) {
		fmt.Fprintf(nc, "CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00")
		if first {
			_, _, _ = readFrame(r) // healthy until the client sends something
		}
		fmt.Fprintf(nc, "MESSAGE\ndestination:/queue/x\nmessage-id:1\nsubscription:0\ncontent-length:4096\n\n%s\x00", strings.Repeat("x", 4096))
	})
	ev := failsAfterReconnectLoop(t, addr, sessions, "max_frame_size = 1024")
	var le *session.LimitError
	if !errors.As(ev.Err, &le) {
		t.Fatalf("failed with %v, want the limit error", ev.Err)
	}
}

// reconnectLoopPeer is a broker that answers every CONNECT with serve (first
// is true for the first session) and counts the sessions.
func reconnectLoopPeer(t *testing.T, serve func(nc net.Conn, r *bufio.Reader, first bool)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	sessions := new(atomic.Int64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				r := bufio.NewReader(nc)
				if _, _, err := readFrame(r); err != nil {
					return
				}
				serve(nc, r, sessions.Add(1) == 1)
				_, _ = r.ReadByte()
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String(), sessions
}

// failsAfterReconnectLoop connects to addr with 4 reconnect attempts, sends,
// and requires EventFailed after at most 1+4 sessions.
func failsAfterReconnectLoop(t *testing.T, addr string, sessions *atomic.Int64, extra ...string) Event {
	t.Helper()
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "reconnect_attempt_count = 4")
	keys = append(keys, extra...)
	rec := newRecorder()
	f := load(t, conf("tcp://"+addr, keys...), rec.option())
	c := connect(t, f)
	_ = c.Send("/queue/x", "", []byte("x"))
	ev, _ := rec.wait(t, EventFailed, 0)
	if got := sessions.Load(); got > 1+4 {
		t.Fatalf("%d sessions for a policy of 4 reconnect attempts", got)
	}
	return ev
}

// A tracked send the broker answers with an ERROR naming no receipt is
// given up after maxErrorEndsPerSend sessions, not replayed for ever.
func TestTrackedSendRejectedWithoutReceiptIDIsGivenUp(t *testing.T) {
	verifyNoLeaks(t)
	b := newScripted(t, func(cmd string, h map[string]string, w *bufio.Writer) bool {
		if cmd == "SEND" && h["destination"] == "/queue/poison" {
			fmt.Fprintf(w, "ERROR\nmessage:not allowed\n\n\x00")
			return true
		}
		if id, ok := h["receipt"]; ok {
			fmt.Fprintf(w, "RECEIPT\nreceipt-id:%s\n\n\x00", id)
		}
		return false
	})
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "track_messages = true", "reconnect_attempt_count = -1")
	rec := newRecorder()
	f := load(t, conf(b.URL(), keys...), rec.option())
	c := connect(t, f)
	err := c.Send("/queue/poison", "", []byte("x"), stomp.SendOpt.Receipt)
	if err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("poison send: %v", err)
	}
	if err := c.Send("/queue/fine", "", []byte("ok"), stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("the connection must carry on: %v", err)
	}
	if st := c.Stats(); st.InFlight != 0 {
		t.Fatalf("%d still cached", st.InFlight)
	}
}

// --------------------------------------------------------------- dedup bounds

func TestDedupWindowIsBoundedInBytes(t *testing.T) {
	d := newDedupWindow(1000, 1000)
	for i := 0; i < 100; i++ {
		d.add(fmt.Sprintf("id-%016d", i)) // 19 bytes + overhead each
	}
	n, bytes := d.size()
	if bytes > 1000 || n != 1000/(19+dedupEntryOverhead) {
		t.Fatalf("window holds %d ids in %d bytes (limit 1000)", n, bytes)
	}
	if !d.has(fmt.Sprintf("id-%016d", 99)) || d.has(fmt.Sprintf("id-%016d", 0)) {
		t.Fatal("the newest must stay, the oldest go")
	}
	long := strings.Repeat("x", MaxDedupIDLen+1)
	d.add(long)
	if d.has(long) {
		t.Fatal("an over-long id was remembered")
	}
}

func TestOverLongDedupIDsAreCounted(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	f := load(t, conf(b.URL(), fastReconnect...))
	c := connect(t, f)
	sub, err := c.Subscribe("/queue/long", stomp.AckAuto, DropDuplicates(0))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("y", MaxDedupIDLen+1)
	for i := 0; i < 2; i++ {
		if err := c.Send("/queue/long", "", []byte("l"), stomp.SendOpt.Header(MsgIDHeader, long), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		receive(t, sub)
	}
	if st := c.Stats(); st.DuplicatesUnchecked != 2 || st.DuplicatesDropped != 0 {
		t.Fatalf("unchecked %d, dropped %d", st.DuplicatesUnchecked, st.DuplicatesDropped)
	}
}

// --------------------------------------------------------------- reload

// reloadTo rewrites f's file with body and reloads it now.
func reloadTo(t *testing.T, f *Factory, body string) {
	t.Helper()
	if err := os.WriteFile(f.path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
}

func TestReloadTimingCoversEveryKey(t *testing.T) {
	keys := confparse.Keys()
	for _, k := range keys {
		switch ReloadTiming[k] {
		case "new connections", "new subscriptions", "next reconnect", "at once", "restart":
		default:
			t.Errorf("key %s: reload timing %q", k, ReloadTiming[k])
		}
	}
	if len(ReloadTiming) != len(keys) {
		t.Errorf("ReloadTiming has %d keys, the parser %d", len(ReloadTiming), len(keys))
	}
	var restart []string
	for _, k := range keys {
		if ReloadTiming[k] == "restart" {
			restart = append(restart, k)
		}
	}
	slices.Sort(restart)
	want := slices.Clone(restartKeys)
	slices.Sort(want)
	if !slices.Equal(restart, want) {
		t.Errorf("keys documented as needing a restart %v, the ones a reload keeps and reports %v", restart, want)
	}
}

func TestReloadSendTimeoutAppliesAtOnce(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "reconnect_attempt_count = -1")
	rec := newRecorder()
	f := load(t, conf(b.URL(), append(keys, "send_timeout = 60000")...), rec.option())
	c := connect(t, f)
	b.Kill()
	_, n := rec.wait(t, EventDisconnected, 0)
	reloadTo(t, f, conf(b.URL(), append(keys, "send_timeout = 50")...))
	rec.wait(t, EventConfigReloaded, n)
	start := time.Now()
	err := c.Send("/queue/t", "", nil)
	if !errors.Is(err, ErrTimeout) || time.Since(start) > 10*time.Second {
		t.Fatalf("send after send_timeout was reloaded to 50 ms: %v after %v", err, time.Since(start))
	}
}

func TestReloadBackupAppliesAtOnce(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	rec := newRecorder()
	f := load(t, conf(urls(primary, backup), fastReconnect...), rec.option())
	connect(t, f)
	if backup.Conns() != 0 {
		t.Fatal("a standby without backup = true")
	}
	reloadTo(t, f, conf(urls(primary, backup), append(fastReconnect, "backup = true")...))
	eventually(t, "the standby session after the reload", func() bool { return backup.Conns() == 1 })
	reloadTo(t, f, conf(urls(primary, backup), append(fastReconnect, "backup = false")...))
	eventually(t, "the standby closed after the reload", func() bool { return backup.Conns() == 0 })
}

func TestReloadPriorityBackupAppliesAtOnce(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	rec := newRecorder()
	f := load(t, conf(urls(primary, backup), fastReconnect...), rec.option())
	c := connect(t, f)
	primary.Kill()
	_, n := rec.wait(t, EventReconnected, 0)
	if err := primary.Start(); err != nil {
		t.Fatal(err)
	}
	reloadTo(t, f, conf(urls(primary, backup), append(fastReconnect, "priority_backup = true")...))
	ev, _ := rec.wait(t, EventSwitched, n)
	if ev.URL != primary.URL() || c.CurrentURL() != primary.URL() {
		t.Fatalf("switched to %s, on %s", ev.URL, c.CurrentURL())
	}
}

func TestReloadHeartbeatAppliesOnTheNextReconnect(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	rec := newRecorder()
	f := load(t, conf(urls(primary, backup), append(fastReconnect, "heartbeat = 0,0")...), rec.option())
	c := connect(t, f)
	if info, _ := c.ServerInfo(); info.SendBeat != 0 {
		t.Fatalf("beats with heartbeat = 0,0: %+v", info)
	}
	reloadTo(t, f, conf(urls(primary, backup), append(fastReconnect, "heartbeat = 200,0")...))
	_, n := rec.wait(t, EventConfigReloaded, 0)
	primary.Kill()
	rec.wait(t, EventReconnected, n)
	if info, _ := c.ServerInfo(); info.SendBeat == 0 {
		t.Fatalf("heart-beat not renegotiated after the reload: %+v", info)
	}
}

func TestReloadWalkKeysApplyOnTheNextReconnect(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	f := load(t, conf(b.URL(), fastReconnect...))
	c := connect(t, f)
	var before *sequential.Walker
	c.call(func() { before = c.own.walker })
	reloadTo(t, f, conf(b.URL(), append(fastReconnect, "randomize = true", "metric = byte_rate")...))
	var after *sequential.Walker
	var def *confparse.Factory
	c.call(func() { after, def = c.own.walker, c.own.def })
	if after == before || !def.Randomize || def.Metric != sequential.MetricByteRate {
		t.Fatalf("randomize/metric not in the walk the next reconnect uses: %+v", def)
	}
}

func TestReloadSchedulerKeysApplyOnTheNextReconnect(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	f := load(t, conf(b.URL(), fastReconnect...))
	c := connect(t, f)
	reloadTo(t, f, conf(b.URL(), append(fastReconnect, "scheduler_max_concurrency = 7", "scheduler_max_rate = 99")...))
	var cfg attempts.SchedulerConfig
	c.call(func() { cfg = c.scheduler().Config() })
	if cfg.MaxConcurrency != 7 || cfg.MaxRate != 99 {
		t.Fatalf("scheduler for the next reconnect: %+v", cfg)
	}
}

func TestReloadOfARestartKeyIsReported(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	rec := newRecorder()
	f := load(t, conf(b.URL(), fastReconnect...), rec.option())
	c := connect(t, f)
	reloadTo(t, f, conf(b.URL(), append(fastReconnect, "track_messages = true", "send_timeout = 1234")...))
	ev, _ := rec.wait(t, EventConfigReloaded, 0)
	if !errors.Is(ev.Err, ErrRestartRequired) || !strings.Contains(ev.Err.Error(), "track_messages") {
		t.Fatalf("reload of track_messages: %v", ev.Err)
	}
	if d := c.def(); d.TrackMessages || d.SendTimeout != 1234*time.Millisecond {
		t.Fatalf("restart key applied or the rest not: track %v, send_timeout %v", d.TrackMessages, d.SendTimeout)
	}
}

// Close does not wait out the disconnect timeout when a full queue has
// paused reading: the DISCONNECT receipt is behind the pause.
func TestCloseWhilePausedBySlowConsumerIsPrompt(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	rec := newRecorder()
	f := load(t, conf(b.URL(), fastReconnect...), rec.option(), WithDisconnectTimeout(10*time.Second))
	c := connect(t, f, WithSubscriptionBuffer(0))
	if _, err := c.Subscribe("/queue/p", stomp.AckAuto, QueueLimits(2, 0)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := c.Send("/queue/p", "", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	rec.wait(t, EventSlowConsumer, 0)
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v: it waited for a receipt behind its own pause", d)
	}
}

// Which level an option applies to is its type: these lines compile, and
// passing a FactoryOption such as WithWatch to CreateConnection does not.
var (
	_ FactoryOption    = WithWatch(false)
	_ FactoryOption    = WithObserver(nil)
	_ FactoryOption    = WithLogger(nil)
	_ ConnectionOption = WithLogger(nil)
	_ ConnectionOption = WithEventHandler(nil)
)

// A clock given to one connection drives only that connection: the
// scheduler it shares with the factory's other connections keeps the
// factory's clock. A clock given to the factory gets it schedulers of its
// own.
func TestConnectionClockDoesNotLeakIntoTheSharedScheduler(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	f := load(t, conf(b.URL(), fastReconnect...))
	fake := attemptstest.NewClock(time.Unix(1000, 0))
	withClock := connect(t, f, WithClock(fake))
	plain := connect(t, f)
	sched := func(c *Connection) (s *attempts.Scheduler) {
		c.call(func() { s = c.scheduler() })
		return s
	}
	if sched(withClock) != sched(plain) {
		t.Fatal("a per-connection clock got the connection a scheduler of its own")
	}
	if got := sched(plain).Config(); got.MaxConcurrency == 0 {
		t.Fatalf("shared scheduler without limits: %+v", got)
	}
	fClock := load(t, conf(b.URL(), fastReconnect...), WithClock(fake))
	other := connect(t, fClock)
	if sched(other) == sched(plain) {
		t.Fatal("a factory with its own clock shares a scheduler paced by another clock")
	}
}
