package integration

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/tests/faultproxy"
)

// Scenario 6: network faults injected by tests/faultproxy between the
// factory and an embedded broker.

// proxy starts a fault proxy in front of target, closed at the end.
func proxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func proxyURL(p *faultproxy.Proxy) string { return "tcp://" + p.Addr() }

// connectErr creates a connection that must fail and returns its
// *factory.ConnectError.
func connectErr(t *testing.T, f *factory.Factory, name string) *factory.ConnectError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, err := f.CreateConnectionContext(ctx, name)
	if err == nil {
		_ = c.Close()
		t.Fatalf("%s connected; want a failure", name)
	}
	var ce *factory.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v, want *factory.ConnectError", err, err)
	}
	return ce
}

// TestFaultDeafBroker: a broker that accepts TCP and never answers CONNECT
// costs one attempt timeout per attempt, never a hang; the walk goes on to
// the next URL.
func TestFaultDeafBroker(t *testing.T) {
	verifyNoLeaks(t)
	live := broker(t, embedded.Options{})
	deaf := proxy(t, live.Addr())
	if err := deaf.SetMode(faultproxy.AcceptNoAnswer); err != nil {
		t.Fatal(err)
	}
	obs := newAttemptLog()
	f, _ := load(t,
		section("Deaf", proxyURL(deaf), "connect_attempt_count = 2", "connect_attempt_delay = 10", "connect_attempt_timeout = 1000")+
			section("DeafThenLive", proxyURL(deaf)+","+live.URL(), "connect_attempt_count = 2", "connect_attempt_delay = 10", "connect_attempt_timeout = 1000"),
		factory.WithObserver(obs))

	t.Run("alone", func(t *testing.T) {
		ce := connectErr(t, f, "Deaf")
		if ce.Passes != 2 || ce.Permanent || len(ce.Errors) != 2 {
			t.Fatalf("passes=%d permanent=%v errors=%d; want 2, false, 2: %v", ce.Passes, ce.Permanent, len(ce.Errors), ce)
		}
		for _, ue := range ce.Errors {
			if !errors.Is(ue.Err, context.DeadlineExceeded) || !strings.Contains(ue.Err.Error(), "CONNECTED") {
				t.Errorf("attempt error %v: want a timeout waiting for CONNECTED", ue.Err)
			}
		}
		if got := deaf.Accepted(); got != 2 {
			t.Fatalf("deaf broker accepted %d connections, want 2 (one per attempt)", got)
		}
		t.Logf("deaf alone: %v", ce)
	})
	t.Run("then live", func(t *testing.T) {
		before := obs.count(proxyURL(deaf))
		c := connect(t, f, "DeafThenLive", waitLimit)
		if got := c.CurrentURL(); got != live.URL() {
			t.Fatalf("connected to %q, want %q", got, live.URL())
		}
		if n := obs.count(proxyURL(deaf)) - before; n != 1 {
			t.Fatalf("deaf URL failed %d times in this walk, want 1", n)
		}
	})
}

// TestFaultBlackholeMidSession: the network silently stops forwarding an
// established session (no RST, no FIN). Only heart-beats can tell: the
// session ends with ErrHeartbeatTimeout, the connection reconnects and the
// subscription delivers again. The mini engine is used because it, too,
// drops the silent client after its heart-beat deadline and requeues what
// that client had not acknowledged (go-stomp's server would keep
// delivering into the black hole).
func TestFaultBlackholeMidSession(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{HeartBeat: 500 * time.Millisecond, Engine: embedded.EngineMini})
	p := proxy(t, b.Addr())
	rec := newRecorder()
	f, _ := load(t, section("Test", proxyURL(p),
		"heartbeat = 500,500", "heartbeat_grace = 2",
		"reconnect_attempt_count = 20", "reconnect_attempt_delay = 50", "reconnect_attempt_timeout = 2000",
		"reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0", "send_timeout = 15000"))
	c := connect(t, f, "Test", waitLimit, rec.option())
	info, _ := c.ServerInfo()
	if info.RecvBeat <= 0 {
		t.Fatalf("no heart-beat negotiated: %+v", info)
	}
	q := uniqueQueue(t)
	sub, err := c.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(q, "text/plain", []byte("before"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m := receive(t, sub, waitLimit)
	if string(m.Body) != "before" {
		t.Fatalf("got %q", m.Body)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
	// A receipt proves the broker has read the ACK written before it.
	if err := c.Send(q+".barrier", "text/plain", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	p.BlackholeAll()
	ev, next := rec.wait(t, factory.EventDisconnected, 0, waitLimit)
	detected := time.Since(start)
	if !errors.Is(ev.Err, factory.ErrHeartbeatTimeout) {
		t.Fatalf("disconnected by %v, want ErrHeartbeatTimeout", ev.Err)
	}
	ev, _ = rec.wait(t, factory.EventReconnected, next, waitLimit)
	t.Logf("blackhole detected after %v (receive beat %v × grace 2); reconnected, reported downtime %v",
		detected.Round(time.Millisecond), info.RecvBeat, ev.Downtime)
	if ev.URL != proxyURL(p) {
		t.Fatalf("reconnected to %q", ev.URL)
	}
	// The downtime is part of the time since the blackhole began.
	if elapsed := time.Since(start); ev.Downtime < 0 || ev.Downtime > elapsed {
		t.Errorf("reported downtime %v, but only %v passed since the blackhole", ev.Downtime, elapsed)
	}
	if err := c.Send(q, "text/plain", []byte("after"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m = receive(t, sub, waitLimit)
	if string(m.Body) != "after" {
		t.Fatalf("got %q after the reconnect", m.Body)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Stats().Received == 2", waitLimit, func() bool { return c.Stats().Received == 2 })
	if st := c.Stats(); st.Reconnects < 1 || st.Received != 2 {
		t.Fatalf("reconnects=%d received=%d, want >= 1 and 2", st.Reconnects, st.Received)
	}
}

// TestFaultPartialFrame: a connection reset in the middle of a frame.
func TestFaultPartialFrame(t *testing.T) {
	verifyNoLeaks(t)

	// A CONNECTED cut after 8 bytes fails that attempt (retryable) and the
	// walk takes the next URL.
	t.Run("CONNECTED", func(t *testing.T) {
		b := broker(t, embedded.Options{})
		p := proxy(t, b.Addr())
		p.CutAfter(8)
		obs := newAttemptLog()
		f, _ := load(t, section("Test", proxyURL(p)+","+b.URL(), "connect_attempt_count = 2", "connect_attempt_timeout = 5000"),
			factory.WithObserver(obs))
		c := connect(t, f, "Test", waitLimit)
		if got := c.CurrentURL(); got != b.URL() {
			t.Fatalf("connected to %q, want %q", got, b.URL())
		}
		if n := obs.count(proxyURL(p)); n != 1 {
			t.Fatalf("cut URL failed %d times, want 1", n)
		}
	})

	// A MESSAGE cut in the middle of its body: the application never sees
	// the torn frame; after the reconnect the broker redelivers it whole.
	t.Run("MESSAGE", func(t *testing.T) {
		b := broker(t, embedded.Options{Engine: embedded.EngineMini})
		p := proxy(t, b.Addr())
		// CONNECTED is far below 4 KiB; the 64 KiB body is cut inside.
		p.CutAfter(4096)
		rec := newRecorder()
		f, _ := load(t,
			section("Consumer", proxyURL(p), "heartbeat = 0,0",
				"reconnect_attempt_count = 20", "reconnect_attempt_delay = 20", "reconnect_spread = 0", "reconnect_jitter = none")+
				section("Producer", b.URL(), "heartbeat = 0,0"))
		cons := connect(t, f, "Consumer", waitLimit, rec.option())
		p.CutAfter(-1) // reconnections are clean
		prod := connect(t, f, "Producer", waitLimit)
		q := uniqueQueue(t)
		sub, err := cons.Subscribe(q, stomp.AckClientIndividual)
		if err != nil {
			t.Fatal(err)
		}
		body := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		if err := prod.Send(q, "application/octet-stream", body, stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		ev, next := rec.wait(t, factory.EventDisconnected, 0, waitLimit)
		t.Logf("torn MESSAGE ended the session: %v", ev.Err)
		rec.wait(t, factory.EventResubscribed, next, waitLimit)
		m := receive(t, sub, waitLimit)
		if !bytes.Equal(m.Body, body) {
			t.Fatalf("got a %d-byte body, want the whole %d bytes", len(m.Body), len(body))
		}
		if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
		eventually(t, "Stats().Received == 1", waitLimit, func() bool { return cons.Stats().Received == 1 })
		if st := cons.Stats(); st.Received != 1 || st.Reconnects != 1 {
			t.Fatalf("received=%d reconnects=%d, want 1 and 1", st.Received, st.Reconnects)
		}
	})
}

// TestFaultSlowConnected: CONNECTED delayed to just under the attempt
// timeout connects; delayed past it, the attempt times out and the walk
// goes to the next URL.
func TestFaultSlowConnected(t *testing.T) {
	verifyNoLeaks(t)
	const timeout = 1500 * time.Millisecond
	b := broker(t, embedded.Options{})
	p := proxy(t, b.Addr())
	obs := newAttemptLog()
	keys := []string{"connect_attempt_count = 1", "connect_attempt_timeout = 1500", "heartbeat = 0,0"}
	f, _ := load(t, section("Slow", proxyURL(p), keys...)+section("SlowThenDirect", proxyURL(p)+","+b.URL(), keys...),
		factory.WithObserver(obs), factory.WithDisconnectTimeout(3*time.Second))

	under, over := timeout*2/3, timeout*4/3
	t.Run("under", func(t *testing.T) {
		p.SetDelay(under)
		defer p.SetDelay(0)
		start := time.Now()
		c := connect(t, f, "Slow", waitLimit)
		took := time.Since(start)
		if got := c.CurrentURL(); got != proxyURL(p) {
			t.Fatalf("connected to %q", got)
		}
		if took < under {
			t.Fatalf("connected in %v: the delay was not applied", took)
		}
		t.Logf("CONNECTED delayed %v, attempt timeout %v: connected in %v", under, timeout, took.Round(time.Millisecond))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("over", func(t *testing.T) {
		p.SetDelay(over)
		defer p.SetDelay(0)
		ce := connectErr(t, f, "Slow")
		if len(ce.Errors) != 1 || !errors.Is(ce.Errors[0].Err, context.DeadlineExceeded) {
			t.Fatalf("want one timed-out attempt, got %v", ce)
		}
		t.Logf("CONNECTED delayed %v: %v", over, ce)
		before := obs.count(proxyURL(p))
		c := connect(t, f, "SlowThenDirect", waitLimit)
		if got := c.CurrentURL(); got != b.URL() {
			t.Fatalf("connected to %q, want the next URL %q", got, b.URL())
		}
		if n := obs.count(proxyURL(p)) - before; n != 1 {
			t.Fatalf("slow URL failed %d times, want 1", n)
		}
	})
}

// TestFaultAcceptThenDrop: a broker that accepts and at once closes every
// connection. Each attempt is one connection; the reconnect backoff grows
// (multiplier 2, no jitter) and nothing loops hot.
func TestFaultAcceptThenDrop(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	p := proxy(t, b.Addr())
	const (
		attempts = 6
		base     = 20 * time.Millisecond
	)
	f, _ := load(t, section("Test", proxyURL(p),
		"connect_attempt_count = 4", "connect_attempt_delay = 10", "connect_attempt_timeout = 2000",
		"reconnect_attempt_count = 6", "reconnect_attempt_delay = 20", "reconnect_attempt_timeout = 2000",
		"reconnect_backoff_multiplier = 2", "reconnect_jitter = none", "reconnect_spread = 0", "reconnect_max_delay = 0"))

	t.Run("connect", func(t *testing.T) {
		p.AcceptThenDrop()
		defer p.SetMode(faultproxy.Forward)
		before := p.Accepted()
		ce := connectErr(t, f, "Test")
		if ce.Passes != 4 || ce.Permanent {
			t.Fatalf("passes=%d permanent=%v, want 4, false", ce.Passes, ce.Permanent)
		}
		if n := p.Accepted() - before; n != 4 {
			t.Fatalf("%d connections accepted for 4 attempts", n)
		}
		t.Logf("connect: %v", ce)
	})

	t.Run("reconnect", func(t *testing.T) {
		rec := newRecorder()
		c := connect(t, f, "Test", waitLimit, rec.option())
		p.AcceptThenDrop()
		before := p.Accepted()
		p.CutAll()
		ev, _ := rec.wait(t, factory.EventFailed, 0, waitLimit)
		var ce *factory.ConnectError
		if !errors.As(ev.Err, &ce) || ce.Phase != "reconnect" || ce.Passes != attempts {
			t.Fatalf("final error %v, want a reconnect ConnectError after %d attempts", ev.Err, attempts)
		}
		accepted := p.Accepted() - before
		recs := rec.of(factory.EventReconnecting)
		delays := make([]time.Duration, len(recs)) // drawn by the policy
		for i, e := range recs {
			delays[i] = e.Drawn
			if e.Delay < e.Drawn {
				t.Errorf("attempt %d: waited %v, less than the %v drawn", i+1, e.Delay, e.Drawn)
			}
			if e.Attempt != i+1 {
				t.Errorf("reconnecting event %d says attempt %d", i+1, e.Attempt)
			}
		}
		t.Logf("reconnect delays %v; %d connections accepted for %d attempts", delays, accepted, len(recs))
		if len(recs) != attempts {
			t.Fatalf("%d reconnect attempts, want %d", len(recs), attempts)
		}
		// Attempt 1 at once (no spread), then base × 2^(n-2): always growing.
		for i := 1; i < len(delays); i++ {
			want := base << (i - 1)
			if delays[i] != want {
				t.Errorf("delay before attempt %d = %v, want %v", i+1, delays[i], want)
			}
			if delays[i] <= delays[i-1] {
				t.Errorf("delay before attempt %d (%v) did not grow from %v", i+1, delays[i], delays[i-1])
			}
		}
		// No hot loop: one connection per attempt, nothing in between.
		if accepted != attempts {
			t.Fatalf("%d connections accepted during %d attempts", accepted, attempts)
		}
		if err := c.Send("/queue/x", "", nil); err == nil {
			t.Fatal("Send on a failed connection succeeded")
		}
	})
}

// slowCloseConn is a connection whose Close blocks until release is closed
// (bounded by a timer), like a TLS close_notify stuck on a full send
// buffer in a partitioned network.
type slowCloseConn struct {
	net.Conn
	release <-chan struct{}
	once    sync.Once
}

func (c *slowCloseConn) Close() error {
	c.once.Do(func() {
		t := time.NewTimer(3 * time.Second)
		defer t.Stop()
		select {
		case <-c.release:
		case <-t.C:
		}
	})
	return c.Conn.Close()
}

// TestReconnectWhileOldSocketCloses: closing the lost socket takes a while
// (see slowCloseConn); the reconnect must still account for the loss: the
// downtime it reports lies within the time since the loss, and a receipt
// send in flight on the lost session ends with ErrInDoubt at once, not at
// send_timeout. The first connection's Close is held until the
// reconnection is announced (or 3 s).
func TestReconnectWhileOldSocketCloses(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	p := proxy(t, b.Addr())
	reconnected := make(chan struct{})
	var once sync.Once
	var dials atomic.Int64
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || dials.Add(1) != 1 {
			return c, err
		}
		return &slowCloseConn{Conn: c, release: reconnected}, nil
	}
	rec := newRecorder()
	handler := func(e factory.Event) {
		rec.handle(e)
		if e.Kind == factory.EventReconnected {
			once.Do(func() { close(reconnected) })
		}
	}
	f, _ := load(t, section("Test", proxyURL(p), "heartbeat = 0,0",
		"reconnect_attempt_count = 20", "reconnect_attempt_delay = 50", "reconnect_attempt_timeout = 2000",
		"reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0", "send_timeout = 60000"),
		factory.WithDialer(dialer))
	c := connect(t, f, "Test", waitLimit, factory.WithEventHandler(handler))

	// A receipt send in flight: written, its receipt swallowed.
	p.BlackholeAll()
	sent := make(chan error, 1)
	go func() { sent <- c.Send(uniqueQueue(t), "text/plain", []byte("in doubt"), stomp.SendOpt.Receipt) }()
	deadline := time.Now().Add(waitLimit)
	for c.Stats().Sent != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the receipt send was not written")
		}
		time.Sleep(time.Millisecond) // polling a condition, bounded above
	}

	start := time.Now()
	p.CutAll()
	ev, _ := rec.wait(t, factory.EventReconnected, 0, waitLimit)
	elapsed := time.Since(start)
	t.Logf("reconnected to %s; reported downtime %v, %v since the loss", ev.URL, ev.Downtime, elapsed)
	if ev.Downtime < 0 || ev.Downtime > elapsed {
		t.Errorf("reported downtime %v, but only %v passed since the loss", ev.Downtime, elapsed)
	}
	if st := c.Stats(); st.LastDowntime > elapsed {
		t.Errorf("Stats().LastDowntime %v > %v since the loss", st.LastDowntime, elapsed)
	}
	// send_timeout is 60 s: an answer within the wait limit comes from the
	// loss, not from the timeout.
	select {
	case err := <-sent:
		if !errors.Is(err, factory.ErrInDoubt) {
			t.Errorf("receipt send across the loss: %v, want ErrInDoubt", err)
		}
		t.Logf("receipt send across the loss: %v", err)
	case <-time.After(waitLimit):
		t.Errorf("receipt send written on the lost session still waiting %v after the loss (send_timeout 60s): the loss was not applied to it", waitLimit)
	}
}

// Faults of the broker itself, from factorytest (the public test kit), on
// a shared-store pair: what an application rehearses in its own tests.

// TestKitFrozenPrimary: a primary that stops (SIGSTOP) keeps its sockets
// open and silent; the heart-beat check notices, the connection moves to
// the backup, where the subscription carries on.
func TestKitFrozenPrimary(t *testing.T) {
	verifyNoLeaks(t)
	pair := factorytest.NewPair(t, factorytest.WithHeartBeat(200*time.Millisecond))
	rec := newRecorder()
	f, _ := load(t, pair.Conf("Test", "heartbeat = 200,200", "heartbeat_grace = 2"))
	c := connect(t, f, "Test", waitLimit, rec.option())
	q := uniqueQueue(t)
	sub, err := c.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pair.Primary.Freeze()
	ev, next := rec.wait(t, factory.EventDisconnected, 0, waitLimit)
	if !errors.Is(ev.Err, factory.ErrHeartbeatTimeout) {
		t.Fatalf("disconnected by %v, want ErrHeartbeatTimeout", ev.Err)
	}
	t.Logf("frozen primary detected after %v", time.Since(start).Round(time.Millisecond))
	ev, _ = rec.wait(t, factory.EventReconnected, next, waitLimit)
	if ev.URL != pair.Backup.URL() {
		t.Fatalf("reconnected to %s, want the backup %s", ev.URL, pair.Backup.URL())
	}
	if err := c.Send(q, "text/plain", []byte("after"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m := receive(t, sub, waitLimit)
	if string(m.Body) != "after" {
		t.Fatalf("got %q on the backup", m.Body)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
}

// TestKitTornMessageOnThePrimary: the primary dies in the middle of
// writing a MESSAGE; the consumer never sees the torn frame and gets the
// message whole from the backup (unacknowledged, so requeued in the
// shared store).
func TestKitTornMessageOnThePrimary(t *testing.T) {
	verifyNoLeaks(t)
	pair := factorytest.NewPair(t)
	rec := newRecorder()
	f, _ := load(t, pair.Conf("Consumer", "heartbeat = 0,0")+section("Producer", pair.Backup.URL(), "heartbeat = 0,0"))
	cons := connect(t, f, "Consumer", waitLimit, rec.option())
	prod := connect(t, f, "Producer", waitLimit)
	q := uniqueQueue(t)
	sub, err := cons.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	// A receipt proves the SUBSCRIBE was read before the cut is armed, so
	// the next frame the primary writes is the MESSAGE.
	if err := cons.Send(q+".barrier", "text/plain", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	pair.Primary.CutMidFrame()
	pair.Primary.Refuse() // the primary stays away: the consumer goes to the backup
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	if err := prod.Send(q, "application/octet-stream", body, stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	ev, _ := rec.wait(t, factory.EventDisconnected, 0, waitLimit)
	t.Logf("torn MESSAGE ended the session: %v", ev.Err)
	m := receive(t, sub, waitLimit)
	if !bytes.Equal(m.Body, body) {
		t.Fatalf("got a %d-byte body, want the whole %d bytes", len(m.Body), len(body))
	}
	if m.Header.Get("redelivered") != "true" {
		t.Errorf("redelivered = %q, want true", m.Header.Get("redelivered"))
	}
	if err := cons.Ack(m); err != nil {
		t.Fatal(err)
	}
}
