package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// wait is the bound of every wait in these tests.
const wait = 10 * time.Second

// quiet is how long a test listens for bytes that must not come. It can only
// make a broken proxy pass by luck, never a working one fail.
const quiet = 200 * time.Millisecond

// server is a loopback TCP server for the tests: if greeting is set it
// answers the first read with it, then it echoes. It counts connections and closes them all on
// cleanup.
type server struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func startServer(t *testing.T, greeting []byte) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if len(greeting) > 0 {
					// Like a broker: the client speaks first (CONNECT), so
					// its dial is complete before anything comes back.
					if _, err := c.Read(make([]byte, 512)); err != nil {
						return
					}
					if _, err := c.Write(greeting); err != nil {
						return
					}
				}
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

// setup checks for leaked goroutines after everything else is cleaned up,
// and returns a proxy to a greeting+echo server.
func setup(t *testing.T, greeting []byte) (*Proxy, *server) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first, runs last
	s := startServer(t, greeting)
	p, err := New(s.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p, s
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connect sends the first bytes a greeting server waits for.
func connect(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("CONNECT\n\n\x00")); err != nil {
		t.Fatalf("write CONNECT: %v", err)
	}
}

// echo writes msg and reads it back within the bound.
func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

// silent asserts that nothing arrives on c for a while and the connection
// stays open.
func silent(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(quiet))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read = %d, %v; want a timeout (nothing forwarded, still open)", n, err)
	}
}

// eventually waits for cond with a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", wait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readErr reads until an error within the bound and returns bytes and error.
func readErr(t *testing.T, c net.Conn) ([]byte, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	if err == nil {
		err = io.EOF // io.Copy hides EOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", wait)
	}
	return buf.Bytes(), err
}

func TestForward(t *testing.T) {
	p, s := setup(t, nil)
	c := dial(t, p.Addr())
	echo(t, c, "CONNECT\n\n\x00")
	echo(t, c, "second")
	if got := p.Conns(); got != 1 {
		t.Errorf("Conns() = %d, want 1", got)
	}
	if got := p.Accepted(); got != 1 {
		t.Errorf("Accepted() = %d, want 1", got)
	}
	if got := s.accepted.Load(); got != 1 {
		t.Errorf("server accepted %d, want 1", got)
	}
	c.Close()
	eventually(t, "Conns() == 0 after the client closed", func() bool { return p.Conns() == 0 })
}

func TestModeAppliesToNewConnections(t *testing.T) {
	tests := []struct {
		mode Mode
		// check runs on a connection accepted in mode.
		check func(t *testing.T, c net.Conn)
		// reachesServer: the target sees a connection.
		reachesServer bool
		open          int // p.Conns() while c is open
	}{
		{mode: Forward, check: func(t *testing.T, c net.Conn) { echo(t, c, "hi") }, reachesServer: true, open: 1},
		{mode: Blackhole, check: func(t *testing.T, c net.Conn) {
			if _, err := c.Write([]byte("CONNECT\n\n\x00")); err != nil {
				t.Fatal(err)
			}
			silent(t, c)
		}, open: 1},
		{mode: AcceptNoAnswer, check: func(t *testing.T, c net.Conn) {
			if _, err := c.Write([]byte("CONNECT\n\n\x00")); err != nil {
				t.Fatal(err)
			}
			silent(t, c)
		}, open: 1},
		{mode: Drop, check: func(t *testing.T, c net.Conn) {
			data, err := readErr(t, c)
			if len(data) != 0 || (!errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET)) {
				t.Fatalf("read %q, %v; want EOF at once", data, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			p, s := setup(t, nil)
			if err := p.SetMode(tt.mode); err != nil {
				t.Fatal(err)
			}
			if got := p.Mode(); got != tt.mode {
				t.Fatalf("Mode() = %v, want %v", got, tt.mode)
			}
			c := dial(t, p.Addr())
			tt.check(t, c)
			eventually(t, "accepted", func() bool { return p.Accepted() == 1 })
			eventually(t, "Conns", func() bool { return p.Conns() == tt.open })
			if got := s.accepted.Load() == 1; got != tt.reachesServer {
				t.Errorf("server reached = %v, want %v", got, tt.reachesServer)
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	p, _ := setup(t, nil)
	old := dial(t, p.Addr())
	// Established through the proxy first: a connection still in the
	// kernel's accept queue when the listener closes is reset, as it would
	// be by a real server closing its listener.
	echo(t, old, "before")
	if err := p.SetMode(Refuse); err != nil {
		t.Fatal(err)
	}
	_, err := net.DialTimeout("tcp", p.Addr(), wait)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial in Refuse mode: %v, want connection refused", err)
	}
	echo(t, old, "open connections keep working")
	addr := p.Addr()
	if err := p.SetMode(Forward); err != nil {
		t.Fatal(err)
	}
	if p.Addr() != addr {
		t.Fatalf("Addr changed from %s to %s", addr, p.Addr())
	}
	echo(t, dial(t, p.Addr()), "accepted again")
}

func TestCutAll(t *testing.T) {
	p, s := setup(t, nil)
	c1, c2 := dial(t, p.Addr()), dial(t, p.Addr())
	echo(t, c1, "a")
	echo(t, c2, "b")
	eventually(t, "server sees both", func() bool { return s.accepted.Load() == 2 })
	p.CutAll()
	for _, c := range []net.Conn{c1, c2} {
		if _, err := readErr(t, c); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read after CutAll: %v, want connection reset", err)
		}
	}
	if got := p.Conns(); got != 0 {
		t.Errorf("Conns() = %d after CutAll, want 0", got)
	}
	// The server side is reset too.
	s.mu.Lock()
	sc := s.conns[0]
	s.mu.Unlock()
	if _, err := readErr(t, sc); err == nil {
		t.Error("server side still open after CutAll")
	}
	echo(t, dial(t, p.Addr()), "new connections still forwarded")
}

func TestBlackholeAll(t *testing.T) {
	p, _ := setup(t, []byte("CONNECTED\n\n\x00"))
	c := dial(t, p.Addr())
	connect(t, c)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	greet := make([]byte, len("CONNECTED\n\n\x00"))
	if _, err := io.ReadFull(c, greet); err != nil {
		t.Fatal(err)
	}
	p.BlackholeAll()
	if _, err := c.Write([]byte("SEND\n\n\x00")); err != nil {
		t.Fatal(err)
	}
	silent(t, c)
	if got := p.Conns(); got != 1 {
		t.Errorf("Conns() = %d, want 1 (blackholed, still open)", got)
	}
	c2 := dial(t, p.Addr())
	connect(t, c2)
	_ = c2.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadFull(c2, greet); err != nil {
		t.Fatalf("new connection after BlackholeAll: %v", err)
	}
	echo(t, c2, "new connections are forwarded")
	p.CutAll()
	if _, err := readErr(t, c); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after CutAll: %v, want reset", err)
	}
}

// TestBlackholeHidesClose: a client closing a blackholed connection is not
// passed on to the server (as in a partition).
func TestBlackholeHidesClose(t *testing.T) {
	p, s := setup(t, nil)
	c := dial(t, p.Addr())
	echo(t, c, "x")
	p.BlackholeAll()
	c.Close()
	s.mu.Lock()
	sc := s.conns[0]
	s.mu.Unlock()
	silent(t, sc)
}

func TestSetDelay(t *testing.T) {
	p, _ := setup(t, nil)
	c := dial(t, p.Addr())
	echo(t, c, "warm")
	const d = 300 * time.Millisecond
	p.SetDelay(d)
	start := time.Now()
	echo(t, c, "slow")
	// A lower bound only: the delay guarantees it on any machine.
	if el := time.Since(start); el < d {
		t.Fatalf("echo took %v with SetDelay(%v)", el, d)
	}
	p.SetDelay(0)
	echo(t, c, "fast again")
}

func TestCutAfter(t *testing.T) {
	greeting := []byte("CONNECTED\nversion:1.2\n\n\x00")
	tests := []struct {
		name string
		n    int64
		want int // bytes the client gets before the reset
	}{
		{"mid-frame", 10, 10},
		{"zero", 0, 0},
		{"whole greeting", int64(len(greeting)), len(greeting)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := setup(t, greeting)
			p.CutAfter(tt.n)
			c := dial(t, p.Addr())
			connect(t, c)
			data, err := readErr(t, c)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("err = %v, want connection reset", err)
			}
			if !bytes.Equal(data, greeting[:tt.want]) {
				t.Errorf("got %q before the reset, want %q", data, greeting[:tt.want])
			}
			p.CutAfter(-1)
			c2 := dial(t, p.Addr())
			connect(t, c2)
			_ = c2.SetReadDeadline(time.Now().Add(wait))
			got := make([]byte, len(greeting))
			if _, err := io.ReadFull(c2, got); err != nil {
				t.Fatalf("after CutAfter(-1): %v", err)
			}
		})
	}
}

func TestAcceptThenDrop(t *testing.T) {
	p, s := setup(t, nil)
	p.AcceptThenDrop()
	data, err := readErr(t, dial(t, p.Addr()))
	if len(data) != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("got %q, %v; want EOF", data, err)
	}
	if s.accepted.Load() != 0 {
		t.Error("a dropped connection reached the server")
	}
}

func TestTargetDown(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	// Port 1 (tcpmux) has no listener on a test machine: dials are refused.
	// (A just-closed ephemeral port could be reused by the proxy itself.)
	const target = "127.0.0.1:1"
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Target() != target {
		t.Errorf("Target() = %q", p.Target())
	}
	// On loopback the reset can beat the dial's own completion check, so
	// it shows up either as a failed dial or as the first read's error.
	c, err := net.DialTimeout("tcp", p.Addr(), wait)
	if err == nil {
		defer c.Close()
		_, err = readErr(t, c)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want reset when the target refuses", err)
	}
}

func TestErrors(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	if _, err := New("no-port"); err == nil {
		t.Error("New(no-port) succeeded")
	}
	p, err := New("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Mode{-1, Drop + 1} {
		if err := p.SetMode(m); !errors.Is(err, ErrBadMode) {
			t.Errorf("SetMode(%v) = %v, want ErrBadMode", m, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.SetMode(Forward); !errors.Is(err, ErrClosed) {
		t.Errorf("SetMode after Close = %v, want ErrClosed", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), wait); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Close: %v, want refused", err)
	}
}

// TestCloseWithOpenConnections: Close ends every goroutine whatever state
// the connections are in (goleak checks it in setup's cleanup).
func TestCloseWithOpenConnections(t *testing.T) {
	p, _ := setup(t, nil)
	var conns []net.Conn
	for _, m := range []Mode{Forward, Blackhole, AcceptNoAnswer} {
		if err := p.SetMode(m); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, dial(t, p.Addr()))
		want := int64(len(conns))
		eventually(t, "accept", func() bool { return p.Accepted() == want })
	}
	p.SetDelay(time.Hour) // a pending delayed chunk must not block Close
	if err := p.SetMode(Forward); err != nil {
		t.Fatal(err)
	}
	slow := dial(t, p.Addr())
	if _, err := slow.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "4 open", func() bool { return p.Conns() == 4 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := p.Conns(); got != 0 {
		t.Errorf("Conns() = %d after Close", got)
	}
	for _, c := range append(conns, slow) {
		if _, err := readErr(t, c); err == nil {
			t.Error("connection open after Close")
		}
	}
}

func TestModeString(t *testing.T) {
	tests := map[Mode]string{Forward: "Forward", Refuse: "Refuse", Blackhole: "Blackhole",
		AcceptNoAnswer: "AcceptNoAnswer", Drop: "Drop", Mode(42): "Mode(42)"}
	for m, want := range tests {
		if got := m.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(m), got, want)
		}
	}
}
