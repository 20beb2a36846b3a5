// Package session is one STOMP 1.1/1.2 session over one network connection,
// built on go-stomp's frame codec. It has no failover: when anything goes
// wrong the session ends, once, and says why; the factory decides what next.
//
// # Why not stomp.Conn
//
// go-stomp's Conn blocks every receipt-requesting send until its receipt
// arrives (no pipelining), gives an idle producer no signal that the
// connection died, and stalls all reads while one subscriber is slow. A
// failover client needs all three, so the session drives the codec itself.
//
// # Deadlines
//
// The CONNECT→CONNECTED handshake is bounded by the context; every write by
// Config.WriteTimeout; reads by the negotiated heart-beat × grace (a silent
// peer ends the session with ErrHeartbeatTimeout); DISCONNECT by its context.
package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// Errors that end a session.
var (
	ErrClosed           = errors.New("stompft: session closed")
	ErrHeartbeatTimeout = errors.New("stompft: broker silent past the heart-beat deadline")
)

// DefaultWriteTimeout bounds one frame write when Config.WriteTimeout is 0.
const DefaultWriteTimeout = 10 * time.Second

// Config is what the CONNECT frame offers.
type Config struct {
	Host     string // STOMP host header (virtual host); "" = the dialled host
	Login    string
	Passcode string // never logged, never in an error
	ClientID string // sent as client-id (ActiveMQ's durable-subscription id)

	HeartBeatSend time.Duration // we can send a beat this often; 0 = never
	HeartBeatRecv time.Duration // we want a beat this often; 0 = never
	Grace         float64       // silence allowed = negotiated receive interval × Grace (min 1)

	WriteTimeout time.Duration // one frame write; 0 = DefaultWriteTimeout

	Tag uint64 // opaque to the session; returned by Tag()
}

// Callbacks receive what the broker sends. They run on the session's read
// goroutine: Message may block (that is back-pressure) but must return once
// Done is closed.
type Callbacks struct {
	Message func(f *frame.Frame)
	Receipt func(id string)
	// End runs once, synchronously, when the session ends (after Done is
	// closed), on whichever goroutine ended it; it must not block.
	End func(err error)
}

// ServerError is an ERROR frame from the broker.
type ServerError struct {
	Message   string // the message header
	Body      string // the body, trimmed
	ReceiptID string // receipt-id header, when the error answers a receipt
}

func (e *ServerError) Error() string {
	s := "broker sent ERROR"
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Body != "" && e.Body != e.Message {
		s += " (" + e.Body + ")"
	}
	return s
}

// ConnectError is an ERROR frame answering CONNECT (e.g. bad credentials).
// Retrying the same CONNECT elsewhere will not help: callers treat it as permanent.
type ConnectError struct{ ServerError }

func (e *ConnectError) Error() string { return "CONNECT refused: " + e.ServerError.Error() }

// Info is what CONNECTED told us.
type Info struct {
	Version   string
	Server    string
	SessionID string
	SendBeat  time.Duration // negotiated: we beat this often (0 = off)
	RecvBeat  time.Duration // negotiated: the broker beats this often (0 = off)
}

// Session is a connected STOMP session.
type Session struct {
	nc   net.Conn
	r    *frame.Reader
	cfg  Config
	cb   Callbacks
	info Info

	wmu       sync.Mutex
	w         *frame.Writer
	lastWrite atomic.Int64 // unix nanos
	bytesOut  atomic.Int64

	done    chan struct{}
	ending  atomic.Bool // set by end before the socket goes inert
	endOnce sync.Once
	err     error

	leaving     atomic.Bool // DISCONNECT sent: the peer hanging up is expected
	discMu      sync.Mutex
	discReceipt string
	discDone    chan struct{}

	pauseMu sync.Mutex
	paused  bool
	resume  chan struct{} // closed by Resume; non-nil while paused

	wg sync.WaitGroup
}

// Connect performs CONNECT→CONNECTED on nc within ctx and starts the session.
// On error nc is closed.
func Connect(ctx context.Context, nc net.Conn, cfg Config, cb Callbacks) (*Session, error) {
	if cfg.Grace < 1 {
		cfg.Grace = 1
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	cnt := &countingConn{Conn: nc}
	s := &Session{
		nc:   nc,
		r:    frame.NewReader(nc),
		w:    frame.NewWriter(cnt),
		cfg:  cfg,
		cb:   cb,
		done: make(chan struct{}),
	}
	cnt.n = &s.bytesOut
	info, err := s.handshake(ctx)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	s.info = info
	s.lastWrite.Store(time.Now().UnixNano())
	s.wg.Add(1)
	go s.readLoop()
	if info.SendBeat > 0 {
		s.wg.Add(1)
		go s.beatLoop()
	}
	return s, nil
}

func (s *Session) handshake(ctx context.Context) (Info, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.cfg.WriteTimeout)
	}
	_ = s.nc.SetDeadline(deadline)
	// A cancelled context must interrupt a blocked read at once.
	stop := context.AfterFunc(ctx, func() { _ = s.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	host := s.cfg.Host
	if host == "" {
		if h, _, err := net.SplitHostPort(s.nc.RemoteAddr().String()); err == nil {
			host = h
		} else {
			host = "/"
		}
	}
	f := frame.New(frame.CONNECT,
		frame.AcceptVersion, "1.1,1.2",
		frame.Host, host,
		frame.HeartBeat, beat(s.cfg.HeartBeatSend)+","+beat(s.cfg.HeartBeatRecv))
	if s.cfg.Login != "" {
		f.Header.Add(frame.Login, s.cfg.Login)
	}
	if s.cfg.Passcode != "" {
		f.Header.Add(frame.Passcode, s.cfg.Passcode)
	}
	if s.cfg.ClientID != "" {
		f.Header.Add("client-id", s.cfg.ClientID)
	}
	if err := s.w.Write(f); err != nil {
		return Info{}, ctxErr(ctx, fmt.Errorf("writing CONNECT: %w", err))
	}
	var resp *frame.Frame
	for resp == nil {
		var err error
		resp, err = s.r.Read()
		if err != nil {
			return Info{}, ctxErr(ctx, fmt.Errorf("waiting for CONNECTED: %w", err))
		}
	}
	switch resp.Command {
	case frame.CONNECTED:
	case frame.ERROR:
		return Info{}, &ConnectError{*serverError(resp)}
	default:
		return Info{}, fmt.Errorf("expected CONNECTED, broker sent %s", resp.Command)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	_ = s.nc.SetDeadline(time.Time{})
	info := Info{
		Version:   resp.Header.Get(frame.Version),
		Server:    resp.Header.Get(frame.Server),
		SessionID: resp.Header.Get(frame.Session),
	}
	if info.Version == "" {
		info.Version = "1.0"
	}
	if hb, ok := resp.Header.Contains(frame.HeartBeat); ok {
		sx, sy, err := frame.ParseHeartBeat(hb)
		if err != nil {
			return Info{}, fmt.Errorf("CONNECTED: bad heart-beat %q", hb)
		}
		// STOMP 1.2 §Heart-beating: each side beats at the larger of what
		// one offers and the other wants.
		if s.cfg.HeartBeatSend > 0 && sy > 0 {
			info.SendBeat = max(s.cfg.HeartBeatSend, sy)
		}
		if s.cfg.HeartBeatRecv > 0 && sx > 0 {
			info.RecvBeat = max(s.cfg.HeartBeatRecv, sx)
		}
	}
	return info, nil
}

// ctxErr prefers the context's reason: a deadline that fired mid-read is
// a timeout, not an I/O error.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	// The socket deadline is the context's: it can fire a hair before the
	// context's own timer does.
	var ne net.Error
	if d, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(d.Add(-5*time.Millisecond)) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

func beat(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func serverError(f *frame.Frame) *ServerError {
	return &ServerError{
		Message:   f.Header.Get(frame.Message),
		Body:      strings.TrimSpace(string(f.Body)),
		ReceiptID: f.Header.Get(frame.ReceiptId),
	}
}

// Tag returns Config.Tag.
func (s *Session) Tag() uint64 { return s.cfg.Tag }

// Info returns what CONNECTED negotiated.
func (s *Session) Info() Info { return s.info }

// RemoteAddr is the broker's address.
func (s *Session) RemoteAddr() net.Addr { return s.nc.RemoteAddr() }

// BytesOut is how many bytes this session has written.
func (s *Session) BytesOut() int64 { return s.bytesOut.Load() }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the session ended (nil while it runs). It is set from the
// moment the session starts ending, before End runs: whoever sees End's
// effects (under its own lock) also sees the cause here, though Done may
// not be closed yet.
func (s *Session) Err() error {
	if s.ending.Load() { // stored after err: reading err is safe
		return s.err
	}
	return nil
}

func (s *Session) end(err error) {
	s.endOnce.Do(func() {
		s.err = err
		s.ending.Store(true)
		// Inert at once: blocked reads and writes return now and nothing
		// more goes out. The read goroutine closes the socket as it exits,
		// so a close that stalls (TLS close_notify on a dead link waits up
		// to 5 s) never delays the failover.
		_ = s.nc.SetDeadline(time.Unix(1, 0))
		// End runs before Done closes: whoever waits on Done (the factory's
		// supervisor) must find the loss already applied.
		if s.cb.End != nil {
			s.cb.End(err)
		}
		close(s.done)
	})
}

func (s *Session) readLoop() {
	defer s.wg.Done()
	defer func() { _ = s.nc.Close() }()
	silence := time.Duration(float64(s.info.RecvBeat) * s.cfg.Grace)
	for {
		if !s.waitResumed() {
			return
		}
		if silence > 0 {
			_ = s.nc.SetReadDeadline(time.Now().Add(silence))
		}
		// After re-arming: end stores ending before it sets the past
		// deadline, so either we see it here or its deadline overrides ours.
		if s.ending.Load() {
			return
		}
		f, err := s.r.Read()
		if err != nil {
			if s.Err() != nil {
				return // ended elsewhere; the cause is already recorded
			}
			if s.leaving.Load() {
				s.end(ErrClosed)
				return
			}
			var ne net.Error
			if silence > 0 && errors.As(err, &ne) && ne.Timeout() && s.isPaused() {
				continue // paused from another goroutine mid-read: not silence
			}
			if silence > 0 && errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("%w (%v without a frame or beat)", ErrHeartbeatTimeout, silence)
			}
			s.end(err)
			return
		}
		if f == nil {
			continue // heart-beat
		}
		switch f.Command {
		case frame.MESSAGE:
			if s.cb.Message != nil {
				s.cb.Message(f)
			}
		case frame.RECEIPT:
			id := f.Header.Get(frame.ReceiptId)
			s.discMu.Lock()
			isDisc := s.discDone != nil && id == s.discReceipt
			if isDisc {
				close(s.discDone)
				s.discDone = nil
			}
			s.discMu.Unlock()
			if !isDisc && s.cb.Receipt != nil {
				s.cb.Receipt(id)
			}
		case frame.ERROR:
			s.end(serverError(f))
			return
		}
	}
}

// Pause stops reading after the frame being read (TCP back-pressure on the
// broker) and suspends the silence detector: time spent paused is not
// silence. It is idempotent and safe from any goroutine, callbacks included.
func (s *Session) Pause() {
	s.pauseMu.Lock()
	defer s.pauseMu.Unlock()
	if s.paused {
		return
	}
	s.paused = true
	s.resume = make(chan struct{})
	// A read already under way must not time out for a pause we chose.
	_ = s.nc.SetReadDeadline(time.Time{})
}

// Resume reads again after Pause; the silence deadline is re-armed from
// now. It is idempotent and safe from any goroutine.
func (s *Session) Resume() {
	s.pauseMu.Lock()
	defer s.pauseMu.Unlock()
	if !s.paused {
		return
	}
	s.paused = false
	close(s.resume)
	s.resume = nil
}

func (s *Session) isPaused() bool {
	s.pauseMu.Lock()
	defer s.pauseMu.Unlock()
	return s.paused
}

// waitResumed blocks while paused; false when the session ended meanwhile.
func (s *Session) waitResumed() bool {
	s.pauseMu.Lock()
	ch := s.resume
	s.pauseMu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-s.done:
		return false
	}
}

func (s *Session) beatLoop() {
	defer s.wg.Done()
	every := s.info.SendBeat
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, s.lastWrite.Load())) >= every/2 {
				_ = s.Write(nil)
			}
		}
	}
}

// Write sends one frame (nil = a heart-beat). A failed write ends the
// session: the frame did not reach the broker whole.
func (s *Session) Write(f *frame.Frame) error {
	s.wmu.Lock()
	select {
	case <-s.done:
		s.wmu.Unlock()
		return s.err
	default:
	}
	now := time.Now()
	_ = s.nc.SetWriteDeadline(now.Add(s.cfg.WriteTimeout))
	err := s.w.Write(f)
	s.lastWrite.Store(now.UnixNano())
	s.wmu.Unlock()
	if err != nil {
		err = fmt.Errorf("write: %w", err)
		s.end(err)
		return err
	}
	return nil
}

// Disconnect sends DISCONNECT, waits (within ctx) for its receipt so that
// everything sent before it was processed, and closes the session.
func (s *Session) Disconnect(ctx context.Context) error {
	ch := make(chan struct{})
	s.discMu.Lock()
	s.discReceipt = "stompft-disconnect"
	s.discDone = ch
	s.discMu.Unlock()
	s.leaving.Store(true)
	err := s.Write(frame.New(frame.DISCONNECT, frame.Receipt, "stompft-disconnect"))
	if err == nil {
		select {
		case <-ch:
		case <-s.done:
			if s.err != nil && !errors.Is(s.err, ErrClosed) {
				err = s.err
			}
		case <-ctx.Done():
			err = fmt.Errorf("DISCONNECT receipt: %w", ctx.Err())
		}
	}
	s.Close()
	return err
}

// Close ends the session at once and waits for its goroutines. It must not
// be called from a callback.
func (s *Session) Close() {
	s.end(ErrClosed)
	s.wg.Wait()
}

// Abort ends the session with RST (no FIN), as a crashed peer would; used by
// tests and by the factory when it drops a connection it no longer trusts.
func (s *Session) Abort(err error) {
	if tc, ok := s.nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	s.end(err)
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}
