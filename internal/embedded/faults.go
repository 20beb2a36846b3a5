package embedded

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Faults beyond Kill. Each is what a client sees of a broker or network
// failure; they apply to both engines unless noted.

// Freeze stops the broker as a SIGSTOP would: open connections stay open,
// nothing more is read from or written to them, no RST is sent; new
// connections are accepted (the kernel's backlog) and not answered. What
// clients send meanwhile is served after Thaw. Kill ends a freeze.
func (b *Broker) Freeze() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.frozen == nil {
		b.frozen = make(chan struct{})
	}
}

// Thaw ends a Freeze; it is a no-op when the broker is not frozen.
func (b *Broker) Thaw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.thawLocked()
}

func (b *Broker) thawLocked() {
	if b.frozen != nil {
		close(b.frozen)
		b.frozen = nil
	}
}

// Frozen reports whether the broker is frozen.
func (b *Broker) Frozen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.frozen != nil
}

func (b *Broker) frozenCh() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.frozen
}

// Refuse stops listening: new dials get "connection refused" while open
// connections carry on. Listen ends it. It is a no-op unless running.
func (b *Broker) Refuse() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running {
		b.ln.refuse()
	}
}

// Listen ends a Refuse, listening again on the same address.
func (b *Broker) Listen() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running {
		return nil
	}
	return b.ln.listen()
}

// SetBlackhole, while on, makes the broker accept new connections and
// never answer them: nothing is read or written (the client's CONNECT waits
// for ever) while open connections carry on. Turning it off, or Kill,
// resets (RST) the connections it held.
func (b *Broker) SetBlackhole(on bool) {
	b.blackholed.Store(on)
	if on {
		return
	}
	b.mu.Lock()
	parked := b.parked
	b.parked = nil
	b.mu.Unlock()
	for _, c := range parked {
		rst(c)
	}
}

// park holds a connection accepted while blackholed; false if the broker
// stopped meanwhile (the caller closes it).
func (b *Broker) park(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running || !b.blackholed.Load() {
		return false
	}
	b.parked = append(b.parked, c)
	return true
}

// SetMuteReceipts, while on, makes an EngineMini broker drop every RECEIPT
// frame it would send (the frames are still processed): a client waiting
// for a receipt waits until its own timeout.
func (b *Broker) SetMuteReceipts(on bool) { b.muteReceipts.Store(on) }

// CutNextFrame makes an EngineMini broker write only the first half of the
// next frame it sends to any client (CONNECTED, MESSAGE, RECEIPT or ERROR;
// not a heart-beat), then close that connection: the client reads a partial
// frame, then EOF. What that connection had not acknowledged is requeued.
// CancelCut withdraws a cut that has not happened yet.
func (b *Broker) CutNextFrame() { b.cutNext.Store(true) }

// CancelCut withdraws a pending CutNextFrame.
func (b *Broker) CancelCut() { b.cutNext.Store(false) }

// Queued is how many messages a queue destination holds in the store,
// waiting for a consumer (EngineMini, or a SharedStorage).
func (b *Broker) Queued(queue string) int {
	b.mu.Lock()
	st := b.opts.Storage
	if st == nil {
		st = b.ownStore
	}
	b.mu.Unlock()
	if st == nil {
		return 0
	}
	return st.Len(queue)
}

// trackingListener records every accepted connection for Kill, keeps its
// address across Refuse, and holds connections accepted while blackholed.
type trackingListener struct {
	b    *Broker
	addr net.Addr

	mu       sync.Mutex
	ln       net.Listener  // nil while refusing
	resumed  chan struct{} // closed when listening again or closed; set while refusing
	closed   bool
	inject   net.Conn // handed out once when closed (a Kill's barrier)
	injected bool
}

// Addr implements net.Listener.
func (l *trackingListener) Addr() net.Addr { return l.addr }

// Close implements net.Listener; it is for good (Kill).
func (l *trackingListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.resumed != nil {
		close(l.resumed)
		l.resumed = nil
	}
	if l.ln != nil {
		return l.ln.Close()
	}
	return nil
}

func (l *trackingListener) refuse() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.ln == nil {
		return
	}
	_ = l.ln.Close()
	l.ln = nil
	l.resumed = make(chan struct{})
}

// listenRetries and listenRetryDelay bound the wait for a just-closed port.
const (
	listenRetries    = 50
	listenRetryDelay = 20 * time.Millisecond
)

// listenOn listens on addr, retrying briefly while a just-closed listener
// releases the port.
func listenOn(addr string) (net.Listener, error) {
	var ln net.Listener
	var err error
	for i := 0; i < listenRetries; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, errAddrInUse()) {
			break
		}
		<-time.After(listenRetryDelay)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen %s: %w", addr, err)
	}
	return ln, nil
}

func (l *trackingListener) listen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.ln != nil {
		return nil
	}
	ln, err := listenOn(l.addr.String())
	if err != nil {
		return err
	}
	l.ln = ln
	close(l.resumed)
	l.resumed = nil
	return nil
}

// Accept implements net.Listener: while refusing it waits for Listen or
// Close; once closed it returns a Kill's barrier connection, if any, then
// net.ErrClosed.
func (l *trackingListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			defer l.mu.Unlock()
			if l.inject != nil && !l.injected {
				l.injected = true
				return l.inject, nil
			}
			return nil, net.ErrClosed
		}
		ln, resumed := l.ln, l.resumed
		l.mu.Unlock()
		if ln == nil {
			<-resumed
			continue
		}
		c, err := ln.Accept()
		if err != nil {
			l.mu.Lock()
			again := l.closed || l.ln != ln // closed or refused meanwhile
			l.mu.Unlock()
			if again {
				continue
			}
			return nil, err
		}
		b := l.b
		if b.blackholed.Load() {
			if !b.park(c) {
				rst(c)
			}
			b.accepted.Add(1) // after parking: Accepted tells a test it is held
			continue
		}
		b.accepted.Add(1)
		b.mu.Lock()
		if !b.running {
			b.mu.Unlock()
			_ = c.Close()
			continue
		}
		tc := &trackedConn{Conn: c, b: b, released: make(chan struct{}), dead: make(chan struct{})}
		b.conns[tc] = struct{}{}
		b.mu.Unlock()
		return tc, nil
	}
}

// trackedConn is what the server sees; its Close is the server's last act
// on a connection (after requeueing what the client had not acknowledged).
// Its Read and Write wait while the broker is frozen.
type trackedConn struct {
	net.Conn
	b        *Broker
	once     sync.Once
	released chan struct{}
	killOnce sync.Once
	dead     chan struct{} // closed by kill: a frozen Read or Write gives up

	dmu    sync.Mutex
	rd, wd time.Time // deadlines as last set, moved on by a freeze
}

// Read implements net.Conn.
func (c *trackedConn) Read(p []byte) (int, error) {
	if err := c.hold(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if herr := c.hold(); herr != nil { // frozen while reading: keep it till Thaw
		return 0, herr
	}
	return n, err
}

// Write implements net.Conn.
func (c *trackedConn) Write(p []byte) (int, error) {
	if err := c.hold(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// SetDeadline implements net.Conn.
func (c *trackedConn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	c.rd, c.wd = t, t
	c.dmu.Unlock()
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	c.rd = t
	c.dmu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline implements net.Conn.
func (c *trackedConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	c.wd = t
	c.dmu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

// hold waits while the broker is frozen, then moves the deadlines on by
// the time frozen (a stopped process does not see time pass). It fails if
// the connection is killed meanwhile.
func (c *trackedConn) hold() error {
	ch := c.b.frozenCh()
	if ch == nil {
		return nil
	}
	start := time.Now()
	select {
	case <-ch:
	case <-c.dead:
		return net.ErrClosed
	}
	d := time.Since(start)
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if !c.rd.IsZero() {
		c.rd = c.rd.Add(d)
		_ = c.Conn.SetReadDeadline(c.rd)
	}
	if !c.wd.IsZero() {
		c.wd = c.wd.Add(d)
		_ = c.Conn.SetWriteDeadline(c.wd)
	}
	return nil
}

// kill resets the connection (a crash) and wakes a frozen Read or Write.
func (c *trackedConn) kill() {
	c.killOnce.Do(func() { close(c.dead) })
	rst(c.Conn)
}

// Close implements net.Conn.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.killOnce.Do(func() { close(c.dead) })
	c.once.Do(func() {
		c.b.mu.Lock()
		delete(c.b.conns, c)
		c.b.mu.Unlock()
		close(c.released)
	})
	return err
}

// rst closes a TCP connection with SO_LINGER 0, so the peer gets a RST.
func rst(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}
