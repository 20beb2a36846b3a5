package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/tests/brokers"
)

// Scenarios 1 and 2 on the ActiveMQ shared-store master/slave pair.

// amqLimit bounds single waits on ActiveMQ (a JVM start and a lock
// takeover take seconds, more on a loaded machine).
const amqLimit = 90 * time.Second

// stompAlive tells whether addr answers a STOMP CONNECT within timeout.
func stompAlive(addr string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c, err := stomp.ConnectWithContext(ctx, nc, stomp.ConnOpt.Host("/"), stomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		_ = nc.Close()
		return false
	}
	_ = c.Disconnect()
	return true
}

// pairRoles returns which pair instance is the master now (earlier tests
// may have swapped them) and which the slave.
func pairRoles(t *testing.T, e *brokers.Env) (master, slave string) {
	t.Helper()
	deadline := time.Now().Add(amqLimit)
	for {
		for _, m := range []string{brokers.AMQMaster, brokers.AMQSlave} {
			if stompAlive(e.Addr(m), 3*time.Second) {
				if m == brokers.AMQMaster {
					return brokers.AMQMaster, brokers.AMQSlave
				}
				return brokers.AMQSlave, brokers.AMQMaster
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("neither ActiveMQ pair instance answers CONNECT")
		}
		// Between takeovers: poll again (bounded by the deadline above).
		time.Sleep(200 * time.Millisecond)
	}
}

// restorePair brings a killed or frozen pair instance back as the slave.
func restorePair(t *testing.T, e *brokers.Env, name string) {
	if _, err := e.CtlErr(name, "pid"); err == nil {
		_, _ = e.CtlErr(name, "thaw") // harmless when not frozen
		return
	}
	if out, err := e.CtlErr(name, "start"); err != nil {
		t.Logf("restore %s: %v: %s", name, err, out)
		return
	}
	if out, err := e.CtlErr(name, "wait-slave", "120"); err != nil {
		t.Logf("restore %s: %v: %s", name, err, out)
	}
}

// pairConf is a factory on both pair instances, in fixed order: whichever
// holds the lock answers.
func pairConf(e *brokers.Env, name string, keys ...string) string {
	return section(name, "tcp://"+e.Addr(brokers.AMQMaster)+",tcp://"+e.Addr(brokers.AMQSlave), append([]string{
		"heartbeat = 1000,1000", "heartbeat_grace = 2",
		"connect_attempt_count = 10", "connect_attempt_delay = 500", "connect_attempt_timeout = 5000",
		"reconnect_attempt_count = 600", "reconnect_attempt_delay = 100", "reconnect_attempt_timeout = 3000",
		"reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0",
		"send_timeout = 120000",
	}, keys...)...)
}

// delivery is what the consumer saw of one message.
type delivery struct {
	index int
	msgID string
}

// TestAMQPairKillNineTwice is scenario 1: a tracked producer sends 5 000
// persistent messages while the master is killed with SIGKILL twice (the
// first victim restarted as the new slave in between); a consumer on the
// same factory acks each message. Every message arrives at least once,
// none is lost, and every duplicate carries a stompft-msg-id already seen.
func TestAMQPairKillNineTwice(t *testing.T) {
	e := brokers.Require(t, brokers.AMQMaster, brokers.AMQSlave)
	t.Cleanup(func() {
		restorePair(t, e, brokers.AMQMaster)
		restorePair(t, e, brokers.AMQSlave)
	})
	const total = 5000
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	first, second := pairRoles(t, e)
	f, _ := load(t, pairConf(e, "Pair", "track_messages = true"))
	prodRec, consRec := newRecorder(), newRecorder()
	prod := connect(t, f, "Pair", amqLimit, prodRec.option())
	cons := connect(t, f, "Pair", amqLimit, consRec.option())
	q := uniqueQueue(t)
	sub, err := cons.SubscribeContext(ctx, q, stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}

	// Consumer: record every delivery, ack it (a stale ack is fine: the
	// broker redelivers), until every index has arrived.
	var (
		mu         sync.Mutex
		deliveries []delivery
		seen       = map[int]bool{}
		staleAcks  int
		consErr    error
	)
	allIn := make(chan struct{})
	consDone := make(chan struct{})
	go func() {
		defer close(consDone)
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-sub.C:
				if !ok {
					return
				}
				if m.Err != nil {
					mu.Lock()
					consErr = m.Err
					mu.Unlock()
					return
				}
				i, err := strconv.Atoi(string(m.Body))
				mu.Lock()
				if err != nil || i < 0 || i >= total || m.MsgID() == "" {
					consErr = fmt.Errorf("unexpected message %q (msg-id %q)", m.Body, m.MsgID())
					mu.Unlock()
					return
				}
				deliveries = append(deliveries, delivery{i, m.MsgID()})
				seen[i] = true
				complete := len(seen) == total
				mu.Unlock()
				if err := cons.Ack(m); err != nil {
					if !errors.Is(err, factory.ErrStaleAck) {
						mu.Lock()
						consErr = fmt.Errorf("ack: %w", err)
						mu.Unlock()
						return
					}
					mu.Lock()
					staleAcks++
					mu.Unlock()
				}
				if complete {
					close(allIn)
					return
				}
			}
		}
	}()
	defer func() { cancel(); <-consDone }()

	// Producer: its own goroutine, pausing at 1/3 and 2/3 until the kill is
	// done, so that the sends after it run into the failover.
	var sent atomic.Int64
	reached := []chan struct{}{make(chan struct{}), make(chan struct{})}
	killed := []chan struct{}{make(chan struct{}), make(chan struct{})}
	prodDone := make(chan error, 1)
	go func() {
		for i := 0; i < total; i++ {
			for k, at := range []int{total / 3, 2 * total / 3} {
				if i == at {
					close(reached[k])
					select {
					case <-killed[k]:
					case <-ctx.Done():
						prodDone <- ctx.Err()
						return
					}
				}
			}
			if err := prod.SendContext(ctx, q, "text/plain", []byte(strconv.Itoa(i)), stomp.SendOpt.Header("persistent", "true")); err != nil {
				prodDone <- fmt.Errorf("send %d: %w", i, err)
				return
			}
			sent.Add(1)
		}
		prodDone <- prod.Flush(ctx)
	}()

	// waitCh waits for ch or the test's context.
	waitCh := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%s: %v (sent %d)", what, ctx.Err(), sent.Load())
		case err := <-prodDone:
			t.Fatalf("%s: producer ended early: %v (sent %d)", what, err, sent.Load())
		}
	}
	start := time.Now()
	var downtimes []string
	victims := []string{first, second}
	for k, victim := range victims {
		waitCh(reached[k], fmt.Sprintf("producer reaching kill %d", k+1))
		n := prodRec.len()
		e.Ctl(t, victim, "kill9")
		t.Logf("kill %d: %s (master) killed after %d sends, %v in", k+1, victim, sent.Load(), time.Since(start).Round(time.Millisecond))
		close(killed[k])
		ev, _ := prodRec.wait(t, factory.EventReconnected, n, amqLimit)
		t.Logf("kill %d: producer reconnected to %s after %v", k+1, ev.URL, ev.Downtime.Round(time.Millisecond))
		downtimes = append(downtimes, ev.Downtime.Round(time.Millisecond).String())
		if survivor := "tcp://" + e.Addr(victims[1-k]); ev.URL != survivor {
			t.Fatalf("kill %d: producer reconnected to %s, want the new master %s", k+1, ev.URL, survivor)
		}
		// The victim comes back as the new slave.
		e.Ctl(t, victim, "start")
		e.Ctl(t, victim, "wait-slave", "120")
	}
	select {
	case err := <-prodDone:
		if err != nil {
			t.Fatalf("producer: %v (sent %d)", err, sent.Load())
		}
	case <-ctx.Done():
		t.Fatalf("producer: %v (sent %d of %d)", ctx.Err(), sent.Load(), total)
	}
	select {
	case <-allIn:
	case <-consDone:
	case <-ctx.Done():
	}

	mu.Lock()
	defer mu.Unlock()
	if consErr != nil {
		t.Fatalf("consumer: %v", consErr)
	}
	perIndex := map[int]int{}
	perMsgID := map[string]int{}
	idOf := map[int]string{}
	for _, d := range deliveries {
		perIndex[d.index]++
		perMsgID[d.msgID]++
		if id, ok := idOf[d.index]; ok && id != d.msgID {
			t.Errorf("message %d arrived with two stompft-msg-ids %s and %s: a duplicate not recognisable", d.index, id, d.msgID)
		}
		idOf[d.index] = d.msgID
	}
	lost := 0
	for i := 0; i < total; i++ {
		if perIndex[i] == 0 {
			lost++
		}
	}
	dupIDs := 0
	for _, n := range perMsgID {
		if n > 1 {
			dupIDs++
		}
	}
	ps, cs := prod.Stats(), cons.Stats()
	t.Logf("sent %d, received %d distinct, %d deliveries: %d duplicates (%d stompft-msg-ids delivered more than once), %d lost",
		total, len(perIndex), len(deliveries), len(deliveries)-len(perIndex), dupIDs, lost)
	summary(t, e, "amq-pair: sent=%d received=%d deliveries=%d duplicates=%d (repeated stompft-msg-id: %d) lost=%d kills=2",
		total, len(perIndex), len(deliveries), len(deliveries)-len(perIndex), dupIDs, lost)
	summary(t, e, "amq-pair failover times (producer downtime): [%s]", strings.Join(downtimes, ", "))
	t.Logf("producer: %d reconnects, %d replayed, %d in flight; consumer: %d reconnects, %d received, %d acked, %d stale acks; took %v",
		ps.Reconnects, ps.Replayed, ps.InFlight, cs.Reconnects, cs.Received, cs.Acked, staleAcks, time.Since(start).Round(time.Millisecond))
	if lost != 0 || len(perIndex) != total {
		t.Fatalf("%d of %d messages lost", lost, total)
	}
	if len(perMsgID) != total {
		t.Fatalf("%d distinct stompft-msg-ids for %d messages", len(perMsgID), total)
	}
	for who, r := range map[string]*recorder{"producer": prodRec, "consumer": consRec} {
		for _, ev := range r.of(factory.EventDisconnected) {
			t.Logf("%s lost %s at %s: %v", who, ev.URL, ev.Time.Format("15:04:05.000"), ev.Err)
		}
	}
	// Two kills, two reconnects at least (a loaded machine may add a
	// heart-beat loss); nothing left unconfirmed.
	if ps.Reconnects < 2 || ps.InFlight != 0 {
		t.Fatalf("producer reconnects=%d in flight=%d, want >= 2 and 0", ps.Reconnects, ps.InFlight)
	}
}

// TestAMQFrozenMaster is scenario 2: the master is frozen (SIGSTOP): its
// port still accepts TCP but nothing answers. Heart-beats detect it within
// interval × grace; attempts to it time out instead of hanging; once the
// slave takes over (the frozen master is then killed, releasing the lock)
// the client reaches the slave, where the persistent message sent before
// the freeze is waiting.
func TestAMQFrozenMaster(t *testing.T) {
	e := brokers.Require(t, brokers.AMQMaster, brokers.AMQSlave)
	master, slave := pairRoles(t, e)
	t.Cleanup(func() { restorePair(t, e, master) })
	mURL, sURL := "tcp://"+e.Addr(master), "tcp://"+e.Addr(slave)
	obs := newAttemptLog()
	f, _ := load(t, pairConf(e, "Pair", "reconnect_attempt_timeout = 1000"), factory.WithObserver(obs))
	rec := newRecorder()
	c := connect(t, f, "Pair", amqLimit, rec.option())
	if got := c.CurrentURL(); got != mURL {
		t.Fatalf("connected to %q, want the master %q", got, mURL)
	}
	info, _ := c.ServerInfo()
	if info.RecvBeat <= 0 {
		t.Fatalf("ActiveMQ negotiated no heart-beat: %+v", info)
	}
	q := uniqueQueue(t)
	if err := c.Send(q, "text/plain", []byte("before the freeze"), stomp.SendOpt.Header("persistent", "true"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}

	bound := time.Duration(float64(info.RecvBeat) * 2) // heartbeat_grace = 2
	start := time.Now()
	e.Ctl(t, master, "freeze")
	ev, next := rec.wait(t, factory.EventDisconnected, 0, amqLimit)
	detected := time.Since(start)
	if !errors.Is(ev.Err, factory.ErrHeartbeatTimeout) {
		t.Fatalf("lost by %v, want ErrHeartbeatTimeout", ev.Err)
	}
	t.Logf("frozen master detected after %v (beat %v × grace 2 = %v): %v", detected.Round(time.Millisecond), info.RecvBeat, bound, ev.Err)
	// Generous slack for a loaded machine; a missing heart-beat check would
	// never fire at all.
	if detected > bound+5*time.Second {
		t.Fatalf("detection took %v, bound %v", detected, bound)
	}
	// The walk keeps going: the frozen master times out, the slave refuses.
	obs.waitFailed(t, mURL, 1, amqLimit)
	obs.waitFailed(t, sURL, 1, amqLimit)
	if c.Stats().State != factory.StateReconnecting {
		t.Fatalf("state %s while the master is frozen", c.Stats().State)
	}

	// The frozen process holds the KahaDB lock; killing it lets the slave
	// take over.
	e.Ctl(t, master, "kill9")
	ev, _ = rec.wait(t, factory.EventReconnected, next, amqLimit)
	if ev.URL != sURL {
		t.Fatalf("reconnected to %q, want the slave %q", ev.URL, sURL)
	}
	t.Logf("reached the slave %s; downtime %v; %d failed attempts on the frozen master, %d on the slave",
		ev.URL, ev.Downtime.Round(time.Millisecond), obs.count(mURL), obs.count(sURL))
	sub, err := c.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	m := receive(t, sub, amqLimit)
	if string(m.Body) != "before the freeze" {
		t.Fatalf("got %q from the new master", m.Body)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
	e.Ctl(t, master, "start")
	e.Ctl(t, master, "wait-slave", "120")
}
