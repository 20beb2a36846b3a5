package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/tests/brokers"
)

// Scenario 4: the initial connect walks the URL list in order with the
// connect policy.

// TestInitialConnectFirstDownSecondUp: the first URL refuses, the second
// answers: one failed attempt, connected to the second within the first pass.
func TestInitialConnectFirstDownSecondUp(t *testing.T) {
	verifyNoLeaks(t)
	dead := broker(t, embedded.Options{})
	dead.Kill()
	live := broker(t, embedded.Options{})
	obs := newAttemptLog()
	rec := newRecorder()
	f, _ := load(t, section("Test", dead.URL()+","+live.URL(),
		"connect_attempt_count = 3", "connect_attempt_delay = 5000", "connect_attempt_timeout = 5000"),
		factory.WithObserver(obs))
	c := connect(t, f, "Test", waitLimit, rec.option())

	if got := c.CurrentURL(); got != live.URL() {
		t.Fatalf("connected to %q, want %q", got, live.URL())
	}
	ev, _ := rec.wait(t, factory.EventConnected, 0, waitLimit)
	if ev.URL != live.URL() {
		t.Fatalf("EventConnected URL %q, want %q", ev.URL, live.URL())
	}
	// One pass: no 5 s delay was waited, the dead URL failed once.
	if st := c.Stats(); st.FailedAttempts != 1 || obs.count(dead.URL()) != 1 || obs.count(live.URL()) != 0 {
		t.Fatalf("failed attempts: stats %d, dead %d, live %d; want 1, 1, 0",
			st.FailedAttempts, obs.count(dead.URL()), obs.count(live.URL()))
	}
	t.Logf("connected to %s after %d failed attempt(s)", c.CurrentURL(), c.Stats().FailedAttempts)
}

// TestInitialConnectAllDownThenOneComesUp: every URL refuses; the second
// broker starts after the first pass failed, within the connect attempts,
// and the walk finds it on a later pass.
func TestInitialConnectAllDownThenOneComesUp(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{})
	b := broker(t, embedded.Options{})
	a.Kill()
	b.Kill()
	obs := newAttemptLog()
	f, _ := load(t, section("Test", a.URL()+","+b.URL(),
		"connect_attempt_count = 50", "connect_attempt_delay = 100", "connect_attempt_timeout = 2000"),
		factory.WithObserver(obs))

	type result struct {
		c   *factory.Connection
		err error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	go func() {
		c, err := f.CreateConnectionContext(ctx, "Test")
		done <- result{c, err}
	}()
	// Both URLs have failed once: the first pass is over.
	obs.waitFailed(t, b.URL(), 1, waitLimit)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("connect: %v", r.err)
	}
	defer r.c.Close()
	if got := r.c.CurrentURL(); got != b.URL() {
		t.Fatalf("connected to %q, want %q", got, b.URL())
	}
	st := r.c.Stats()
	// Passes before the start: a and b each failed; after it, at most a
	// failed once more before b answered.
	if fa, fb := obs.count(a.URL()), obs.count(b.URL()); fa < 1 || fb < 1 || fa > fb+1 || uint64(fa+fb) != st.FailedAttempts {
		t.Fatalf("failed attempts a=%d b=%d stats=%d: not a walk in URL order", fa, fb, st.FailedAttempts)
	}
	t.Logf("connected to the late broker after %d failed attempts (a: %d, b: %d)",
		st.FailedAttempts, obs.count(a.URL()), obs.count(b.URL()))
	if err := r.c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestInitialConnectAllDownNamesEveryURL: nothing comes up; the connect
// gives up after its attempts with an error naming every URL and its cause.
func TestInitialConnectAllDownNamesEveryURL(t *testing.T) {
	verifyNoLeaks(t)
	const passes = 3
	bs := []*embedded.Broker{broker(t, embedded.Options{}), broker(t, embedded.Options{}), broker(t, embedded.Options{})}
	var list []string
	for _, b := range bs {
		b.Kill()
		list = append(list, b.URL())
	}
	f, _ := load(t, section("Test", strings.Join(list, ","),
		"connect_attempt_count = 3", "connect_attempt_delay = 20", "connect_attempt_timeout = 2000"))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, err := f.CreateConnectionContext(ctx, "Test")
	if err == nil {
		c.Close()
		t.Fatal("connected with every broker down")
	}
	var ce *factory.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v, want *factory.ConnectError", err, err)
	}
	if ce.Phase != "connect" || ce.Passes != passes || ce.Permanent || ce.Budget || len(ce.Errors) != passes*len(list) {
		t.Fatalf("ConnectError phase=%q passes=%d permanent=%v budget=%v errors=%d; want connect, %d, false, false, %d",
			ce.Phase, ce.Passes, ce.Permanent, ce.Budget, len(ce.Errors), passes, passes*len(list))
	}
	msg := err.Error()
	for i, u := range list {
		if !strings.Contains(msg, u) {
			t.Errorf("error does not name %s: %s", u, msg)
		}
		// Tried in URL order on every pass.
		for p := 0; p < passes; p++ {
			if got := ce.Errors[p*len(list)+i].URL; got != u {
				t.Errorf("attempt %d of pass %d went to %s, want %s", i+1, p+1, got, u)
			}
		}
	}
	if !strings.Contains(msg, "refused") || !strings.Contains(msg, "after 3 attempts") {
		t.Errorf("error does not say why or how often: %s", msg)
	}
	t.Logf("error: %v", err)
}

// TestAMQInitialConnect is scenario 4 on two independent ActiveMQ brokers:
// the same three cases with real processes killed and started.
func TestAMQInitialConnect(t *testing.T) {
	e := brokers.Require(t, brokers.AMQ1, brokers.AMQ2)
	t.Cleanup(func() {
		restoreBroker(t, e, brokers.AMQ1)
		restoreBroker(t, e, brokers.AMQ2)
	})
	u1, u2 := "tcp://"+e.Addr(brokers.AMQ1), "tcp://"+e.Addr(brokers.AMQ2)
	obs := newAttemptLog()
	f, _ := load(t,
		section("FirstDown", u1+","+u2, "connect_attempt_count = 3", "connect_attempt_delay = 5000", "connect_attempt_timeout = 10000")+
			section("AllDown", u1+","+u2, "connect_attempt_count = 3", "connect_attempt_delay = 200", "connect_attempt_timeout = 10000")+
			section("Patient", u1+","+u2, "connect_attempt_count = 240", "connect_attempt_delay = 500", "connect_attempt_timeout = 10000"),
		factory.WithObserver(obs))

	e.Ctl(t, brokers.AMQ1, "kill9")
	t.Run("first down, second up", func(t *testing.T) {
		before := obs.count(u1)
		c := connect(t, f, "FirstDown", amqLimit)
		if got := c.CurrentURL(); got != u2 {
			t.Fatalf("connected to %q, want %q", got, u2)
		}
		if n := obs.count(u1) - before; n != 1 {
			t.Fatalf("the dead URL failed %d times, want 1 (one pass)", n)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	})

	e.Ctl(t, brokers.AMQ2, "kill9")
	t.Run("all down for longer", func(t *testing.T) {
		ce := connectErr(t, f, "AllDown")
		if ce.Passes != 3 || ce.Permanent || len(ce.Errors) != 6 {
			t.Fatalf("passes=%d permanent=%v errors=%d; want 3, false, 6: %v", ce.Passes, ce.Permanent, len(ce.Errors), ce)
		}
		for _, u := range []string{u1, u2} {
			if !strings.Contains(ce.Error(), u) {
				t.Errorf("error does not name %s: %v", u, ce)
			}
		}
		t.Logf("all down: %v", ce)
	})
	t.Run("all down, then one comes up", func(t *testing.T) {
		type result struct {
			c   *factory.Connection
			err error
		}
		done := make(chan result, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		before := obs.count(u2)
		go func() {
			c, err := f.CreateConnectionContext(ctx, "Patient")
			done <- result{c, err}
		}()
		obs.waitFailed(t, u2, before+1, amqLimit) // a full pass failed
		e.Ctl(t, brokers.AMQ1, "start")
		r := <-done
		if r.err != nil {
			t.Fatalf("connect: %v", r.err)
		}
		defer r.c.Close()
		if got := r.c.CurrentURL(); got != u1 {
			t.Fatalf("connected to %q, want the restarted %q", got, u1)
		}
		t.Logf("connected to %s after %d failed attempts", u1, r.c.Stats().FailedAttempts)
	})
}
