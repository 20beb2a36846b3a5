package factorytest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
	"github.com/stompft/stompft/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// waitLimit bounds every wait; quiet is how long a silence must last to
// count as "nothing came".
const (
	waitLimit = 10 * time.Second
	quiet     = 300 * time.Millisecond
)

// client is a raw STOMP client on a real socket, so that each test sees
// exactly what goes over the wire.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *frame.Reader
	w  *frame.Writer
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &client{t: t, nc: nc, r: frame.NewReader(bufio.NewReader(nc)), w: frame.NewWriter(nc)}
}

// connect dials and completes CONNECT/CONNECTED.
func connect(t *testing.T, addr string, headers ...string) *client {
	t.Helper()
	c := dial(t, addr)
	c.send(frame.CONNECT, append([]string{"accept-version", "1.2", "host", "/"}, headers...)...)
	if f := c.read(); f.Command != frame.CONNECTED {
		t.Fatalf("got %s, want CONNECTED", f.Command)
	}
	return c
}

func (c *client) send(cmd string, headers ...string) {
	c.t.Helper()
	f := frame.New(cmd, headers...)
	if cmd == frame.SEND {
		f.Body = []byte("body")
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(waitLimit))
	if err := c.w.Write(f); err != nil {
		c.t.Fatalf("write %s: %v", cmd, err)
	}
}

// next reads the next frame (heart-beats skipped) within d.
func (c *client) next(d time.Duration) (*frame.Frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := c.r.Read()
		if err != nil || f != nil {
			return f, err
		}
	}
}

func (c *client) read() *frame.Frame {
	c.t.Helper()
	f, err := c.next(waitLimit)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

// silent checks that nothing (not even an error) comes within quiet.
func (c *client) silent(what string) {
	c.t.Helper()
	f, err := c.next(quiet)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("%s: want silence, got frame %v, error %v", what, f, err)
	}
}

// waitFor polls cond every few milliseconds until it holds, for at most
// waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", waitLimit, what)
		}
		<-tick.C
	}
}

func refused(t *testing.T, addr string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitLimit)
	if err == nil {
		_ = nc.Close()
		t.Fatalf("dial %s succeeded; want connection refused", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v; want connection refused", addr, err)
	}
}

func TestKillResetsAndRestartComesBackWithTheQueue(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t)
	addr := b.Addr()
	c := connect(t, addr)
	c.send(frame.SEND, "destination", "/queue/q", "receipt", "r1")
	if f := c.read(); f.Command != frame.RECEIPT {
		t.Fatalf("got %s, want RECEIPT", f.Command)
	}
	b.Kill()
	if _, err := c.next(waitLimit); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after Kill: %v; want connection reset", err)
	}
	refused(t, addr)
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if b.Addr() != addr {
		t.Fatalf("Restart moved the broker from %s to %s", addr, b.Addr())
	}
	if n := b.Queued("/queue/q"); n != 1 {
		t.Fatalf("Queued = %d after restart, want 1", n)
	}
	c2 := connect(t, addr)
	c2.send(frame.SUBSCRIBE, "id", "s", "destination", "/queue/q")
	if f := c2.read(); f.Command != frame.MESSAGE || string(f.Body) != "body" {
		t.Fatalf("got %s %q, want the stored MESSAGE", f.Command, f.Body)
	}
}

func TestRefuseKeepsOpenConnections(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t)
	c := connect(t, b.Addr())
	b.Refuse()
	refused(t, b.Addr())
	c.send(frame.SEND, "destination", "/queue/q", "receipt", "r1")
	if f := c.read(); f.Command != frame.RECEIPT {
		t.Fatalf("open connection after Refuse: got %s, want RECEIPT", f.Command)
	}
	if err := b.Heal(); err != nil {
		t.Fatal(err)
	}
	connect(t, b.Addr())
}

func TestBlackholeAcceptsAndNeverAnswers(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t)
	open := connect(t, b.Addr())
	b.Blackhole()
	before := b.Accepted()
	held := dial(t, b.Addr()) // the dial succeeds
	held.send(frame.CONNECT, "accept-version", "1.2", "host", "/")
	held.silent("CONNECT to a blackholed broker")
	waitFor(t, "the blackholed connection to be held", func() bool { return b.Accepted() == before+1 })
	open.send(frame.SEND, "destination", "/queue/q", "receipt", "r1")
	if f := open.read(); f.Command != frame.RECEIPT {
		t.Fatalf("open connection during Blackhole: got %s, want RECEIPT", f.Command)
	}
	if err := b.Heal(); err != nil {
		t.Fatal(err)
	}
	if _, err := held.next(waitLimit); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("held connection after Heal: %v; want connection reset", err)
	}
	connect(t, b.Addr())
}

func TestFreezeIsSilentAndThawServesWhatCameMeanwhile(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t, factorytest.WithHeartBeat(50*time.Millisecond))
	c := connect(t, b.Addr(), "heart-beat", "0,50")
	b.Freeze()
	c.send(frame.SEND, "destination", "/queue/q", "receipt", "r1")
	c.silent("frozen broker") // no heart-beat, no receipt, no RST, no FIN
	late := dial(t, b.Addr())
	late.send(frame.CONNECT, "accept-version", "1.2", "host", "/")
	late.silent("CONNECT to a frozen broker")
	b.Thaw()
	if f := c.read(); f.Command != frame.RECEIPT || f.Header.Get("receipt-id") != "r1" {
		t.Fatalf("after Thaw: got %s %v, want RECEIPT r1", f.Command, f.Header)
	}
	if f := late.read(); f.Command != frame.CONNECTED {
		t.Fatalf("after Thaw: got %s, want CONNECTED", f.Command)
	}
	if n := b.Queued("/queue/q"); n != 1 {
		t.Fatalf("Queued = %d, want 1", n)
	}
}

func TestKillEndsAFreeze(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t)
	c := connect(t, b.Addr())
	b.Freeze()
	b.Kill()
	if _, err := c.next(waitLimit); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after Freeze then Kill: %v; want connection reset", err)
	}
}

func TestMuteReceiptsStillDoesTheWork(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t)
	c := connect(t, b.Addr())
	b.MuteReceipts()
	c.send(frame.SEND, "destination", "/queue/q", "receipt", "r1")
	c.silent("muted receipt")
	if n := b.Queued("/queue/q"); n != 1 {
		t.Fatalf("Queued = %d, want 1: the SEND is stored though its receipt is muted", n)
	}
	if err := b.Heal(); err != nil {
		t.Fatal(err)
	}
	c.send(frame.SEND, "destination", "/queue/q", "receipt", "r2")
	if f := c.read(); f.Header.Get("receipt-id") != "r2" {
		t.Fatalf("after Heal: got %s %v, want RECEIPT r2", f.Command, f.Header)
	}
}

func TestCutMidFrame(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t)

	t.Run("CONNECTED", func(t *testing.T) {
		b.CutMidFrame()
		c := dial(t, b.Addr())
		c.send(frame.CONNECT, "accept-version", "1.2", "host", "/")
		_ = c.nc.SetReadDeadline(time.Now().Add(waitLimit))
		got, err := io.ReadAll(c.nc)
		if err != nil {
			t.Fatalf("read until EOF: %v", err)
		}
		if len(got) == 0 || !strings.HasPrefix("CONNECTED\n", string(got[:min(len(got), 10)])) ||
			strings.Contains(string(got), "\x00") {
			t.Fatalf("got %q, want the first part of a CONNECTED frame, no NUL", got)
		}
		connect(t, b.Addr()) // cut once: the next connection is whole
	})

	t.Run("MESSAGE is redelivered", func(t *testing.T) {
		p := connect(t, b.Addr())
		p.send(frame.SEND, "destination", "/queue/cut", "receipt", "r")
		p.read()
		c := connect(t, b.Addr())
		b.CutMidFrame()
		c.send(frame.SUBSCRIBE, "id", "s", "destination", "/queue/cut", "ack", "client-individual")
		if _, err := c.next(waitLimit); err == nil {
			t.Fatal("read a whole frame; want it cut")
		}
		c2 := connect(t, b.Addr())
		c2.send(frame.SUBSCRIBE, "id", "s", "destination", "/queue/cut", "ack", "client-individual")
		f := c2.read()
		if f.Command != frame.MESSAGE || f.Header.Get("redelivered") != "true" {
			t.Fatalf("got %s %v, want the cut MESSAGE redelivered", f.Command, f.Header)
		}
	})
}

func TestWithHeartBeatIsOfferedAndEnforcedAsAMinimum(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t, factorytest.WithHeartBeat(40*time.Millisecond))
	c := dial(t, b.Addr())
	c.send(frame.CONNECT, "accept-version", "1.2", "host", "/", "heart-beat", "0,10")
	f := c.read()
	if got := f.Header.Get("heart-beat"); got != "40,40" {
		t.Fatalf("CONNECTED heart-beat %q, want 40,40", got)
	}
	// The client asked for beats every 10 ms; the broker sends every 40:
	// after the first beat, a 400 ms window holds about 10 (at most
	// 400/40 + 1, plus what a slow reader finds queued), not about 40.
	_ = c.nc.SetReadDeadline(time.Now().Add(waitLimit))
	buf := make([]byte, 64)
	if _, err := io.ReadFull(c.nc, buf[:1]); err != nil || buf[0] != '\n' {
		t.Fatalf("first heart-beat: %q, %v", buf[:1], err)
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(400 * time.Millisecond))
	beats := 0
	for {
		n, err := c.nc.Read(buf)
		beats += strings.Count(string(buf[:n]), "\n")
		if err != nil {
			break
		}
	}
	if beats > 20 {
		t.Fatalf("%d heart-beats in 400ms: the broker beats faster than every 40ms", beats)
	}
	if _, err := factorytest.StartBroker(factorytest.WithHeartBeat(time.Microsecond)); err == nil ||
		!strings.Contains(err.Error(), "1ms") {
		t.Fatalf("WithHeartBeat(1µs): %v, want an error naming the 1ms minimum", err)
	}
}

func TestWithCredentials(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t, factorytest.WithCredentials("app", "s3cret"))
	c := dial(t, b.Addr())
	c.send(frame.CONNECT, "accept-version", "1.2", "host", "/", "login", "app", "passcode", "wrong")
	if f := c.read(); f.Command != frame.ERROR {
		t.Fatalf("wrong passcode: got %s, want ERROR", f.Command)
	}
	connect(t, b.Addr(), "login", "app", "passcode", "s3cret")

	cfg, err := b.Config("Orders")
	if err != nil {
		t.Fatal(err)
	}
	f, err := factory.New(cfg, factory.WithWatch(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	conn, err := f.CreateConnection("Orders")
	if err != nil {
		t.Fatalf("Config's credentials: %v", err)
	}
	_ = conn.Close()
}

func TestConfExtraLinesReplaceOrAppend(t *testing.T) {
	b := factorytest.NewBroker(t)
	got := b.Conf("F", "reconnect_attempt_count = 3", "send_timeout = 500")
	for _, want := range []string{"[F]\n", "url = " + b.URL() + "\n", "reconnect_attempt_count = 3\n", "send_timeout = 500\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("Conf lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "reconnect_attempt_count") != 1 {
		t.Errorf("reconnect_attempt_count not replaced:\n%s", got)
	}
	if _, err := b.Config("F", "no_such_key = 1"); err == nil {
		t.Error("Config accepted an unknown key")
	}
}

// The scenario the kit exists for: a factory connected to a pair loses
// the primary and carries on on the backup, without losing a message.
func TestPairFailoverWithTheFactory(t *testing.T) {
	leakcheck.Check(t)
	pair := factorytest.NewPair(t)
	cfg, err := pair.Config("Orders")
	if err != nil {
		t.Fatal(err)
	}
	reconnected := make(chan string, 1)
	f, err := factory.New(cfg, factory.WithWatch(false), factory.WithEventHandler(func(e factory.Event) {
		if e.Kind == factory.EventReconnected {
			select {
			case reconnected <- e.URL:
			default:
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	conn, err := f.CreateConnection("Orders")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.Send("/queue/orders", "text/plain", []byte("1"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if pair.Primary.Conns() != 1 || pair.Backup.Conns() != 0 {
		t.Fatalf("conns primary=%d backup=%d, want 1 and 0", pair.Primary.Conns(), pair.Backup.Conns())
	}
	pair.Primary.Kill()
	if err := conn.Send("/queue/orders", "text/plain", []byte("2"), stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("send after the primary died: %v", err)
	}
	select {
	case u := <-reconnected:
		if u != pair.Backup.URL() {
			t.Fatalf("reconnected to %s, want the backup %s", u, pair.Backup.URL())
		}
	case <-time.After(waitLimit):
		t.Fatal("no EventReconnected")
	}
	if n := pair.Backup.Queued("/queue/orders"); n != 2 {
		t.Fatalf("the backup holds %d messages, want 2", n)
	}
}

// A frozen broker takes nothing from a shared store: a message sent to the
// backup while the primary is frozen goes to the backup's consumer, not to
// a subscription on the frozen primary.
func TestFrozenPrimaryTakesNothingFromTheSharedStore(t *testing.T) {
	leakcheck.Check(t)
	pair := factorytest.NewPair(t)
	onPrimary := connect(t, pair.Primary.Addr())
	onPrimary.send(frame.SUBSCRIBE, "id", "s", "destination", "/queue/q", "ack", "client-individual", "receipt", "sub")
	onPrimary.read() // the subscription is in place
	pair.Primary.Freeze()
	onBackup := connect(t, pair.Backup.Addr())
	onBackup.send(frame.SEND, "destination", "/queue/q")
	onBackup.send(frame.SUBSCRIBE, "id", "s", "destination", "/queue/q", "ack", "client-individual")
	if f := onBackup.read(); f.Command != frame.MESSAGE {
		t.Fatalf("backup consumer got %s, want the MESSAGE", f.Command)
	}
}

// The broker takes client acknowledgements (go-stomp's own server stalls
// after the first message), NACKs, transactions, and redelivers what a
// consumer had not acknowledged when it went away.
func TestAcksNacksTransactionsRedelivery(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t)
	p := connect(t, b.Addr())
	receipt := func(c *client, id string) {
		t.Helper()
		if f := c.read(); f.Command != frame.RECEIPT || f.Header.Get("receipt-id") != id {
			t.Fatalf("got %s %v, want RECEIPT %s", f.Command, f.Header, id)
		}
	}

	// A transaction aborted sends nothing; one committed sends its messages.
	p.send(frame.BEGIN, "transaction", "t1")
	p.send(frame.SEND, "destination", "/queue/q", "transaction", "t1")
	p.send(frame.ABORT, "transaction", "t1", "receipt", "abort")
	receipt(p, "abort")
	if n := b.Queued("/queue/q"); n != 0 {
		t.Fatalf("Queued = %d after ABORT, want 0", n)
	}
	p.send(frame.BEGIN, "transaction", "t2")
	for i := 0; i < 3; i++ {
		p.send(frame.SEND, "destination", "/queue/q", "transaction", "t2")
	}
	p.send(frame.COMMIT, "transaction", "t2", "receipt", "commit")
	receipt(p, "commit")
	if n := b.Queued("/queue/q"); n != 3 {
		t.Fatalf("Queued = %d after COMMIT, want 3", n)
	}

	// client-individual: every message comes and each is acked alone; a
	// NACK sends the message again, marked redelivered.
	c := connect(t, b.Addr())
	c.send(frame.SUBSCRIBE, "id", "s", "destination", "/queue/q", "ack", "client-individual")
	var acks []string
	for i := 0; i < 3; i++ {
		f := c.read()
		if f.Command != frame.MESSAGE {
			t.Fatalf("message %d: got %s", i, f.Command)
		}
		acks = append(acks, f.Header.Get("ack"))
	}
	c.send(frame.NACK, "id", acks[0])
	if f := c.read(); f.Header.Get("redelivered") != "true" {
		t.Fatalf("after NACK: got %s %v, want the message redelivered", f.Command, f.Header)
	} else {
		acks[0] = f.Header.Get("ack")
	}
	c.send(frame.ACK, "id", acks[0])
	c.send(frame.ACK, "id", acks[1], "receipt", "acked")
	receipt(c, "acked")

	// The third was never acknowledged: when the consumer goes, it is
	// redelivered to the next one.
	_ = c.nc.Close()
	c2 := connect(t, b.Addr())
	c2.send(frame.SUBSCRIBE, "id", "s", "destination", "/queue/q", "ack", "client")
	if f := c2.read(); f.Command != frame.MESSAGE || f.Header.Get("redelivered") != "true" {
		t.Fatalf("next consumer: got %s %v, want the unacked message redelivered", f.Command, f.Header)
	}
	c2.silent("only the unacknowledged message")
}

// Restart clears every fault; a closed broker stays closed.
func TestRestartClearsFaultsAndCloseIsFinal(t *testing.T) {
	leakcheck.Check(t)
	b := factorytest.NewBroker(t)
	b.Refuse()
	b.MuteReceipts()
	b.Blackhole()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	c := connect(t, b.Addr()) // neither refused nor blackholed
	c.send(frame.SEND, "destination", "/queue/q", "receipt", "r")
	if f := c.read(); f.Command != frame.RECEIPT {
		t.Fatalf("got %s, want RECEIPT: receipts no longer muted", f.Command)
	}
	b.Close()
	b.Close() // idempotent
	if b.Running() {
		t.Fatal("running after Close")
	}
	if err := b.Restart(); !errors.Is(err, factorytest.ErrClosed) {
		t.Fatalf("Restart after Close: %v, want ErrClosed", err)
	}
	if err := b.Heal(); !errors.Is(err, factorytest.ErrClosed) {
		t.Fatalf("Heal after Close: %v, want ErrClosed", err)
	}
	refused(t, b.Addr())
}
