package embedded

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"go.uber.org/goleak"
)

// wait bounds every wait in these tests.
const wait = 10 * time.Second

// newMini starts an EngineMini broker, killed at the end of the test, and
// checks that the test leaves no goroutine behind.
func newMini(t *testing.T, opts Options) *Broker {
	t.Helper()
	opts.Engine = EngineMini
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Kill)
	return b
}

// noLeaks must be called first in a test: its cleanup then runs last.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// waitFor polls cond until it holds, failing the test after wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(wait)
	defer limit.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-limit.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// raw is a STOMP peer speaking raw frames.
type raw struct {
	t  *testing.T
	nc net.Conn
	r  *frame.Reader
	w  *frame.Writer
	n  int
	// early holds MESSAGEs that arrived while call waited for a RECEIPT: a
	// subscription may deliver before its SUBSCRIBE's receipt.
	early []*frame.Frame
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &raw{t: t, nc: nc, r: frame.NewReader(nc), w: frame.NewWriter(nc)}
}

// connectRaw dials and completes CONNECT; extra headers are added to it.
func connectRaw(t *testing.T, addr string, headers ...string) (*raw, *frame.Frame) {
	t.Helper()
	c := dialRaw(t, addr)
	c.send(frame.CONNECT, "", append([]string{"accept-version", "1.2", "host", "/"}, headers...)...)
	return c, c.expect(frame.CONNECTED)
}

func (c *raw) send(cmd, body string, headers ...string) {
	c.t.Helper()
	f := frame.New(cmd, headers...)
	f.Body = []byte(body)
	_ = c.nc.SetWriteDeadline(time.Now().Add(wait))
	if err := c.w.Write(f); err != nil {
		c.t.Fatalf("write %s: %v", cmd, err)
	}
}

// call sends a frame with a fresh receipt and waits for its RECEIPT.
func (c *raw) call(cmd, body string, headers ...string) {
	c.t.Helper()
	c.n++
	r := "r-" + strconv.Itoa(c.n)
	c.send(cmd, body, append(headers, frame.Receipt, r)...)
	for {
		f := c.read()
		if f.Command == frame.MESSAGE {
			c.early = append(c.early, f)
			continue
		}
		if f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != r {
			c.t.Fatalf("got %s %v, want RECEIPT %s", f.Command, f.Header, r)
		}
		return
	}
}

// next returns the next frame, skipping heart-beats.
func (c *raw) next() *frame.Frame {
	c.t.Helper()
	if len(c.early) > 0 {
		f := c.early[0]
		c.early = c.early[1:]
		return f
	}
	return c.read()
}

// read reads the next frame from the socket, skipping heart-beats.
func (c *raw) read() *frame.Frame {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(wait))
	for {
		f, err := c.r.Read()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if f != nil {
			return f
		}
	}
}

func (c *raw) expect(cmd string) *frame.Frame {
	c.t.Helper()
	f := c.next()
	if f.Command != cmd {
		c.t.Fatalf("got %s (message %q), want %s", f.Command, f.Header.Get(frame.Message), cmd)
	}
	return f
}

// expectClosed reads until the broker closes the connection.
func (c *raw) expectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c.nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("broker did not close the connection")
	}
}

func sendN(t *testing.T, addr, dest string, n int) {
	t.Helper()
	p, _ := connectRaw(t, addr)
	for i := 0; i < n; i++ {
		p.send(frame.SEND, "m"+strconv.Itoa(i), frame.Destination, dest, "stompft-msg-id", strconv.Itoa(i))
	}
	p.call(frame.DISCONNECT, "")
	p.expectClosed()
	_ = p.nc.Close() // or the broker lingers, waiting for our close
}

func msgID(t *testing.T, f *frame.Frame) int {
	t.Helper()
	n, err := strconv.Atoi(f.Header.Get("stompft-msg-id"))
	if err != nil {
		t.Fatalf("MESSAGE without stompft-msg-id: %v", f.Header)
	}
	return n
}

func TestMiniWindowAndRedeliveryWithGoStompClient(t *testing.T) {
	noLeaks(t)
	st := NewSharedStorage()
	b := newMini(t, Options{Storage: st})
	const q, total = "/queue/w", miniWindow + 5
	sendN(t, b.Addr(), q, total)
	if st.Len(q) != total {
		t.Fatalf("store holds %d, want %d", st.Len(q), total)
	}

	nc, err := net.DialTimeout("tcp", b.Addr(), wait)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := stomp.Connect(nc, stomp.ConnOpt.Host("/"), stomp.ConnOpt.Logger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cc.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	recv := func(want int) *stomp.Message {
		t.Helper()
		select {
		case m := <-sub.C:
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			if got := m.Header.Get("stompft-msg-id"); got != strconv.Itoa(want) {
				t.Fatalf("got message %s, want %d", got, want)
			}
			return m
		case <-time.After(wait):
			t.Fatalf("message %d not delivered", want)
		}
		return nil
	}
	first := recv(0)
	for i := 1; i < miniWindow; i++ {
		recv(i)
	}
	// The window is full: the rest stays in the store until an ACK.
	if st.Len(q) != total-miniWindow {
		t.Fatalf("store holds %d with a full window, want %d", st.Len(q), total-miniWindow)
	}
	if err := cc.Ack(first); err != nil {
		t.Fatal(err)
	}
	recv(miniWindow)
	if st.Len(q) != total-miniWindow-1 {
		t.Fatalf("store holds %d after one ACK, want %d", st.Len(q), total-miniWindow-1)
	}

	// The consumer dies: everything but message 0 is back, in order.
	_ = nc.Close()
	waitFor(t, "the dead consumer's messages to be requeued", func() bool { return st.Len(q) == total-1 })
	c, _ := connectRaw(t, b.Addr())
	c.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, q)
	for i := 1; i < total; i++ {
		m := c.expect(frame.MESSAGE)
		if got := msgID(t, m); got != i {
			t.Fatalf("redelivery %d is message %d", i, got)
		}
		wantRe := i <= miniWindow
		if got := m.Header.Get("redelivered") == "true"; got != wantRe {
			t.Fatalf("message %d redelivered=%v, want %v", i, got, wantRe)
		}
	}
	c.call(frame.DISCONNECT, "")
}

func TestMiniAckModes(t *testing.T) {
	tests := []struct {
		mode string
		ack  int   // index of the message acknowledged
		left []int // messages requeued when the consumer dies
	}{
		{"client", 2, []int{3, 4}},
		{"client-individual", 2, []int{0, 1, 3, 4}},
		{"client", 4, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-ack%d", tt.mode, tt.ack), func(t *testing.T) {
			noLeaks(t)
			st := NewSharedStorage()
			b := newMini(t, Options{Storage: st})
			const q = "/queue/a"
			sendN(t, b.Addr(), q, 5)
			c, _ := connectRaw(t, b.Addr())
			c.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, q, frame.Ack, tt.mode)
			var ms []*frame.Frame
			for i := 0; i < 5; i++ {
				m := c.expect(frame.MESSAGE)
				if m.Header.Get(frame.Subscription) != "s" || m.Header.Get(frame.Destination) != q ||
					m.Header.Get(frame.Ack) == "" || m.Header.Get(frame.MessageId) == "" {
					t.Fatalf("bad MESSAGE headers %v", m.Header)
				}
				if m.Header.Get(frame.ContentLength) != strconv.Itoa(len(m.Body)) {
					t.Fatalf("content-length %q for %q", m.Header.Get(frame.ContentLength), m.Body)
				}
				ms = append(ms, m)
			}
			c.call(frame.ACK, "", frame.Id, ms[tt.ack].Header.Get(frame.Ack))
			_ = c.nc.Close()
			waitFor(t, "the consumer to be released", func() bool { return b.Conns() == 0 })
			if st.Len(q) != len(tt.left) {
				t.Fatalf("store holds %d, want %d", st.Len(q), len(tt.left))
			}
			for _, want := range tt.left {
				f, _ := st.Dequeue(q)
				if got := msgID(t, f); got != want || f.Header.Get("redelivered") != "true" {
					t.Fatalf("requeued message %d (redelivered %q), want %d", got, f.Header.Get("redelivered"), want)
				}
			}
		})
	}
}

func TestMiniNackRequeuesAtHead(t *testing.T) {
	noLeaks(t)
	b := newMini(t, Options{})
	const q = "/queue/n"
	sendN(t, b.Addr(), q, 2)
	c, _ := connectRaw(t, b.Addr())
	c.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, q, frame.Ack, "client-individual")
	m0, m1 := c.expect(frame.MESSAGE), c.expect(frame.MESSAGE)
	c.call(frame.NACK, "", frame.Id, m1.Header.Get(frame.Ack))
	again := c.expect(frame.MESSAGE)
	if msgID(t, again) != 1 || again.Header.Get("redelivered") != "true" ||
		again.Header.Get(frame.MessageId) == m1.Header.Get(frame.MessageId) {
		t.Fatalf("after NACK got %v", again.Header)
	}
	// m0 is still unacknowledged and acknowledgeable; a 1.1-style ACK
	// (message-id) works too.
	c.call(frame.ACK, "", frame.MessageId, m0.Header.Get(frame.MessageId), frame.Subscription, "s")
	c.call(frame.ACK, "", frame.Id, again.Header.Get(frame.Ack))
	c.call(frame.DISCONNECT, "")
	c.expectClosed()
	if n := b.ownStore.Len(q); n != 0 {
		t.Fatalf("store holds %d after all ACKs", n)
	}
}

func TestMiniTransactions(t *testing.T) {
	for _, end := range []string{frame.COMMIT, frame.ABORT} {
		t.Run(end, func(t *testing.T) {
			noLeaks(t)
			st := NewSharedStorage()
			b := newMini(t, Options{Storage: st})
			sendN(t, b.Addr(), "/queue/acked", 1)
			c, _ := connectRaw(t, b.Addr())
			c.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, "/queue/acked", frame.Ack, "client-individual")
			m := c.expect(frame.MESSAGE)
			c.call(frame.BEGIN, "", frame.Transaction, "tx")
			c.call(frame.SEND, "in tx", frame.Destination, "/queue/sent", frame.Transaction, "tx")
			c.call(frame.ACK, "", frame.Id, m.Header.Get(frame.Ack), frame.Transaction, "tx")
			if st.Len("/queue/sent") != 0 {
				t.Fatal("a transactional SEND was applied before its end")
			}
			c.call(end, "", frame.Transaction, "tx")
			_ = c.nc.Close()
			waitFor(t, "the consumer to be released", func() bool { return b.Conns() == 0 })
			committed := end == frame.COMMIT
			if got := st.Len("/queue/sent") == 1; got != committed {
				t.Fatalf("SEND applied=%v, want %v", got, committed)
			}
			if got := st.Len("/queue/acked") == 0; got != committed {
				t.Fatalf("ACK applied=%v, want %v", got, committed)
			}
		})
	}
}

func TestMiniTopicFanOut(t *testing.T) {
	noLeaks(t)
	st := NewSharedStorage()
	b := newMini(t, Options{Storage: st})
	p, _ := connectRaw(t, b.Addr())
	p.call(frame.SEND, "nobody", frame.Destination, "/topic/t")
	var subs []*raw
	for i := 0; i < 2; i++ {
		c, _ := connectRaw(t, b.Addr())
		c.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, "/topic/t")
		subs = append(subs, c)
	}
	p.call(frame.SEND, "all", frame.Destination, "/topic/t", "k", "v")
	for i, c := range subs {
		m := c.expect(frame.MESSAGE)
		if string(m.Body) != "all" || m.Header.Get("k") != "v" || m.Header.Get(frame.Destination) != "/topic/t" {
			t.Fatalf("subscriber %d got %q %v", i, m.Body, m.Header)
		}
	}
	if st.Len("/topic/t") != 0 {
		t.Fatal("a topic message was stored")
	}
}

func TestMiniQueueRoundRobin(t *testing.T) {
	noLeaks(t)
	b := newMini(t, Options{})
	const q = "/queue/rr"
	var subs []*raw
	for i := 0; i < 2; i++ {
		c, _ := connectRaw(t, b.Addr())
		c.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, q)
		subs = append(subs, c)
	}
	sendN(t, b.Addr(), q, 4)
	for i, c := range subs {
		a, z := msgID(t, c.expect(frame.MESSAGE)), msgID(t, c.expect(frame.MESSAGE))
		if a%2 != z%2 || a >= z {
			t.Fatalf("subscriber %d got messages %d and %d, want alternate ones in order", i, a, z)
		}
	}
}

func TestMiniReceipts(t *testing.T) {
	noLeaks(t)
	b := newMini(t, Options{})
	c, connected := connectRaw(t, b.Addr())
	for h, want := range map[string]string{frame.Version: "1.2", frame.Server: "stompft-embedded"} {
		if got := connected.Header.Get(h); got != want {
			t.Fatalf("CONNECTED %s = %q, want %q", h, got, want)
		}
	}
	if connected.Header.Get(frame.Session) == "" {
		t.Fatal("CONNECTED without session")
	}
	steps := []struct {
		cmd     string
		headers []string
	}{
		{frame.SUBSCRIBE, []string{frame.Id, "s", frame.Destination, "/queue/r", frame.Ack, "client"}},
		{frame.SEND, []string{frame.Destination, "/queue/other"}},
		{frame.BEGIN, []string{frame.Transaction, "t"}},
		{frame.ABORT, []string{frame.Transaction, "t"}},
		{frame.UNSUBSCRIBE, []string{frame.Id, "s"}},
		{frame.DISCONNECT, nil},
	}
	for _, s := range steps {
		c.call(s.cmd, "", s.headers...)
	}
	c.expectClosed()
	if n := b.ownStore.Len("/queue/other"); n != 1 {
		t.Fatalf("SEND receipt came but store holds %d", n)
	}
}

func TestMiniProtocolErrors(t *testing.T) {
	noLeaks(t)
	b := newMini(t, Options{})
	tests := []struct {
		name    string
		connect bool
		frame   string
		want    string
	}{
		{"unknown command", true, "FOO\n\n\x00", "malformed frame"},
		{"frame before CONNECT", false, "SEND\ndestination:/queue/x\n\n\x00", "expected CONNECT"},
		{"STOMP 1.0 only", false, "CONNECT\n\n\x00", "unsupported STOMP version"},
		{"bad destination", true, "SEND\ndestination:/bad\nreceipt:9\n\n\x00", "not /queue/NAME"},
		{"unknown ack id", true, "ACK\nid:nope\n\n\x00", "unknown or already acknowledged"},
		{"SUBSCRIBE without id", true, "SUBSCRIBE\ndestination:/queue/x\n\n\x00", "without id"},
		{"unknown transaction", true, "COMMIT\ntransaction:nope\n\n\x00", "unknown transaction"},
		{"SEND in unknown transaction", true, "SEND\ndestination:/queue/x\ntransaction:nope\n\n\x00", "unknown transaction"},
		{"bad ack mode", true, "SUBSCRIBE\nid:1\ndestination:/queue/x\nack:maybe\n\n\x00", "unknown ack mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *raw
			if tt.connect {
				c, _ = connectRaw(t, b.Addr())
			} else {
				c = dialRaw(t, b.Addr())
			}
			if _, err := io.WriteString(c.nc, tt.frame); err != nil {
				t.Fatal(err)
			}
			e := c.expect(frame.ERROR)
			if !strings.Contains(e.Header.Get(frame.Message), tt.want) {
				t.Fatalf("ERROR message %q, want %q", e.Header.Get(frame.Message), tt.want)
			}
			if strings.Contains(tt.frame, "receipt:9") && e.Header.Get(frame.ReceiptId) != "9" {
				t.Fatalf("ERROR without the receipt-id: %v", e.Header)
			}
			c.expectClosed()
		})
	}
}

func TestMiniLogin(t *testing.T) {
	noLeaks(t)
	b := newMini(t, Options{Login: "user", Passcode: "s3cret"})
	for _, pass := range []string{"wrong", ""} {
		c := dialRaw(t, b.Addr())
		c.send(frame.CONNECT, "", "accept-version", "1.2", "host", "/", "login", "user", "passcode", pass)
		e := c.expect(frame.ERROR)
		if e.Header.Get(frame.Message) != "Bad CONNECT" {
			t.Fatalf("ERROR message %q", e.Header.Get(frame.Message))
		}
		if strings.Contains(fmt.Sprint(e.Header, string(e.Body)), "s3cret") {
			t.Fatal("the ERROR frame shows the passcode")
		}
		c.expectClosed()
	}
	cc, err := stomp.Dial("tcp", b.Addr(), stomp.ConnOpt.Login("user", "s3cret"), stomp.ConnOpt.Host("/"))
	if err != nil {
		t.Fatalf("right credentials refused: %v", err)
	}
	if err := cc.Disconnect(); err != nil {
		t.Fatal(err)
	}
}

func TestMiniHeartBeat(t *testing.T) {
	noLeaks(t)
	b := newMini(t, Options{HeartBeat: 20 * time.Millisecond})

	// The client wants beats: the broker sends them.
	c, connected := connectRaw(t, b.Addr(), frame.HeartBeat, "0,10")
	if hb := connected.Header.Get(frame.HeartBeat); hb != "20,20" {
		t.Fatalf("CONNECTED heart-beat %q, want 20,20", hb)
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(wait))
	for beats := 0; beats < 3; {
		f, err := c.r.Read()
		if err != nil {
			t.Fatal(err)
		}
		if f != nil {
			t.Fatalf("unexpected %s", f.Command)
		}
		beats++
	}

	// The client promises beats and stays silent: the broker hangs up.
	silent, _ := connectRaw(t, b.Addr(), frame.HeartBeat, "10,0")
	silent.expectClosed()
}

func TestMiniSharedStorageFailover(t *testing.T) {
	noLeaks(t)
	st := NewSharedStorage()
	primary := newMini(t, Options{Storage: st})
	backup := newMini(t, Options{Storage: st})
	const q = "/queue/f"

	pc, _ := connectRaw(t, primary.Addr())
	pc.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, q, frame.Ack, "client-individual")
	sendN(t, primary.Addr(), q, 3)
	for i := 0; i < 3; i++ {
		if got := msgID(t, pc.expect(frame.MESSAGE)); got != i {
			t.Fatalf("primary delivered %d, want %d", got, i)
		}
	}
	bc, _ := connectRaw(t, backup.Addr())
	bc.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, q, frame.Ack, "client")
	if st.Len(q) != 0 {
		t.Fatalf("store holds %d while the primary's consumer holds all", st.Len(q))
	}

	primary.Kill()
	var last *frame.Frame
	for i := 0; i < 3; i++ {
		last = bc.expect(frame.MESSAGE)
		if got := msgID(t, last); got != i || last.Header.Get("redelivered") != "true" {
			t.Fatalf("backup delivered %d (redelivered %q), want %d redelivered", got, last.Header.Get("redelivered"), i)
		}
	}
	bc.call(frame.ACK, "", frame.Id, last.Header.Get(frame.Ack))
	bc.call(frame.DISCONNECT, "")
	if st.Len(q) != 0 {
		t.Fatalf("store holds %d after the cumulative ACK", st.Len(q))
	}
}

func TestMiniKillStartKeepsPortAndQueue(t *testing.T) {
	noLeaks(t)
	b := newMini(t, Options{})
	addr := b.Addr()
	sendN(t, addr, "/queue/k", 1)
	held, _ := connectRaw(t, addr)
	held.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, "/queue/k", frame.Ack, "client")
	held.expect(frame.MESSAGE)
	b.Kill()
	// Kill returns with the unacknowledged message back in the store.
	if n := b.ownStore.Len("/queue/k"); n != 1 {
		t.Fatalf("store holds %d right after Kill, want 1", n)
	}
	held.expectClosed()
	if b.Conns() != 0 || b.Running() {
		t.Fatalf("after Kill: %d conns, running %v", b.Conns(), b.Running())
	}
	if nc, err := net.DialTimeout("tcp", addr, wait); err == nil {
		_ = nc.Close()
		t.Fatal("killed broker still accepts connections")
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if b.Addr() != addr {
		t.Fatalf("restart moved from %s to %s", addr, b.Addr())
	}
	c, _ := connectRaw(t, addr)
	c.call(frame.SUBSCRIBE, "", frame.Id, "s", frame.Destination, "/queue/k")
	if m := c.expect(frame.MESSAGE); msgID(t, m) != 0 || m.Header.Get("redelivered") != "true" {
		t.Fatalf("after restart got %v", m.Header)
	}
}

func TestMiniVersionNegotiation(t *testing.T) {
	noLeaks(t)
	b := newMini(t, Options{})
	for accept, want := range map[string]string{"1.1": "1.1", "1.1,1.2": "1.2", "1.0,1.1,1.2": "1.2", "1.2,1.1": "1.2"} {
		c := dialRaw(t, b.Addr())
		c.send(frame.CONNECT, "", frame.AcceptVersion, accept, frame.Host, "/")
		if got := c.expect(frame.CONNECTED).Header.Get(frame.Version); got != want {
			t.Errorf("accept-version %s: version %q, want %q", accept, got, want)
		}
	}
}

func TestUnknownEngineRefused(t *testing.T) {
	if b, err := New(Options{Engine: 7}); err == nil {
		b.Kill()
		t.Fatal("New accepted an unknown engine")
	}
}

func TestEngineString(t *testing.T) {
	for e, want := range map[Engine]string{EngineGoStomp: "go-stomp", EngineMini: "mini", 7: "Engine(7)"} {
		if got := e.String(); got != want {
			t.Errorf("%d: %q, want %q", int(e), got, want)
		}
	}
}

func TestSharedStorageChanged(t *testing.T) {
	msg := func(body string) *frame.Frame { f := frame.New(frame.MESSAGE); f.Body = []byte(body); return f }
	tests := []struct {
		name   string
		op     func(s *SharedStorage)
		closes bool
	}{
		{"Enqueue", func(s *SharedStorage) { _ = s.Enqueue("/queue/q", msg("e")) }, true},
		{"Requeue", func(s *SharedStorage) { _ = s.Requeue("/queue/q", msg("r")) }, true},
		{"RequeueAll", func(s *SharedStorage) { s.RequeueAll("/queue/q", []*frame.Frame{msg("a")}) }, true},
		{"RequeueAll none", func(s *SharedStorage) { s.RequeueAll("/queue/q", nil) }, false},
		{"Dequeue", func(s *SharedStorage) { _, _ = s.Dequeue("/queue/q") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSharedStorage()
			_ = s.Enqueue("/queue/q", msg("first"))
			ch := s.Changed()
			tt.op(s)
			select {
			case <-ch:
				if !tt.closes {
					t.Fatal("Changed closed")
				}
				if s.Changed() == ch {
					t.Fatal("Changed not renewed after closing")
				}
			default:
				if tt.closes {
					t.Fatal("Changed not closed")
				}
			}
		})
	}

	s := NewSharedStorage()
	_ = s.Enqueue("/queue/q", msg("3"))
	s.RequeueAll("/queue/q", []*frame.Frame{msg("1"), msg("2")})
	var got []string
	for f, _ := s.Dequeue("/queue/q"); f != nil; f, _ = s.Dequeue("/queue/q") {
		got = append(got, string(f.Body))
	}
	if strings.Join(got, ",") != "1,2,3" {
		t.Fatalf("RequeueAll order: %v", got)
	}
}
