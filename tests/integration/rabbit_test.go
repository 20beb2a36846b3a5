package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/tests/brokers"
)

// Scenarios 3 and 5 on the two independent RabbitMQ nodes.

// rabbitLimit bounds single waits on RabbitMQ (a node restart takes a few
// seconds, more on a loaded machine).
const rabbitLimit = 90 * time.Second

// secretPasscode is a wrong passcode that must never be printed.
const secretPasscode = "Wr0ng-S3cret-pa55code-7f3a"

// checkPasscodeHidden fails if the passcode appears in any text the test
// can see: the error in every format, and the log.
func checkPasscodeHidden(t *testing.T, err error, logs string) {
	t.Helper()
	checkHidden(t, err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), logs)
}

// checkHidden fails if the passcode appears in any of texts.
func checkHidden(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, secretPasscode) {
			t.Fatalf("passcode leaked into %q", s)
		}
	}
}

// wrongPasscode runs scenario 5 against the given broker addresses: a
// refused CONNECT stops the walk at once (no second attempt, no second URL),
// the error carries the broker's message, and the passcode is printed
// nowhere. It returns the error.
func wrongPasscode(t *testing.T, addrs []string, brokerSays string) *factory.ConnectError {
	t.Helper()
	log, logs := debugLogger()
	var excs []error
	var urls []string
	for _, a := range addrs {
		urls = append(urls, "tcp://"+a)
	}
	// Five passes 2 s apart: walking them would take 8 s and 10 attempts.
	f, _ := load(t, section("Rabbit", strings.Join(urls, ","),
		"vhost = /", "login = guest", "passcode = "+secretPasscode,
		"connect_attempt_count = 5", "connect_attempt_delay = 2000", "connect_attempt_timeout = 10000"),
		factory.WithLogger(log))
	if def, err := f.Definition("Rabbit"); err != nil || def.Passcode.Reveal() != secretPasscode {
		t.Fatalf("the passcode did not reach the definition: %v", err)
	} else {
		checkHidden(t, fmt.Sprintf("%v", def), fmt.Sprintf("%+v", def), fmt.Sprintf("%#v", def))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	c, err := f.CreateConnectionContext(ctx, "Rabbit", factory.WithExceptionListener(func(e error) { excs = append(excs, e) }))
	took := time.Since(start)
	if err == nil {
		_ = c.Close()
		t.Fatal("connected with a wrong passcode")
	}
	var ce *factory.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v, want *factory.ConnectError", err, err)
	}
	if !ce.Permanent || ce.Passes != 1 || len(ce.Errors) != 1 || ce.Errors[0].URL != urls[0] {
		t.Fatalf("permanent=%v passes=%d errors=%d; want true, 1, 1 (first URL only): %v", ce.Permanent, ce.Passes, len(ce.Errors), err)
	}
	if !strings.Contains(err.Error(), brokerSays) {
		t.Fatalf("error does not carry the broker's message %q: %v", brokerSays, err)
	}
	checkPasscodeHidden(t, err, logs.String())
	for _, e := range excs {
		checkPasscodeHidden(t, e, "")
	}
	if !strings.Contains(logs.String(), "attempt failed") {
		t.Fatalf("the failed attempt was not logged at all; log: %s", logs)
	}
	t.Logf("refused in %v after 1 attempt: %v", took.Round(time.Millisecond), err)
	return ce
}

// TestRabbitWrongPasscode is scenario 5 on RabbitMQ.
func TestRabbitWrongPasscode(t *testing.T) {
	e := brokers.Require(t, brokers.Rabbit1, brokers.Rabbit2)
	wrongPasscode(t, []string{e.Addr(brokers.Rabbit1), e.Addr(brokers.Rabbit2)}, "Bad CONNECT")
}

// TestWrongPasscodeEmbedded is scenario 5 on an embedded broker, so that
// it runs without real brokers too.
func TestWrongPasscodeEmbedded(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{Engine: embedded.EngineMini, Login: "guest", Passcode: "guest"})
	b := broker(t, embedded.Options{Engine: embedded.EngineMini, Login: "guest", Passcode: "guest"})
	wrongPasscode(t, []string{a.Addr(), b.Addr()}, "Bad CONNECT")
	if a.Accepted() != 1 || b.Accepted() != 0 {
		t.Fatalf("connections accepted: first %d, second %d; want 1, 0", a.Accepted(), b.Accepted())
	}
}

// TestRabbitResubscribeAndPriorityBackup is scenario 3: a consumer on
// rabbit1 loses its node (kill -9), reconnects to rabbit2 and resubscribes
// there; with priority_backup it moves back to rabbit1 once that node is
// up again, subscription included. Each step is proved by a message sent
// to the queue on the node the consumer should be on.
func TestRabbitResubscribeAndPriorityBackup(t *testing.T) {
	e := brokers.Require(t, brokers.Rabbit1, brokers.Rabbit2)
	r1, r2 := "tcp://"+e.Addr(brokers.Rabbit1), "tcp://"+e.Addr(brokers.Rabbit2)
	t.Cleanup(func() { restoreBroker(t, e, brokers.Rabbit1) })
	common := []string{"vhost = /", "login = guest", "passcode = guest", "heartbeat = 1000,1000", "heartbeat_grace = 2",
		"connect_attempt_count = 3", "connect_attempt_delay = 500", "connect_attempt_timeout = 10000"}
	f, _ := load(t,
		section("Consumer", r1+","+r2, append([]string{"priority_backup = true",
			"reconnect_attempt_count = 200", "reconnect_attempt_delay = 250", "reconnect_attempt_timeout = 5000",
			"reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0"}, common...)...)+
			section("Rabbit1", r1, append([]string{"reconnect_attempt_count = 1"}, common...)...)+
			section("Rabbit2", r2, common...))
	rec := newRecorder()
	cons := connect(t, f, "Consumer", rabbitLimit, rec.option())
	if got := cons.CurrentURL(); got != r1 {
		t.Fatalf("consumer connected to %q, want %q", got, r1)
	}
	q := uniqueQueue(t)
	sub, err := cons.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	// send puts body on q on one node (its own connection) and checks the
	// consumer gets it.
	send := func(node, body string) {
		t.Helper()
		p := connect(t, f, node, rabbitLimit)
		if err := p.Send(q, "text/plain", []byte(body), stomp.SendOpt.Receipt); err != nil {
			t.Fatalf("send to %s: %v", node, err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		m := receive(t, sub, rabbitLimit)
		if string(m.Body) != body {
			t.Fatalf("consumer got %q, want %q", m.Body, body)
		}
		if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	send("Rabbit1", "on rabbit1")

	e.Ctl(t, brokers.Rabbit1, "kill9")
	_, lost := rec.wait(t, factory.EventDisconnected, 0, rabbitLimit)
	// Reconnected and Resubscribed, in either order.
	ev, n1 := rec.wait(t, factory.EventResubscribed, lost, rabbitLimit)
	if ev.URL != r2 || ev.Count != 1 {
		t.Fatalf("resubscribed %d on %q, want 1 on %q", ev.Count, ev.URL, r2)
	}
	ev, n2 := rec.wait(t, factory.EventReconnected, lost, rabbitLimit)
	if ev.URL != r2 {
		t.Fatalf("reconnected to %q, want %q", ev.URL, r2)
	}
	next := max(n1, n2)
	t.Logf("rabbit1 killed: reconnected to %s after %v", ev.URL, ev.Downtime.Round(time.Millisecond))
	send("Rabbit2", "on rabbit2")

	e.Ctl(t, brokers.Rabbit1, "start")
	e.Ctl(t, brokers.Rabbit1, "wait-up", "120")
	ev, _ = rec.wait(t, factory.EventSwitched, next, rabbitLimit)
	if ev.URL != r1 {
		t.Fatalf("switched to %q, want the priority URL %q", ev.URL, r1)
	}
	if got := cons.CurrentURL(); got != r1 {
		t.Fatalf("consumer on %q after the switch, want %q", got, r1)
	}
	send("Rabbit1", "back on rabbit1")
	eventually(t, "Stats().Received == 3", rabbitLimit, func() bool { return cons.Stats().Received == 3 })
	st := cons.Stats()
	t.Logf("consumer: %d connects, %d reconnects, %d received, events %v", st.Connects, st.Reconnects, st.Received, rec.kinds())
	if st.Received != 3 || st.Acked != 3 || st.Subscriptions != 1 {
		t.Fatalf("received=%d acked=%d subscriptions=%d, want 3, 3, 1", st.Received, st.Acked, st.Subscriptions)
	}
}

// restoreBroker restarts a broker a failed test left dead, so the next
// test finds it up.
func restoreBroker(t *testing.T, e *brokers.Env, name string) {
	if _, err := e.CtlErr(name, "pid"); err == nil {
		return
	}
	if out, err := e.CtlErr(name, "start"); err != nil {
		t.Logf("restore %s: %v: %s", name, err, out)
		return
	}
	if out, err := e.CtlErr(name, "wait-up", "120"); err != nil {
		t.Logf("restore %s: %v: %s", name, err, out)
	}
}
