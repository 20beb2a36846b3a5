package embedded

import (
	"net"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestKillResetsConnectionsAndStartReusesPort(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addr()
	c, err := stomp.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe("/queue/a", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	// go-stomp's client returns from Subscribe before its loop registers the
	// subscription; a receipt round trip (frames are handled in order)
	// guarantees the subscription will hear of the kill.
	if err := c.Send("/queue/other", "", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	b.Kill()
	select {
	case m := <-sub.C:
		if m == nil || m.Err == nil {
			t.Fatalf("want an error message after Kill, got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client did not notice the kill")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("killed broker still accepts connections")
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if b.Addr() != addr {
		t.Fatalf("restart moved from %s to %s", addr, b.Addr())
	}
	c2, err := stomp.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("restarted broker: %v", err)
	}
	_ = c2.Disconnect()
}

func TestSharedStorageServesWhatThePrimaryHeld(t *testing.T) {
	st := NewSharedStorage()
	primary, err := New(Options{Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	backup, err := New(Options{Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	defer backup.Close()

	p, err := stomp.Dial("tcp", primary.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send("/queue/q", "text/plain", []byte("kept"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	primary.Kill()
	if st.Len("/queue/q") != 1 {
		t.Fatalf("storage holds %d frames, want 1", st.Len("/queue/q"))
	}
	c, err := stomp.Dial("tcp", backup.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	sub, err := c.Subscribe("/queue/q", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C:
		if m.Err != nil || string(m.Body) != "kept" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("backup did not deliver the stored message")
	}
}

func TestDeafBrokerNeverAnswers(t *testing.T) {
	b, err := New(Options{Deaf: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	nc, err := net.DialTimeout("tcp", b.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("CONNECT\naccept-version:1.2\nhost:/\n\n\x00")); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 16)
	n, err := nc.Read(buf)
	if err == nil || n > 0 {
		t.Fatalf("deaf broker answered %q", buf[:n])
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("want a read timeout, got %v", err)
	}
}

// go-stomp's server answers a SEND's receipt before its request processor
// has stored the message; Kill must still return only once every message
// the broker acknowledged is in the store. A backlog of sends makes the
// processor lag behind the receipt by many requests.
func TestKillReturnsWithEveryReceiptedMessageStored(t *testing.T) {
	const n = 300
	st := NewSharedStorage()
	b, err := New(Options{Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := stomp.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n-1; i++ {
		if err := c.Send("/queue/backlog", "text/plain", []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Send("/queue/backlog", "text/plain", []byte("last"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	b.Kill()
	if got := st.Len("/queue/backlog"); got != n {
		t.Fatalf("after Kill the store holds %d messages, want %d", got, n)
	}
}
