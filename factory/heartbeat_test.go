package factory

import (
	"errors"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/tests/faultproxy"
)

// A frozen broker (kill -STOP: the socket stays open, nothing moves) is
// only visible through heart-beats. The proxy blackholes the live
// connection; the client must declare it dead and reach the backup.
func TestFrozenBrokerIsDetectedByHeartbeats(t *testing.T) {
	verifyNoLeaks(t)
	px, backup, rec, c := frozenBrokerSetup(t)
	info, _ := c.ServerInfo()
	if info.RecvBeat <= 0 || info.RecvBeat > time.Second {
		t.Fatalf("heart-beat not negotiated: %+v", info)
	}
	sub, err := c.Subscribe("/queue/hb", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	frozeAt := time.Now()
	px.BlackholeAll()
	// A receipt send caught by the freeze: written into the void, it must
	// fail as in doubt because of the heart-beat loss, not wait out the
	// send timeout.
	inDoubt := make(chan error, 1)
	go func() { inDoubt <- c.Send("/queue/hb", "", []byte("void"), stomp.SendOpt.Receipt) }()
	ev, _ := rec.wait(t, EventDisconnected, 0)
	detected := time.Since(frozeAt)
	if !errors.Is(ev.Err, ErrHeartbeatTimeout) {
		t.Fatalf("loss cause %v, want ErrHeartbeatTimeout", ev.Err)
	}
	// The bound is interval × grace; allow generous slack for a loaded
	// machine, but a detector that relied on TCP would take minutes.
	bound := time.Duration(float64(info.RecvBeat) * 2)
	t.Logf("negotiated receive beat %v, grace 2: bound %v, detected after %v", info.RecvBeat, bound, detected)
	if detected > 20*bound {
		t.Fatalf("detection took %v, bound %v", detected, bound)
	}
	select {
	case err := <-inDoubt:
		if !errors.Is(err, ErrInDoubt) || !errors.Is(err, ErrHeartbeatTimeout) {
			t.Fatalf("send caught by the freeze: %v (want ErrInDoubt caused by ErrHeartbeatTimeout)", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("send caught by the freeze never returned")
	}
	ev, _ = rec.wait(t, EventReconnected, 0)
	if ev.URL != backup.URL() {
		t.Fatalf("reconnected to %s", ev.URL)
	}
	if err := c.Send("/queue/hb", "", []byte("alive"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, sub); string(m.Body) != "alive" {
		t.Fatalf("got %q", m.Body)
	}
}

// An unread subscription (below its queue limit) must not hide a frozen
// broker: the reader keeps reading, so heart-beat silence is still seen.
func TestFrozenBrokerIsDetectedWithAnUnreadSubscription(t *testing.T) {
	verifyNoLeaks(t)
	px, _, rec, c := frozenBrokerSetup(t)
	if _, err := c.Subscribe("/queue/unread", stomp.AckAuto); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ { // past C's 64, below the queue's 1000
		if err := c.Send("/queue/unread", "", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Send("/queue/other", "", []byte("sync"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	info, _ := c.ServerInfo()
	frozeAt := time.Now()
	px.BlackholeAll()
	ev, _ := rec.wait(t, EventDisconnected, 0)
	detected := time.Since(frozeAt)
	if !errors.Is(ev.Err, ErrHeartbeatTimeout) {
		t.Fatalf("loss cause %v, want ErrHeartbeatTimeout", ev.Err)
	}
	bound := time.Duration(float64(info.RecvBeat) * 2)
	t.Logf("bound %v, detected after %v", bound, detected)
	if detected > 20*bound {
		t.Fatalf("detection took %v with an unread subscription, bound %v", detected, bound)
	}
}

// frozenBrokerSetup connects, with 100 ms heart-beats and grace 2, through a
// fault proxy to a primary, with a backup second in the URL list.
func frozenBrokerSetup(t *testing.T) (*faultproxy.Proxy, *embedded.Broker, *recorder, *Connection) {
	t.Helper()
	primary := broker(t, embedded.Options{HeartBeat: 100 * time.Millisecond})
	backup := broker(t, embedded.Options{HeartBeat: 100 * time.Millisecond})
	px, err := faultproxy.New(primary.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Close() })
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "heartbeat = 100,100", "heartbeat_grace = 2")
	rec := newRecorder()
	f := load(t, conf("tcp://"+px.Addr()+","+backup.URL(), keys...), rec.option())
	return px, backup, rec, connect(t, f)
}
