package factory

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/internal/embedded"
)

// TestTrackedSendsSurviveRepeatedKills: a tracked producer and a
// deduplicating consumer on one shared-store pair; the live broker is killed
// three times mid-stream. Every message arrives, none is lost, and the only
// duplicates are ones carrying a repeated stompft-msg-id (dropped).
func TestTrackedSendsSurviveRepeatedKills(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "track_messages = true", "max_cache_size = 65536")
	f := load(t, conf(urls(primary, backup), keys...))
	prod := connect(t, f)
	cons := connect(t, f)
	sub, err := cons.Subscribe("/queue/tracked", stomp.AckClientIndividual, DropDuplicates(0))
	if err != nil {
		t.Fatal(err)
	}

	const total = 600
	var gotMu sync.Mutex
	got := map[int]int{}
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for m := range sub.C {
			if m.Err != nil {
				return
			}
			n, _ := strconv.Atoi(string(m.Body))
			gotMu.Lock()
			got[n]++
			all := len(got) == total
			gotMu.Unlock()
			_ = cons.Ack(m) // a stale ack is fine: the broker redelivers, dedup drops
			if all {
				return
			}
		}
	}()

	brokers := []*embedded.Broker{primary, backup}
	live := 0
	for i := 0; i < total; i++ {
		if i > 0 && i%(total/4) == 0 {
			// Kill whichever broker serves us; bring the other back first.
			other := brokers[1-live]
			if err := other.Start(); err != nil {
				t.Fatal(err)
			}
			brokers[live].Kill()
			live = 1 - live
		}
		if err := prod.Send("/queue/tracked", "text/plain", []byte(strconv.Itoa(i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	select {
	case <-recvDone:
	case <-time.After(waitLimit):
	}
	gotMu.Lock()
	defer gotMu.Unlock()
	lost := 0
	for i := 0; i < total; i++ {
		if got[i] == 0 {
			lost++
		}
		if got[i] > 1 {
			t.Errorf("message %d delivered %d times despite DropDuplicates", i, got[i])
		}
	}
	ps, cs := prod.Stats(), cons.Stats()
	t.Logf("sent %d, received %d distinct, lost %d, replayed %d, duplicates dropped %d, producer reconnects %d",
		total, len(got), lost, ps.Replayed, cs.DuplicatesDropped, ps.Reconnects)
	if lost != 0 {
		t.Fatalf("%d messages lost", lost)
	}
	if ps.Reconnects < 3 {
		t.Fatalf("producer reconnected %d times; the kills did not bite", ps.Reconnects)
	}
}

// receiptEater is a broker that accepts SENDs and never confirms them, then
// drops the connection: the only way to lose a receipt on purpose.
func receiptEater(t *testing.T) *scriptedBroker {
	return newScripted(t, func(cmd string, h map[string]string, w *bufio.Writer) bool {
		return cmd == "SEND" // hang up on the first SEND, its receipt unsent
	})
}

func TestReceiptLostMeansInDoubt(t *testing.T) {
	verifyNoLeaks(t)
	eater := receiptEater(t)
	good := broker(t, embedded.Options{})
	f := load(t, conf(eater.URL()+","+good.URL(), fastReconnect...))
	c := connect(t, f)
	err := c.Send("/queue/doubt", "", []byte("?"), stomp.SendOpt.Receipt)
	if !errors.Is(err, ErrInDoubt) {
		t.Fatalf("want ErrInDoubt, got %v", err)
	}
	if c.Stats().InDoubt != 1 {
		t.Fatalf("InDoubt = %d", c.Stats().InDoubt)
	}
	// A send that certainly did not leave is retried, not in doubt.
	eventually(t, "reconnect to the good broker", func() bool { return c.CurrentURL() == good.URL() })
	if err := c.Send("/queue/doubt", "", []byte("ok"), stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("send after failover: %v", err)
	}
}

func TestTrackedSendWithLostReceiptIsReplayedNotInDoubt(t *testing.T) {
	verifyNoLeaks(t)
	eater := receiptEater(t)
	good := broker(t, embedded.Options{})
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "track_messages = true")
	rec := newRecorder()
	f := load(t, conf(eater.URL()+","+good.URL(), keys...), rec.option())
	c := connect(t, f)
	sub := func() *Subscription {
		// Subscribe on a second connection straight to the good broker.
		f2 := load(t, conf(good.URL(), fastReconnect...))
		c2 := connect(t, f2)
		s, err := c2.Subscribe("/queue/replay", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	if err := c.Send("/queue/replay", "", []byte("once"), stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("tracked send with receipt: %v", err)
	}
	m := receive(t, sub)
	if string(m.Body) != "once" || m.MsgID() == "" {
		t.Fatalf("got %q id %q", m.Body, m.MsgID())
	}
	ev, _ := rec.wait(t, EventReplayed, 0)
	if ev.Count != 1 {
		t.Fatalf("replayed %d", ev.Count)
	}
}

func TestAckAfterFailoverIsStale(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	f := load(t, conf(urls(primary, backup), fastReconnect...))
	c := connect(t, f)
	sub, err := c.Subscribe("/queue/stale", stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send("/queue/stale", "", []byte("m"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m := receive(t, sub)
	primary.Kill()
	eventually(t, "reconnect", func() bool { return c.CurrentURL() == backup.URL() })
	if err := c.Ack(m); !errors.Is(err, ErrStaleAck) {
		t.Fatalf("ack of a pre-failover message: %v", err)
	}
	if err := c.Nack(m); !errors.Is(err, ErrStaleAck) {
		t.Fatalf("nack of a pre-failover message: %v", err)
	}
	// The broker redelivers it (shared store), and that copy acks fine.
	again := receive(t, sub)
	if string(again.Body) != "m" {
		t.Fatalf("redelivered %q", again.Body)
	}
	if err := c.Ack(again); err != nil {
		t.Fatal(err)
	}
}

func TestTransactionCaughtInFailoverRollsBack(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	f := load(t, conf(urls(primary, backup), fastReconnect...))
	c := connect(t, f)
	// Control: a transaction without failover commits.
	tx, err := c.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send("/queue/tx", "", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("plain commit: %v", err)
	}

	tx, err = c.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send("/queue/tx", "", []byte("lost")); err != nil {
		t.Fatal(err)
	}
	primary.Kill()
	eventually(t, "reconnect", func() bool { return c.CurrentURL() == backup.URL() })
	if err := tx.Send("/queue/tx", "", []byte("more")); !errors.Is(err, ErrTransactionRolledBack) {
		t.Fatalf("send in a rolled-back transaction: %v", err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrTransactionRolledBack) {
		t.Fatalf("commit after failover: %v", err)
	}
	tx2, err := c.Begin()
	if err != nil {
		t.Fatal(err)
	}
	primary.Start()
	backup.Kill()
	eventually(t, "reconnect back", func() bool { return c.CurrentURL() == primary.URL() })
	if err := tx2.Abort(); err != nil {
		t.Fatalf("abort after failover must succeed locally: %v", err)
	}
}

func TestPriorityBackupReturnsHome(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "priority_backup = true")
	rec := newRecorder()
	f := load(t, conf(urls(primary, backup), keys...), rec.option())
	c := connect(t, f)
	sub, err := c.Subscribe("/queue/home", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	primary.Kill()
	_, n := rec.wait(t, EventReconnected, 0)
	if c.CurrentURL() != backup.URL() {
		t.Fatalf("on %s", c.CurrentURL())
	}
	if err := primary.Start(); err != nil {
		t.Fatal(err)
	}
	ev, _ := rec.wait(t, EventSwitched, n)
	if ev.URL != primary.URL() || c.CurrentURL() != primary.URL() {
		t.Fatalf("switched to %s, current %s", ev.URL, c.CurrentURL())
	}
	if err := c.Send("/queue/home", "", []byte("home"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, sub); string(m.Body) != "home" {
		t.Fatalf("got %q", m.Body)
	}
	if backup.Conns() != 0 {
		eventually(t, "old session closed", func() bool { return backup.Conns() == 0 })
	}
}

func TestHotStandbyFailsOverWithoutDialling(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	var dials atomic.Int64 // to the backup: the standby's one, and no more
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == backup.Addr() {
			dials.Add(1)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "backup = true")
	rec := newRecorder()
	f := load(t, conf(urls(primary, backup), keys...), rec.option(), WithDialer(dialer))
	c := connect(t, f)
	standbyReady(t, c, backup)
	before := dials.Load()
	if before != 1 {
		t.Fatalf("%d dials to the backup to set up the standby", before)
	}
	primary.Kill()
	ev, _ := rec.wait(t, EventReconnected, 0)
	if ev.URL != backup.URL() {
		t.Fatalf("reconnected to %s", ev.URL)
	}
	if got := dials.Load(); got != before {
		t.Fatalf("failover dialled %d times; the standby should have made it dial-free", got-before)
	}
	if err := c.Send("/queue/standby", "", []byte("x"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
}

// After a failover the spare's next target is the broker just lost; the
// standby loop waits the reconnect delay before dialling it, so that it
// neither hammers a dead broker nor takes CPU from the failover itself.
func TestHotStandbyWaitsTheReconnectDelayBeforeRediallingTheLostBroker(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	const delay = 300 * time.Millisecond
	var mu sync.Mutex
	var primaryDials []time.Time
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == primary.Addr() {
			mu.Lock()
			primaryDials = append(primaryDials, time.Now())
			mu.Unlock()
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	var keys []string
	for _, k := range fastReconnect {
		if !strings.HasPrefix(k, "reconnect_attempt_delay") {
			keys = append(keys, k)
		}
	}
	keys = append(keys, fmt.Sprintf("reconnect_attempt_delay = %d", delay.Milliseconds()), "backup = true")
	rec := newRecorder()
	f := load(t, conf(urls(primary, backup), keys...), rec.option(), WithDialer(dialer))
	c := connect(t, f)
	standbyReady(t, c, backup)
	primary.Kill()
	lost, n := rec.wait(t, EventDisconnected, 0)
	if ev, _ := rec.wait(t, EventReconnected, n); ev.URL != backup.URL() {
		t.Fatalf("reconnected to %s", ev.URL)
	}
	// The lost broker is back at once; the new spare must still wait.
	if err := primary.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a spare on the restarted primary", func() bool { return primary.Conns() == 1 })
	mu.Lock()
	defer mu.Unlock()
	var after []time.Time
	for _, d := range primaryDials {
		if d.After(lost.Time) {
			after = append(after, d)
		}
	}
	if len(after) == 0 {
		t.Fatal("no dial to the primary after the loss, yet a spare is on it")
	}
	// Slack for the instant between recording the loss and stamping its event.
	if early := after[0].Sub(lost.Time); early < delay-20*time.Millisecond {
		t.Fatalf("the spare redialled the lost broker %v after the loss; want at least the reconnect delay %v", early, delay)
	}
}

func TestHotReloadChangesTheNextReconnectAndABrokenEditChangesNothing(t *testing.T) {
	verifyNoLeaks(t)
	a := broker(t, embedded.Options{})
	b := broker(t, embedded.Options{})
	rec := newRecorder()
	path := writeConf(t, conf(a.URL(), fastReconnect...))
	f, err := Load(path, rec.option())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := f.CreateConnection("Test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// An editor-style save: write a temp file, rename it over the original.
	save := func(body string) {
		tmp := filepath.Join(filepath.Dir(path), ".factories.conf.swp")
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	save(conf(b.URL(), fastReconnect...))
	ev, n := rec.wait(t, EventConfigReloaded, 0)
	if ev.Err != nil {
		t.Fatalf("good edit rejected: %v", ev.Err)
	}
	a.Kill()
	ev, n = rec.wait(t, EventReconnected, n)
	if ev.URL != b.URL() {
		t.Fatalf("reconnected to %s, want the reloaded list's %s", ev.URL, b.URL())
	}

	save("[Test]\n  type = queue\n  url = tcp://\n  reconnect_attempt_delay = 5x\n")
	ev, n = rec.wait(t, EventConfigReloaded, n)
	if ev.Err == nil {
		t.Fatal("broken edit accepted")
	}
	if d, err := f.Definition("Test"); err != nil || d.URLs.String() != b.URL() {
		t.Fatalf("broken edit changed the definition: %v %v", d, err)
	}
	// The last good list holds only b: with a up and b restarted, the
	// reconnect must still go to b.
	b.Kill()
	_, n = rec.wait(t, EventDisconnected, n)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	ev, _ = rec.wait(t, EventReconnected, n)
	if ev.URL != b.URL() {
		t.Fatalf("reconnected to %s, not the last good list's %s", ev.URL, b.URL())
	}
}

// A broker that takes SENDs and never confirms them (nor hangs up).
func silentBroker(t *testing.T) *scriptedBroker {
	return newScripted(t, func(cmd string, h map[string]string, w *bufio.Writer) bool { return false })
}

func TestTrackedCacheFullMakesSendWaitThenTimeOut(t *testing.T) {
	verifyNoLeaks(t)
	b := silentBroker(t)
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "track_messages = true", "max_cache_size = 300", "send_timeout = 150")
	f := load(t, conf(b.URL(), keys...), WithDisconnectTimeout(100*time.Millisecond))
	c := connect(t, f)
	body := make([]byte, 100) // one frame (body + headers) fits in 300 bytes, two do not
	if err := c.Send("/queue/full", "", body); err != nil {
		t.Fatalf("first send fits the cache: %v", err)
	}
	err := c.Send("/queue/full", "", body)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("second send should wait for room and time out, got %v", err)
	}
	st := c.Stats()
	if st.InFlight != 1 || st.CacheBytes <= 100 || st.CacheBytes > 300 {
		t.Fatalf("cache after a rejected send: %d messages, %d bytes", st.InFlight, st.CacheBytes)
	}
	if err := c.Close(); !errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("Close with an unconfirmed tracked send: %v", err)
	}
}

func TestUnsubscribeWhileADeliveryIsBlocked(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	f := load(t, conf(b.URL(), fastReconnect...), WithSubscriptionBuffer(0))
	c := connect(t, f)
	sub, err := c.Subscribe("/queue/blocked", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads C: the first message blocks the read loop. (No receipts:
	// the blocked read loop could not take them.)
	for i := 0; i < 2; i++ {
		if err := c.Send("/queue/blocked", "", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "a delivery to block", func() bool { return b.Conns() == 1 && c.Stats().Sent == 2 })
	done := make(chan error, 1)
	go func() { done <- sub.Unsubscribe() }()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Unsubscribe deadlocked against a blocked delivery")
	}
	if _, ok := <-sub.C; ok {
		// one buffered value may remain only with a buffer; ours is 0
		t.Fatal("C still open after Unsubscribe")
	}
}

func TestCommitWhoseReceiptIsLostIsInDoubt(t *testing.T) {
	verifyNoLeaks(t)
	// Takes BEGIN and SEND, hangs up on COMMIT before answering it.
	b := newScripted(t, func(cmd string, h map[string]string, w *bufio.Writer) bool { return cmd == "COMMIT" })
	good := broker(t, embedded.Options{})
	f := load(t, conf(b.URL()+","+good.URL(), fastReconnect...))
	c := connect(t, f)
	tx, err := c.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send("/queue/tx", "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	err = tx.Commit()
	if !errors.Is(err, ErrInDoubt) || errors.Is(err, ErrTransactionRolledBack) {
		t.Fatalf("commit whose receipt was lost: %v (want ErrInDoubt, not rolled back)", err)
	}
}

// standbyReady waits until c holds a hot-standby session that finished its
// handshake: the broker counting the connection is not enough (a primary
// killed before CONNECTED reached the standby makes the failover dial).
func standbyReady(t *testing.T, c *Connection, backup interface{ Conns() int }) {
	t.Helper()
	eventually(t, "the standby session", func() bool {
		if backup.Conns() != 1 {
			return false
		}
		var ready bool
		c.call(func() { ready = c.own.spare != nil || c.spareSlot.Load() != nil })
		return ready
	})
}
