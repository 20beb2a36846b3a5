package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/attempts"
)

// FrameRateFloor is the slowest a frame may arrive once begun: after its
// first FrameReadTimeout, FrameRateFloor bytes per FrameReadTimeout on
// average. A frame of n bytes is thus read whole within
// FrameReadTimeout × (1 + n / FrameRateFloor), at most FrameReadTimeout ×
// (1 + (MaxHeaderBytes + MaxFrameSize) / FrameRateFloor): 257 ×
// FrameReadTimeout at the default limits, whatever the peer dribbles. At
// the default 30 s that floor is about 8.5 KiB/s.
const FrameRateFloor = 256 << 10

// frameBudget is the time a frame of which n bytes were read may take in
// all since its first byte.
func frameBudget(frameReadTimeout time.Duration, n int64) time.Duration {
	k := 1 + float64(n)/FrameRateFloor
	if b := float64(frameReadTimeout) * k; b < float64(maxDuration) {
		return time.Duration(b)
	}
	return maxDuration
}

const maxDuration = time.Duration(1<<63 - 1)

// Errors that end a session.
var (
	ErrClosed           = errors.New("stompft: session closed")
	ErrHeartbeatTimeout = errors.New("stompft: broker silent past the heart-beat deadline")
	// ErrFrameReadTimeout ends a session whose broker stopped sending in the
	// middle of a frame for Config.FrameReadTimeout (heart-beats off, or
	// their silence window longer).
	ErrFrameReadTimeout = errors.New("stompft: broker stopped in the middle of a frame")
)

const (
	// DefaultWriteTimeout bounds one frame write when Config.WriteTimeout is 0.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultFrameReadTimeout bounds the wait for more of a partly read
	// frame when Config.FrameReadTimeout is 0.
	DefaultFrameReadTimeout = 30 * time.Second
	// DefaultGrace is Config.Grace when it is 0. ActiveMQ skips its next
	// beat after any frame it sends, so the gap between its beats reaches
	// twice the interval; 2.5 leaves half an interval for scheduling.
	DefaultGrace = 2.5
)

// Config is what the CONNECT frame offers, and the session's bounds.
type Config struct {
	Host     string // STOMP host header (virtual host); "" = the dialled host
	Login    string
	Passcode string // never logged, never in an error: scrubbed from any broker text
	ClientID string // sent as client-id (ActiveMQ's durable-subscription id)

	// Heart-beats, rounded up to whole milliseconds (the unit of the
	// heart-beat header), so what CONNECT offers is what is enforced.
	HeartBeatSend time.Duration // we can send a beat this often; 0 = never
	HeartBeatRecv time.Duration // we want a beat this often; 0 = never
	// Grace: silence allowed = negotiated receive interval × Grace; 0 =
	// DefaultGrace, values below 1 count as 1.
	Grace float64

	WriteTimeout time.Duration // one frame write; 0 = DefaultWriteTimeout
	// FrameReadTimeout bounds the wait for the next byte of a partly read
	// frame, heart-beats on or off (with heart-beats, the shorter of it and
	// the silence window applies); 0 = DefaultFrameReadTimeout. Between
	// frames only heart-beats bound the wait: with them off an idle
	// connection may stay quiet for ever.
	FrameReadTimeout time.Duration
	// Limits bound every frame read, CONNECTED included.
	Limits Limits

	// ServeInCaller: Connect starts no read goroutine; the caller must
	// call Serve (on a goroutine of its choice) once it has handed the
	// session on, or Close will wait for ever.
	ServeInCaller bool

	URL string // the endpoint, without credentials: named by LimitError
	Tag uint64 // opaque to the session; returned by Tag()
}

// Callbacks receive what the broker sends. They run on the session's read
// goroutine, one at a time, in the order the frames arrived.
type Callbacks struct {
	// Message must not block: while it runs nothing else is read (no
	// receipt, no heart-beat, no other subscription), so it hands the frame
	// on (the factory enqueues it per subscription) and returns. To stop
	// the broker's flow, call Pause (from Message itself or from any
	// goroutine): reading stops after the frame being delivered, and TCP
	// back-pressure does the rest.
	Message func(f *frame.Frame)
	Receipt func(id string)
	// End runs once, synchronously, when the session ends (Err is set and
	// Write refuses; Done closes after End returns), on whichever goroutine
	// ended it; it must not block.
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

// Info is what CONNECTED told us (header values scrubbed of the passcode,
// Server and SessionID capped at 4 KiB).
type Info struct {
	Version   string
	Server    string
	SessionID string
	SendBeat  time.Duration // negotiated: we beat this often (0 = off)
	RecvBeat  time.Duration // negotiated: the broker beats this often (0 = off)
	// Silence is how long the session waits for a byte between frames
	// before ending with ErrHeartbeatTimeout: RecvBeat × Grace (0 = never).
	Silence time.Duration
}

// Session is a connected STOMP session.
type Session struct {
	nc   net.Conn
	r    *frameReader
	cfg  Config
	cb   Callbacks
	info Info

	wmu       sync.Mutex
	w         *frame.Writer
	raw       io.Writer    // the counted socket, for the unescaped CONNECT
	lastWrite atomic.Int64 // unix nanos
	bytesOut  atomic.Int64

	done    chan struct{}
	ending  atomic.Bool // set by end before the socket goes inert
	endOnce sync.Once
	err     error

	scrubOnce sync.Once
	forms     []string // secretForms(cfg.Passcode)
	scrubR    *strings.Replacer

	pauseMu  sync.Mutex
	paused   bool
	resumeCh chan struct{} // closed by Resume; made by Pause

	beatMu   sync.Mutex
	beatT    *time.Timer // the next heart-beat (see startBeats)
	beatsOff bool        // set once the session ended: no more re-arming

	leaving     atomic.Bool // DISCONNECT sent: the peer hanging up is expected
	discMu      sync.Mutex
	discReceipt string
	discDone    chan struct{}

	wg sync.WaitGroup
}

// Connect performs CONNECT→CONNECTED on nc within ctx and starts the session.
// On error nc is closed.
func Connect(ctx context.Context, nc net.Conn, cfg Config, cb Callbacks) (*Session, error) {
	switch {
	case cfg.Grace == 0:
		cfg.Grace = DefaultGrace
	case cfg.Grace < 1:
		cfg.Grace = 1
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.FrameReadTimeout <= 0 {
		cfg.FrameReadTimeout = DefaultFrameReadTimeout
	}
	cfg.HeartBeatSend = roundBeat(cfg.HeartBeatSend)
	cfg.HeartBeatRecv = roundBeat(cfg.HeartBeatRecv)
	cnt := &countingConn{Conn: nc}
	s := &Session{
		nc:   nc,
		r:    newFrameReader(nc, cfg.Limits, cfg.URL),
		w:    frame.NewWriter(cnt),
		cfg:  cfg,
		cb:   cb,
		done: make(chan struct{}),
	}
	cnt.n = &s.bytesOut
	s.raw = cnt
	info, err := s.handshake(ctx)
	if err != nil {
		_ = nc.Close()
		var le *LimitError
		if errors.As(err, &le) {
			// A broker whose CONNECTED passes the limits will do it again:
			// retrying it at once is a hot loop.
			err = attempts.Permanent(err)
		}
		return nil, err
	}
	s.info = info
	s.lastWrite.Store(time.Now().UnixNano())
	s.wg.Add(1)
	if !cfg.ServeInCaller {
		go s.readLoop()
	}
	if info.SendBeat > 0 {
		s.startBeats()
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
	for _, v := range []string{host, s.cfg.Login, s.cfg.Passcode, s.cfg.ClientID} {
		if strings.ContainsAny(v, "\r\n\x00") {
			// Never quoted: it may be the passcode.
			return Info{}, attempts.Permanent(errors.New("CONNECT: a login, passcode, host or client-id holds a line break or NUL, which a STOMP CONNECT frame cannot carry"))
		}
	}
	if _, err := s.raw.Write(connectBytes(f)); err != nil {
		return Info{}, ctxErr(ctx, fmt.Errorf("writing CONNECT: %w", err))
	}
	// The socket deadline is the context's (or WriteTimeout): however the
	// broker dribbles, reading CONNECTED ends by then, and the reader's
	// limits bound what it can cost.
	var resp *frame.Frame
	for resp == nil {
		var err error
		resp, err = s.r.Read()
		if err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				return Info{}, fmt.Errorf("waiting for CONNECTED: %w", err)
			}
			return Info{}, ctxErr(ctx, fmt.Errorf("waiting for CONNECTED: %w", err))
		}
	}
	switch resp.Command {
	case frame.CONNECTED:
	case frame.ERROR:
		return Info{}, &ConnectError{*s.serverError(resp)}
	default:
		return Info{}, fmt.Errorf("expected CONNECTED, broker sent %s", resp.Command)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	_ = s.nc.SetDeadline(time.Time{})
	info := Info{
		Version:   s.scrub(resp.Header.Get(frame.Version)),
		Server:    s.brokerText(resp.Header.Get(frame.Server)),
		SessionID: s.brokerText(resp.Header.Get(frame.Session)),
	}
	switch info.Version {
	case "1.1", "1.2":
	case "":
		info.Version = "1.0" // a STOMP 1.0 server: it does not send the header
	default:
		// A broker that answers with a version CONNECT did not offer
		// speaks another protocol than the one we frame: it will again.
		return Info{}, attempts.Permanent(fmt.Errorf("CONNECTED: version %q was not offered (accept-version 1.1,1.2)", s.brokerText(info.Version)))
	}
	if hb, ok := resp.Header.Contains(frame.HeartBeat); ok {
		sx, sy, err := frame.ParseHeartBeat(hb)
		if err != nil {
			return Info{}, fmt.Errorf("CONNECTED: bad heart-beat %q", s.brokerText(hb))
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
	// Saturated: a broker offering beats 2^53 ms apart must not make the
	// window overflow into a negative (never enforced) duration.
	if f := float64(info.RecvBeat) * s.cfg.Grace; f < float64(maxDuration) {
		info.Silence = time.Duration(f)
	} else {
		info.Silence = maxDuration
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

// roundBeat rounds a heart-beat up to whole milliseconds: the header
// carries milliseconds, and a positive value must not become 0 (off) on the
// wire while the session enforces it.
func roundBeat(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// maxErrorText bounds the broker text a ServerError keeps.
const maxErrorText = 4 << 10

func (s *Session) serverError(f *frame.Frame) *ServerError {
	return &ServerError{
		Message:   s.brokerText(f.Header.Get(frame.Message)),
		Body:      s.brokerBytes(bytes.TrimSpace(f.Body)),
		ReceiptID: s.brokerText(f.Header.Get(frame.ReceiptId)),
	}
}

// secretForms are the ways a broker may quote the passcode: as sent, as
// it went on the wire (STOMP-escaped: a CONNECT frame echoed raw), URL-
// encoded (query and path), and Go/JSON/Java string-escaped; longest first.
// Base64 and other encodings are not recognised. The passcode cut into
// pieces, split between the message header and the body, is not either.
func secretForms(pw string) []string {
	if pw == "" {
		return nil
	}
	q := strconv.Quote(pw)
	cand := []string{
		pw,
		stompEscaper.Replace(pw),
		url.QueryEscape(pw),
		url.PathEscape(pw),
		q[1 : len(q)-1],
	}
	var forms []string
	for _, c := range cand {
		if c != "" && !slices.Contains(forms, c) {
			forms = append(forms, c)
		}
	}
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return forms
}

var stompEscaper = strings.NewReplacer(`\`, `\\`, "\r", `\r`, "\n", `\n`, ":", `\c`)

func (s *Session) scrubber() *strings.Replacer {
	s.scrubOnce.Do(func() {
		s.forms = secretForms(s.cfg.Passcode)
		var args []string
		for _, f := range s.forms {
			args = append(args, f, "******")
		}
		s.scrubR = strings.NewReplacer(args...)
	})
	return s.scrubR
}

// scrub replaces the client's own passcode, in each of its secretForms, in
// broker text: a broker that quotes it (in an ERROR, a header echo) must
// not put it into errors, logs, events or confcheck output.
func (s *Session) scrub(t string) string {
	if s.cfg.Passcode == "" {
		return t
	}
	return s.scrubber().Replace(t)
}

// brokerText is scrub bounded to maxErrorText bytes (then "…"). The
// passcode is scrubbed before the text is cut, and a cut never leaves the
// beginning of one of its forms at the end: no piece of it survives.
func (s *Session) brokerText(t string) string {
	window := maxErrorText + 1
	s.scrubber()
	for _, f := range s.forms {
		window = max(window, maxErrorText+len(f))
	}
	cut := false
	if len(t) > window {
		t, cut = t[:window], true
	}
	t = s.scrub(t)
	if len(t) > maxErrorText {
		t, cut = t[:maxErrorText], true
	}
	if !cut {
		return t
	}
	for _, f := range s.forms {
		for k := len(f) - 1; k > 0; k-- {
			if strings.HasSuffix(t, f[:k]) {
				t = t[:len(t)-k]
				break
			}
		}
	}
	return trimPartialRune(t) + "…"
}

// trimPartialRune drops the beginning of a UTF-8 sequence cut short at the
// end of t (bytes that were invalid in the broker's text stay).
func trimPartialRune(t string) string {
	for i := 1; i < utf8.UTFMax && i <= len(t); i++ {
		if utf8.RuneStart(t[len(t)-i]) {
			if !utf8.FullRuneInString(t[len(t)-i:]) {
				return t[:len(t)-i]
			}
			return t
		}
	}
	return t
}

// brokerBytes is brokerText of b, without copying more of b than it keeps.
func (s *Session) brokerBytes(b []byte) string {
	if limit := 2*maxErrorText + len(s.cfg.Passcode)*8; len(b) > limit {
		b = b[:limit]
	}
	return s.brokerText(string(b))
}

// Serve reads the session's frames until it ends; only for a session
// connected with Config.ServeInCaller, exactly once.
func (s *Session) Serve() { s.readLoop() }

// Tag returns Config.Tag.
func (s *Session) Tag() uint64 { return s.cfg.Tag }

// Info returns what CONNECTED negotiated.
func (s *Session) Info() Info { return s.info }

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
		s.stopBeats()
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
	silence := s.info.Silence
	inFrame, inFrameErr := s.cfg.FrameReadTimeout, ErrFrameReadTimeout
	if silence > 0 && silence <= inFrame {
		inFrame, inFrameErr = silence, ErrHeartbeatTimeout
	}
	var bound time.Duration // the deadline armed last, for the error
	var boundErr error
	var wholeFrame bool // the deadline armed last is the whole-frame budget's
	s.r.arm = func(midFrame bool) error {
		switch {
		case midFrame:
			bound, boundErr = inFrame, inFrameErr
		case silence > 0:
			bound, boundErr = silence, ErrHeartbeatTimeout
		default:
			bound, boundErr = 0, nil
		}
		wholeFrame = false
		var d time.Time
		if bound > 0 {
			now := time.Now()
			d = now.Add(bound)
			if midFrame {
				// A peer dripping a byte just inside the per-byte bound
				// must not hold a frame open for ever: the frame as a
				// whole has its own budget.
				if b := s.r.frameSince.Add(frameBudget(s.cfg.FrameReadTimeout, s.r.frameBytes)); b.Before(d) {
					d, wholeFrame = b, true
				}
			}
		}
		_ = s.nc.SetReadDeadline(d)
		// After re-arming: end stores ending before it sets the past
		// deadline, so either we see it here or its deadline overrides ours.
		if s.ending.Load() {
			return ErrClosed
		}
		return nil
	}
	for {
		if !s.waitResumed() {
			return
		}
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
			if boundErr != nil && errors.As(err, &ne) && ne.Timeout() {
				if wholeFrame {
					err = fmt.Errorf("%w (frame not whole after %v: %d bytes read, less than %d bytes per %v)",
						ErrFrameReadTimeout, time.Since(s.r.frameSince).Round(time.Millisecond), s.r.frameBytes, FrameRateFloor, s.cfg.FrameReadTimeout)
				} else if boundErr == ErrHeartbeatTimeout {
					err = fmt.Errorf("%w (%v without a frame or beat)", boundErr, bound)
				} else {
					err = fmt.Errorf("%w (nothing more for %v)", boundErr, bound)
				}
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
			s.end(s.serverError(f))
			return
		}
	}
}

// Pause stops reading from the socket once the frame being delivered (if
// any) has been handed to Callbacks; the broker then meets TCP
// back-pressure. While paused the silence (heart-beat) detector does not
// run: time the session chose not to read is never counted as the broker's
// silence. Writes, and the session's own heart-beats, go on. Pause is
// idempotent, safe from any goroutine (Callbacks.Message included) and never
// blocks; a paused session still ends at once on Close, on a failed write,
// or when Disconnect is called (which reads again to see its receipt).
//
// A read already waiting for the next frame when Pause is called completes
// first: the session stops before reading the frame after it.
func (s *Session) Pause() {
	s.pauseMu.Lock()
	if !s.paused {
		s.paused = true
		s.resumeCh = make(chan struct{})
	}
	s.pauseMu.Unlock()
}

// Resume undoes Pause: reading starts again, with the silence deadline
// re-armed from now. Idempotent and safe from any goroutine.
func (s *Session) Resume() {
	s.pauseMu.Lock()
	if s.paused {
		s.paused = false
		close(s.resumeCh)
	}
	s.pauseMu.Unlock()
}

// Paused reports whether Pause is in effect.
func (s *Session) Paused() bool {
	s.pauseMu.Lock()
	defer s.pauseMu.Unlock()
	return s.paused
}

// waitResumed blocks the read loop while the session is paused. It returns
// false when the session ended meanwhile.
func (s *Session) waitResumed() bool {
	s.pauseMu.Lock()
	paused, ch := s.paused, s.resumeCh
	s.pauseMu.Unlock()
	if !paused {
		return true
	}
	select {
	case <-ch:
		return true
	case <-s.done:
		return false
	}
}

// Heart-beats are sent by a timer, not a goroutine of their own: whenever
// nothing was written for a third of the negotiated interval, a beat goes
// out, so the longest gap the broker sees is about two thirds of it:
// ActiveMQ closes a connection silent for one interval, with no grace
// ("Channel was inactive for too long"), and a beat sent at the last moment
// can reach it late on a busy machine. The timer fires a third of an
// interval after the last write, so a busy session is not woken for
// nothing. Each armed timer counts in wg until it has run or been stopped,
// so Close still returns only once nothing of the session runs.

// startBeats arms the first beat.
func (s *Session) startBeats() {
	s.beatMu.Lock()
	defer s.beatMu.Unlock()
	s.wg.Add(1)
	s.beatT = time.AfterFunc(s.info.SendBeat/3, s.beat)
}

// beat runs on the timer: it sends a beat if the session was quiet for a
// third of the interval and re-arms for a third after the last write.
func (s *Session) beat() {
	defer s.wg.Done()
	third := s.info.SendBeat / 3
	next := third
	if idle := time.Since(time.Unix(0, s.lastWrite.Load())); idle >= third {
		_ = s.Write(nil)
	} else {
		next = third - idle
	}
	s.beatMu.Lock()
	defer s.beatMu.Unlock()
	if s.beatsOff {
		return
	}
	s.wg.Add(1) // the count this run holds is still there: never from zero
	s.beatT.Reset(next)
}

// stopBeats disarms the timer; a run already started re-arms nothing.
func (s *Session) stopBeats() {
	s.beatMu.Lock()
	defer s.beatMu.Unlock()
	s.beatsOff = true
	if s.beatT != nil && s.beatT.Stop() {
		s.wg.Done() // it will not run
	}
}

// Write sends one frame (nil = a heart-beat). A failed write ends the
// session: the frame did not reach the broker whole.
func (s *Session) Write(f *frame.Frame) error {
	s.wmu.Lock()
	// Ending, not Done: End has run (and the factory may have applied the
	// loss) before Done closes, and nothing may go out after that.
	if s.ending.Load() {
		s.wmu.Unlock()
		return s.err
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
	s.Resume() // the receipt must be read
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

// connectBytes encodes a CONNECT frame as STOMP 1.2 requires: its header
// values are not escaped (go-stomp's writer escapes every frame's, which
// turned a passcode "pa:ss" into "pa\\css" on the wire). The parser refuses
// control characters in login, passcode, vhost and clientID, so a value
// cannot break the frame.
func connectBytes(f *frame.Frame) []byte {
	var b strings.Builder
	b.WriteString(f.Command)
	b.WriteByte('\n')
	for i := 0; i < f.Header.Len(); i++ {
		k, v := f.Header.GetAt(i)
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString("\n\x00")
	return []byte(b.String())
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
