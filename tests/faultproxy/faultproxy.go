package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what the proxy does with a newly accepted connection.
type Mode int

// Modes of [Proxy.SetMode].
const (
	// Forward dials the target and copies bytes both ways. The default.
	Forward Mode = iota
	// Refuse closes the listener: new dials fail with "connection refused",
	// as when a broker process is gone. Open connections are not touched
	// (use CutAll for that). Leaving Refuse listens again on the same port.
	Refuse
	// Blackhole accepts and keeps the socket open but neither reads from it
	// nor dials the target: the client's CONNECT is never answered and its
	// writes pile up in the kernel buffers. Since nothing is read, a client
	// closing its side goes unnoticed: the connection counts in Conns until
	// CutAll or Close.
	Blackhole
	// AcceptNoAnswer accepts, reads and discards everything, never replies:
	// a hung broker (as ActiveMQ under SIGSTOP, seen from the client).
	AcceptNoAnswer
	// Drop accepts and closes at once (FIN): the client sees EOF before any
	// byte, as from a broker that is shutting down.
	Drop
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Forward:
		return "Forward"
	case Refuse:
		return "Refuse"
	case Blackhole:
		return "Blackhole"
	case AcceptNoAnswer:
		return "AcceptNoAnswer"
	case Drop:
		return "Drop"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Errors of the proxy.
var (
	ErrClosed  = errors.New("faultproxy: proxy closed")
	ErrBadMode = errors.New("faultproxy: unknown mode")
)

// dialTimeout bounds the dial to the target for one forwarded connection.
const dialTimeout = 5 * time.Second

// Proxy is a fault-injecting TCP proxy. Its methods are safe for concurrent
// use. Create it with [New]; stop it with [Proxy.Close].
type Proxy struct {
	target string
	addr   string // fixed listen address, kept across Refuse

	ctx    context.Context // cancelled by Close: aborts dials and delays
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the proxy

	delay    atomic.Int64 // server→client delay per chunk, ns
	cutAfter atomic.Int64 // bytes server→client before RST for new conns; <0 off
	accepted atomic.Int64

	mu     sync.Mutex
	ln     net.Listener // nil while in Refuse mode or closed
	mode   Mode
	conns  map[*conn]struct{}
	closed bool
}

// New starts a proxy listening on 127.0.0.1:0 that forwards to target.
// The target is dialled per accepted connection, so it need not be up yet.
func New(target string) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("faultproxy: bad target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: target,
		addr:   ln.Addr().String(),
		ctx:    ctx,
		cancel: cancel,
		ln:     ln,
		conns:  map[*conn]struct{}{},
	}
	p.cutAfter.Store(-1)
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return p, nil
}

// Addr returns the address clients dial ("127.0.0.1:port"). It stays the
// same for the proxy's life, including after Refuse.
func (p *Proxy) Addr() string { return p.addr }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// SetMode sets what happens to connections accepted from now on (see
// [Mode]); open connections keep their behaviour. The only error is from
// listening again when leaving [Refuse] (the port may have been taken), or
// [ErrBadMode], or [ErrClosed].
func (p *Proxy) SetMode(m Mode) error {
	if m < Forward || m > Drop {
		return fmt.Errorf("%w: %d", ErrBadMode, int(m))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.mode = m
	switch {
	case m == Refuse && p.ln != nil:
		err := p.ln.Close()
		p.ln = nil
		if err != nil {
			return fmt.Errorf("faultproxy: close listener: %w", err)
		}
	case m != Refuse && p.ln == nil:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("faultproxy: listen again on %s: %w", p.addr, err)
		}
		p.ln = ln
		p.wg.Add(1)
		go p.acceptLoop(ln)
	}
	return nil
}

// Mode returns the current mode for new connections.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// AcceptThenDrop is SetMode(Drop): every new connection is accepted and
// closed at once.
func (p *Proxy) AcceptThenDrop() { _ = p.SetMode(Drop) }

// SetDelay delays every chunk the server sends to the client by d, on open
// and new connections (e.g. a slow CONNECTED). Zero turns it off. Chunks
// keep their order; each waits its own d.
func (p *Proxy) SetDelay(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.delay.Store(int64(d))
}

// CutAfter makes connections accepted from now on forward only n bytes
// from the server to the client and then reset both sides (a partial
// frame). With n == 0 the reset comes when the server first sends. A
// negative n turns it off.
func (p *Proxy) CutAfter(n int64) {
	if n < 0 {
		n = -1
	}
	p.cutAfter.Store(n)
}

// CutAll resets every open connection: both the client and the server side
// are closed with SO_LINGER 0, so each peer gets a TCP RST (a crash or a
// network cut, seen at once).
func (p *Proxy) CutAll() {
	for _, c := range p.snapshot() {
		c.close(true)
	}
}

// BlackholeAll makes every open connection stop forwarding in both
// directions while its sockets stay open: bytes are read and dropped, and a
// peer closing its side is not passed on. Only heart-beats or timeouts can
// tell (a network partition).
func (p *Proxy) BlackholeAll() {
	for _, c := range p.snapshot() {
		c.blackholed.Store(true)
	}
}

// Conns returns the number of open client connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Accepted returns the number of connections accepted since New.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Close stops listening, closes every connection and waits for every
// goroutine of the proxy to end. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var err error
	if p.ln != nil {
		err = p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.cancel()
	p.CutAll()
	p.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("faultproxy: close listener: %w", err)
	}
	return nil
}

func (p *Proxy) snapshot() []*conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	return cs
}

func (p *Proxy) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (e.g. too many open files): retry soon.
			t := time.NewTimer(10 * time.Millisecond)
			select {
			case <-p.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		p.accepted.Add(1)
		p.mu.Lock()
		mode, closed := p.mode, p.closed
		p.mu.Unlock()
		if closed {
			_ = nc.Close()
			return
		}
		p.wg.Add(1)
		go p.handle(nc, mode)
	}
}

// handle runs one accepted connection according to the mode it got.
func (p *Proxy) handle(client net.Conn, mode Mode) {
	defer p.wg.Done()
	switch mode {
	case Drop:
		_ = client.Close()
		return
	case Blackhole:
		c := newConn(p, client, nil, -1)
		c.blackholed.Store(true)
		if p.register(c) {
			// Nothing is read: wait for CutAll or Close.
			<-c.done
		}
		return
	case AcceptNoAnswer:
		c := newConn(p, client, nil, -1)
		if p.register(c) {
			c.discard(client)
			c.close(false)
		}
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	var d net.Dialer
	server, err := d.DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		// The target is down: the client sees a reset, the nearest thing to
		// the refused dial it would have got without the proxy.
		rst(client)
		return
	}
	c := newConn(p, client, server, p.cutAfter.Load())
	if !p.register(c) {
		return
	}
	p.wg.Add(2)
	go c.pumpUp()
	go c.pumpDown()
}

// register adds c to the open connections, or closes it if the proxy is
// closed (then it returns false).
func (p *Proxy) register(c *conn) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close(true)
		return false
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	return true
}

func (p *Proxy) unregister(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// rst closes a TCP connection with SO_LINGER 0, so the peer gets a RST.
func rst(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}

// conn is one proxied connection: the accepted client socket and, when
// forwarding, the socket to the target.
type conn struct {
	p          *Proxy
	client     net.Conn
	server     net.Conn // nil unless forwarding
	cutAt      int64    // server→client bytes before RST; <0 off
	blackholed atomic.Bool

	once sync.Once
	done chan struct{} // closed by close
	// halves counts the pumps still running; the last one out closes the
	// connection even when blackholed.
	halves atomic.Int32
}

func newConn(p *Proxy, client, server net.Conn, cutAt int64) *conn {
	c := &conn{p: p, client: client, server: server, cutAt: cutAt, done: make(chan struct{})}
	c.halves.Store(2)
	return c
}

// close closes both sockets (with a RST if reset) once and forgets c.
func (c *conn) close(reset bool) {
	c.once.Do(func() {
		for _, nc := range []net.Conn{c.client, c.server} {
			if nc == nil {
				continue
			}
			if reset {
				rst(nc)
			} else {
				_ = nc.Close()
			}
		}
		close(c.done)
		c.p.unregister(c)
	})
}

// discard reads from nc and drops the bytes until a read fails.
func (c *conn) discard(nc net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		if _, err := nc.Read(buf); err != nil {
			return
		}
	}
}

// pumpEnd ends one direction: normally the whole connection closes; when
// blackholed the other side is left open (a partition hides the close), and
// the connection closes when both directions have ended.
func (c *conn) pumpEnd(from net.Conn) {
	if c.halves.Add(-1) == 0 || !c.blackholed.Load() {
		c.close(false)
		return
	}
	_ = from.Close()
}

// pumpUp copies client→server.
func (c *conn) pumpUp() {
	defer c.p.wg.Done()
	defer c.pumpEnd(c.client)
	buf := make([]byte, 32*1024)
	for {
		n, err := c.client.Read(buf)
		if n > 0 && !c.blackholed.Load() {
			if _, werr := c.server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pumpDown copies server→client, applying the delay and the cut.
func (c *conn) pumpDown() {
	defer c.p.wg.Done()
	defer c.pumpEnd(c.server)
	buf := make([]byte, 32*1024)
	var sent int64
	for {
		n, err := c.server.Read(buf)
		if n > 0 && !c.blackholed.Load() {
			if !c.wait(time.Duration(c.p.delay.Load())) {
				return
			}
			if c.blackholed.Load() { // BlackholeAll during the delay
				continue
			}
			chunk := buf[:n]
			cut := c.cutAt >= 0 && sent+int64(n) >= c.cutAt
			if cut {
				chunk = chunk[:c.cutAt-sent]
			}
			if len(chunk) > 0 {
				if _, werr := c.client.Write(chunk); werr != nil {
					return
				}
				sent += int64(len(chunk))
			}
			if cut {
				c.close(true)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait waits d unless the connection or the proxy closes first (false).
func (c *conn) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	case <-c.p.ctx.Done():
		return false
	}
}
