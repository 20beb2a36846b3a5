package factory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/sirupsen/logrus"

	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/sequential"
)

func TestSendSubscribeRoundTrip(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	f := load(t, conf(b.URL(), fastReconnect...))
	c := connect(t, f)
	sub, err := c.Subscribe("/queue/rt", stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send("/queue/rt", "text/plain", []byte("hello"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m := receive(t, sub)
	if string(m.Body) != "hello" || m.Destination != "/queue/rt" {
		t.Fatalf("got %q on %q", m.Body, m.Destination)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
	if got := c.CurrentURL(); got != b.URL() {
		t.Fatalf("CurrentURL = %q, want %q", got, b.URL())
	}
	st := c.Stats()
	if st.State != StateConnected || st.Sent != 1 || st.Received != 1 || st.Acked != 1 || st.Subscriptions != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-sub.C; ok {
		t.Fatal("sub.C not closed by Close")
	}
	if err := c.Send("/queue/rt", "", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestFirstConnectWalksToTheFirstLiveURL(t *testing.T) {
	dead := broker(t, embedded.Options{})
	dead.Kill()
	live := broker(t, embedded.Options{})
	f := load(t, conf(urls(dead, live), fastReconnect...))
	c := connect(t, f)
	if got := c.CurrentURL(); got != live.URL() {
		t.Fatalf("connected to %q, want %q", got, live.URL())
	}
	if c.Stats().FailedAttempts != 1 {
		t.Fatalf("failed attempts %d, want 1", c.Stats().FailedAttempts)
	}
}

func TestFirstConnectAllDownNamesEveryURL(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{})
	b := broker(t, embedded.Options{})
	a.Kill()
	b.Kill()
	f := load(t, conf(urls(a, b), "connect_attempt_count = 3", "connect_attempt_delay = 5"))
	_, err := f.CreateConnection("Test")
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("want *ConnectError, got %v", err)
	}
	if ce.Passes != 3 || len(ce.Errors) != 6 || ce.Permanent {
		t.Fatalf("passes %d errors %d permanent %v", ce.Passes, len(ce.Errors), ce.Permanent)
	}
	for _, u := range []string{a.URL(), b.URL()} {
		if !strings.Contains(err.Error(), u) {
			t.Errorf("error does not name %s: %v", u, err)
		}
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("error does not say why: %v", err)
	}
}

func TestDeafBrokerIsBoundedByTheAttemptTimeout(t *testing.T) {
	verifyNoLeaks(t)
	deaf := broker(t, embedded.Options{Deaf: true})
	live := broker(t, embedded.Options{})
	f := load(t, conf(urls(deaf, live), "connect_attempt_count = 1", "connect_attempt_timeout = 150"))
	c := connect(t, f)
	if c.CurrentURL() != live.URL() {
		t.Fatalf("connected to %q", c.CurrentURL())
	}
	_ = c.Close()

	f2 := load(t, conf(deaf.URL(), "connect_attempt_count = 2", "connect_attempt_delay = 5", "connect_attempt_timeout = 150"))
	_, err := f2.CreateConnection("Test")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), deaf.URL()) {
		t.Fatalf("want a deadline error naming %s, got %v", deaf.URL(), err)
	}
}

func TestErrorAnsweringConnectIsPermanentAndNeverShowsThePasscode(t *testing.T) {
	verifyNoLeaks(t)
	const secret = "s3cret-Passcode"
	b := broker(t, embedded.Options{Login: "app", Passcode: "right"})
	other := broker(t, embedded.Options{Login: "app", Passcode: "right"})
	var logs bytes.Buffer
	logger := logrus.New()
	logger.SetOutput(&logs)
	logger.SetLevel(logrus.TraceLevel)
	f := load(t, conf(urls(b, other), "login = app", "passcode = "+secret, "connect_attempt_count = 5"), WithLogger(logger))
	_, err := f.CreateConnection("Test")
	var ce *ConnectError
	if !errors.As(err, &ce) || !ce.Permanent {
		t.Fatalf("want a permanent *ConnectError, got %v", err)
	}
	if b.Accepted() != 1 || other.Accepted() != 0 {
		t.Fatalf("walk went on after a permanent error: %d and %d connections", b.Accepted(), other.Accepted())
	}
	if !strings.Contains(err.Error(), "CONNECT refused") || !strings.Contains(err.Error(), b.URL()) {
		t.Fatalf("error lacks the broker's refusal or the URL: %v", err)
	}
	for what, text := range map[string]string{"error": err.Error(), "logs": logs.String(), "config": fmt.Sprintf("%+v %#v", f.Config(), f.Config())} {
		if strings.Contains(text, secret) {
			t.Errorf("passcode appears in %s: %s", what, text)
		}
	}
	if logs.Len() == 0 {
		t.Error("nothing was logged at trace level; the check above proves nothing")
	}
}

// scriptedBroker is a STOMP peer that misbehaves on purpose where the
// embedded broker cannot: it answers CONNECT and then runs script on each
// frame it reads.
type scriptedBroker struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn []net.Conn
}

func newScripted(t *testing.T, onFrame func(cmd string, headers map[string]string, w *bufio.Writer) (closeConn bool)) *scriptedBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedBroker{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conn = append(s.conn, nc)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer nc.Close()
				r := bufio.NewReader(nc)
				w := bufio.NewWriter(nc)
				for {
					cmd, h, err := readFrame(r)
					if err != nil {
						return
					}
					if cmd == "CONNECT" || cmd == "STOMP" {
						fmt.Fprintf(w, "CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00")
						_ = w.Flush()
						continue
					}
					if onFrame(cmd, h, w) {
						_ = w.Flush()
						return
					}
					_ = w.Flush()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conn {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *scriptedBroker) URL() string { return "tcp://" + s.ln.Addr().String() }

func readFrame(r *bufio.Reader) (string, map[string]string, error) {
	var cmd string
	for cmd == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		cmd = strings.TrimRight(line, "\r\n")
	}
	h := map[string]string{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		if _, dup := h[k]; !dup {
			h[k] = v
		}
	}
	if _, err := r.ReadString(0); err != nil {
		return "", nil, err
	}
	return cmd, h, nil
}

func TestErrorFrameMidSessionTriggersReconnect(t *testing.T) {
	verifyNoLeaks(t)
	bad := newScripted(t, func(cmd string, h map[string]string, w *bufio.Writer) bool {
		if cmd == "SEND" {
			fmt.Fprintf(w, "ERROR\nmessage:queue quota exceeded\n\n\x00")
			return true
		}
		return false
	})
	good := broker(t, embedded.Options{})
	rec := newRecorder()
	f := load(t, conf(bad.URL()+","+good.URL(), fastReconnect...), rec.option())
	c := connect(t, f)
	if c.CurrentURL() != bad.URL() {
		t.Fatalf("connected to %s first", c.CurrentURL())
	}
	_ = c.Send("/queue/x", "", []byte("trigger"))
	ev, _ := rec.wait(t, EventDisconnected, 0)
	if ev.URL != bad.URL() || ev.Err == nil || !strings.Contains(ev.Err.Error(), "queue quota exceeded") {
		t.Fatalf("disconnected event %+v", ev)
	}
	ev, _ = rec.wait(t, EventReconnected, 0)
	if ev.URL != good.URL() {
		t.Fatalf("reconnected to %s, want %s", ev.URL, good.URL())
	}
}

func TestFailoverResubscribesAndKeepsTheChannel(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	rec := newRecorder()
	f := load(t, conf(urls(primary, backup), fastReconnect...), rec.option())
	c := connect(t, f)
	sub, err := c.Subscribe("/queue/fo", stomp.AckClientIndividual, stomp.SubscribeOpt.Header("selector-note", "kept"))
	if err != nil {
		t.Fatal(err)
	}
	id := sub.ID()
	if err := c.Send("/queue/fo", "text/plain", []byte("before"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if err := c.Ack(receive(t, sub)); err != nil {
		t.Fatal(err)
	}
	primary.Kill()
	_, n := rec.wait(t, EventDisconnected, 0)
	ev, n := rec.wait(t, EventReconnected, n)
	if ev.URL != backup.URL() || ev.Downtime <= 0 {
		t.Fatalf("reconnected event %+v", ev)
	}
	ev, _ = rec.wait(t, EventResubscribed, 0)
	if ev.Count != 1 {
		t.Fatalf("resubscribed %d", ev.Count)
	}
	if err := c.Send("/queue/fo", "text/plain", []byte("after"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	// "before" may come again: its ack can die with the primary, and then
	// the shared store redelivers it (at-least-once).
	m := receive(t, sub)
	for string(m.Body) == "before" {
		if err := c.Ack(m); err != nil {
			t.Fatal(err)
		}
		m = receive(t, sub)
	}
	if string(m.Body) != "after" || sub.ID() != id || m.Header.Get("subscription") != id {
		t.Fatalf("after failover got %q on subscription %q (want id %q)", m.Body, m.Header.Get("subscription"), id)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Reconnects != 1 || st.Disconnects != 1 || st.URL != backup.URL() {
		t.Fatalf("stats %+v", st)
	}
	// Ordering of the reconnect events.
	kinds := rec.kinds()
	order := []EventKind{EventConnected, EventDisconnected, EventReconnecting, EventReconnected}
	j := 0
	for _, k := range kinds {
		if j < len(order) && k == order[j] {
			j++
		}
	}
	if j != len(order) {
		t.Fatalf("event order %v", kinds)
	}
}

func TestSendsBlockDuringAnOutageAndGoThroughAfter(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	rec := newRecorder()
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "reconnect_attempt_count = -1")
	f := load(t, conf(b.URL(), keys...), rec.option())
	c := connect(t, f)
	sub, err := c.Subscribe("/queue/block", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	b.Kill()
	rec.wait(t, EventReconnecting, 0)
	done := make(chan error, 1)
	go func() { done <- c.Send("/queue/block", "", []byte("waited"), stomp.SendOpt.Receipt) }()
	// The send must still be waiting after two more failed attempts.
	_, n := rec.wait(t, EventReconnecting, 0)
	_, _ = rec.wait(t, EventReconnecting, n)
	select {
	case err := <-done:
		t.Fatalf("send returned during the outage: %v", err)
	default:
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("send still blocked after the broker came back")
	}
	if m := receive(t, sub); string(m.Body) != "waited" {
		t.Fatalf("got %q", m.Body)
	}
}

func TestSendTimeoutDuringAnOutage(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "reconnect_attempt_count = -1", "send_timeout = 100")
	rec := newRecorder()
	f := load(t, conf(b.URL(), keys...), rec.option())
	c := connect(t, f)
	b.Kill()
	rec.wait(t, EventDisconnected, 0)
	err := c.Send("/queue/t", "", []byte("x"))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.SendContext(ctx, "/queue/t", "", nil); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestReconnectGivesUpAndFailsEveryCall(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	rec := newRecorder()
	var exceptions []error
	var exMu sync.Mutex
	f := load(t, conf(b.URL(), "reconnect_attempt_count = 2", "reconnect_attempt_delay = 10", "reconnect_spread = 0", "reconnect_jitter = none"),
		rec.option(), WithExceptionListener(func(err error) { exMu.Lock(); exceptions = append(exceptions, err); exMu.Unlock() }))
	c := connect(t, f)
	sub, err := c.Subscribe("/queue/gone", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	b.Kill()
	ev, _ := rec.wait(t, EventFailed, 0)
	var ce *ConnectError
	if !errors.As(ev.Err, &ce) || ce.Phase != "reconnect" || ce.Passes != 2 || !strings.Contains(ev.Err.Error(), b.URL()) {
		t.Fatalf("failed event: %v", ev.Err)
	}
	if err := c.Send("/queue/gone", "", nil); !errors.As(err, &ce) {
		t.Fatalf("send after failure: %v", err)
	}
	var last *Message
	for m := range sub.C {
		last = m
	}
	if last == nil || !errors.As(last.Err, &ce) {
		t.Fatalf("subscription's last message: %+v", last)
	}
	if c.Stats().State != StateClosed {
		t.Fatalf("state %s", c.Stats().State)
	}
	rec.wait(t, EventClosed, 0)
	exMu.Lock()
	defer exMu.Unlock()
	if len(exceptions) != 2 { // the loss, then the final failure
		t.Fatalf("exception listener got %v", exceptions)
	}
}

func TestCloseStopsAReconnectPromptly(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	rec := newRecorder()
	f := load(t, conf(b.URL(), "reconnect_attempt_count = -1", "reconnect_attempt_delay = 60000", "reconnect_spread = 0", "reconnect_jitter = none"), rec.option())
	c := connect(t, f)
	b.Kill()
	_, n := rec.wait(t, EventReconnecting, 0)
	_, _ = rec.wait(t, EventReconnecting, n) // now waiting a minute for attempt 2
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Close did not stop the reconnect")
	}
	// verifyNoLeaks proves the supervisor and dispatcher are gone.
}

func TestSlowEventHandlerNeverBlocksTheConnection(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var seen []EventKind
	handler := func(e Event) {
		if e.Kind == EventDisconnected {
			<-release // a handler stuck until the test lets it go
		}
		mu.Lock()
		seen = append(seen, e.Kind)
		mu.Unlock()
	}
	f := load(t, conf(urls(primary, backup), fastReconnect...), WithEventHandler(handler))
	c := connect(t, f)
	primary.Kill()
	eventually(t, "reconnect to the backup", func() bool { return c.CurrentURL() == backup.URL() })
	if err := c.Send("/queue/slow", "", []byte("x"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	close(release)
	eventually(t, "queued events delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= 3
	})
	mu.Lock()
	defer mu.Unlock()
	if seen[0] != EventConnected || seen[1] != EventDisconnected {
		t.Fatalf("events out of order: %v", seen)
	}
}

func TestReconnectBudgetIsADeadlineNotACount(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	rec := newRecorder()
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "reconnect_attempt_count = -1", "reconnect_attempt_delay = 30", "reconnect_budget = 200")
	f := load(t, conf(b.URL(), keys...), rec.option())
	c := connect(t, f)
	b.Kill()
	ev, _ := rec.wait(t, EventFailed, 0)
	var ce *ConnectError
	if !errors.As(ev.Err, &ce) || !ce.Budget || ce.Passes < 2 {
		t.Fatalf("want a budget-exhausted *ConnectError after several passes, got %v", ev.Err)
	}
	if !strings.Contains(ev.Err.Error(), "budget") || !strings.Contains(ev.Err.Error(), b.URL()) {
		t.Fatalf("error does not say budget or name the URL: %v", ev.Err)
	}
	if err := c.Send("/queue/x", "", nil); !errors.As(err, &ce) {
		t.Fatalf("send after failure: %v", err)
	}
}

func TestAddServerAtRunTimeIsWalkedOnReconnect(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{})
	b := broker(t, embedded.Options{})
	rec := newRecorder()
	f := load(t, conf(a.URL(), fastReconnect...), rec.option())
	c := connect(t, f)
	if err := f.AddServer("Test", b.URL()); err != nil {
		t.Fatal(err)
	}
	if err := f.AddServer("Test", "tcp://"); err == nil {
		t.Fatal("a bad URL was added")
	}
	if err := f.AddServer("Nope", b.URL()); !errors.Is(err, ErrUnknownFactory) {
		t.Fatalf("unknown factory: %v", err)
	}
	a.Kill()
	ev, _ := rec.wait(t, EventReconnected, 0)
	if ev.URL != b.URL() || c.CurrentURL() != b.URL() {
		t.Fatalf("reconnected to %s, want the added %s", ev.URL, b.URL())
	}
	// New connections of the factory walk it too.
	a.Start()
	c2 := connect(t, f)
	if c2.CurrentURL() != a.URL() {
		t.Fatalf("new connection on %s", c2.CurrentURL())
	}
}

func TestCustomChooserDecidesTheWalk(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{})
	b := broker(t, embedded.Options{})
	var mu sync.Mutex
	var calls []string
	chooser := sequential.ChooserFunc(func(lost *sequential.Endpoint) []sequential.Endpoint {
		mu.Lock()
		defer mu.Unlock()
		if lost == nil {
			calls = append(calls, "first")
		} else {
			calls = append(calls, "after "+lost.String())
		}
		ep, _ := sequential.ParseEndpoint(b.URL()) // always b, whatever the list says
		return []sequential.Endpoint{ep}
	})
	f := load(t, conf(urls(a, b), fastReconnect...), WithChooser(chooser))
	c := connect(t, f)
	if c.CurrentURL() != b.URL() {
		t.Fatalf("connected to %s; the chooser said %s", c.CurrentURL(), b.URL())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0] != "first" {
		t.Fatalf("chooser calls %v", calls)
	}
}

// A message the new broker delivers while the reconnect is still being
// installed finds CurrentURL already naming that broker, and its Ack goes
// there. CurrentURL was published only at the end of the install, so a
// consumer could take a message from the backup and then read "" (seen
// under load in examples/quickstart, where the message was a replayed send).
func TestCurrentURLNamesTheNewBrokerBeforeItsMessagesArrive(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	f := load(t, conf(urls(primary, backup), fastReconnect...))
	c := connect(t, f)
	// Set before Subscribe (a request to the owner), so the owner sees it;
	// the first connect is installed already. The owner stops between the
	// resubscribe and publishing the session.
	h := holdOnce(t, &testHookBeforeLive)
	sub, err := c.Subscribe("/queue/early", stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	primary.Kill()
	h.wait("the reconnect never reached the end of its install")
	// The backup has the resubscription: a message put there now is
	// delivered on the session being installed.
	p, err := stomp.Dial("tcp", backup.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Disconnect()
	if err := p.Send("/queue/early", "text/plain", []byte("early"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m := receive(t, sub)
	if got := c.CurrentURL(); got != backup.URL() {
		t.Fatalf("a message from the backup arrived; CurrentURL %q, want %q", got, backup.URL())
	}
	h.release()
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
}

// A tracked send whose caller took the fast path on a session that then
// ended, and whose end the owner handled (and reconnected) before the send
// was queued to it, is still written on the new session at once. The
// caller queues it without waking the owner, and only a receipt or a
// session's end would have: the message sat unsent until the next unrelated
// request (seen under load in examples/quickstart).
func TestTrackedSendRacingAFailoverIsSentOnTheNewSession(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	rec := newRecorder()
	f := load(t, conf(urls(primary, backup), append(fastReconnect, "track_messages = true")...), rec.option())
	c := connect(t, f)
	sub, err := c.Subscribe("/queue/raced", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	h := holdOnce(t, &testHookTrackedFastPath) // the caller stops once it has chosen the primary's session
	sent := make(chan error, 1)
	go func() { sent <- c.Send("/queue/raced", "text/plain", []byte("raced")) }()
	h.wait("the send never took the fast path")
	primary.Kill()
	if ev, _ := rec.wait(t, EventReconnected, 0); ev.URL != backup.URL() {
		t.Fatalf("reconnected to %s", ev.URL)
	}
	h.release()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("the send never returned")
	}
	// Nothing else happens on the connection: the message must come
	// without another request waking the owner.
	select {
	case m := <-sub.C:
		if m.Err != nil || string(m.Body) != "raced" {
			t.Fatalf("got %q, %v", m.Body, m.Err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the raced send was not written on the new session")
	}
}

// held is a test hook that stops the first goroutine to reach it until
// the test releases it.
type held struct {
	t             *testing.T
	reached, hold chan struct{}
	releaseOnce   sync.Once
}

// holdOnce sets *hook to stop its first caller. When the test ends the
// caller is released (before the connection's Close, registered earlier,
// which could not finish behind a held owner) and the hook cleared. Set it
// before the request that makes the connection's goroutines read it.
func holdOnce(t *testing.T, hook *func()) *held {
	h := &held{t: t, reached: make(chan struct{}), hold: make(chan struct{})}
	var once sync.Once
	*hook = func() {
		once.Do(func() {
			close(h.reached)
			<-h.hold
		})
	}
	t.Cleanup(func() { *hook = nil })
	t.Cleanup(h.release)
	return h
}

// wait waits until the hook has stopped a goroutine, or fails with what.
func (h *held) wait(what string) {
	h.t.Helper()
	select {
	case <-h.reached:
	case <-time.After(waitLimit):
		h.t.Fatal(what)
	}
}

// release lets the stopped goroutine go on; it may be called again.
func (h *held) release() { h.releaseOnce.Do(func() { close(h.hold) }) }
