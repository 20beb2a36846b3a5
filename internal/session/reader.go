package session

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// Limit defaults: what one frame from the broker may hold when Limits
// leaves a field 0. They are a client's, not a broker's: large enough for
// any message a broker accepts by default (ActiveMQ's STOMP transport caps a
// frame at 100 MiB, RabbitMQ's at 128 MiB, Artemis' largest non-streamed
// message at 100 KiB; applications that send bigger bodies raise the limit),
// small enough that one hostile frame cannot take the process down.
const (
	// DefaultMaxFrameSize caps a frame's body: 64 MiB. A body declared
	// bigger (content-length) is refused before anything is allocated; a
	// body without content-length is refused once it passes the cap
	// without its NUL.
	DefaultMaxFrameSize = 64 << 20
	// DefaultMaxHeaderLength caps one line of the frame head (the command or
	// one header, escaped, without its EOL): 64 KiB. ActiveMQ refuses
	// header lines over 10 KiB; selectors and long destination lists on
	// other brokers are the reason for more room.
	DefaultMaxHeaderLength = 64 << 10
	// DefaultMaxHeaders caps the number of header lines of a frame: 1000,
	// ActiveMQ's own limit.
	DefaultMaxHeaders = 1000
	// DefaultMaxHeaderBytes caps the whole frame head (command and header
	// lines with their EOLs): 256 KiB. It bounds what the head can cost in
	// memory whatever mix of many small or few long headers a peer sends.
	DefaultMaxHeaderBytes = 256 << 10
)

// Limits bound every frame the session reads, CONNECTED included. They are
// enforced while reading, before anything is allocated for the part that
// would pass them; a frame over a limit ends the session with a
// *LimitError. A field ≤ 0 takes its default. Memory for one frame is
// bounded by MaxHeaderBytes plus MaxFrameSize plus the read buffer, and
// each header string is built from bytes already counted. A body over 1 MiB
// is not allocated from its content-length alone: it grows as its bytes
// arrive (at most twice what was received is allocated for it).
type Limits struct {
	MaxFrameSize    int // body bytes; key max_frame_size; default DefaultMaxFrameSize
	MaxHeaderLength int // one head line, bytes; key max_header_length; default DefaultMaxHeaderLength
	MaxHeaders      int // header lines per frame; key max_headers; default DefaultMaxHeaders
	MaxHeaderBytes  int // whole head, bytes; key max_header_bytes; default DefaultMaxHeaderBytes
}

// DefaultLimits is Limits with every default.
func DefaultLimits() Limits {
	return Limits{
		MaxFrameSize:    DefaultMaxFrameSize,
		MaxHeaderLength: DefaultMaxHeaderLength,
		MaxHeaders:      DefaultMaxHeaders,
		MaxHeaderBytes:  DefaultMaxHeaderBytes,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFrameSize <= 0 {
		l.MaxFrameSize = d.MaxFrameSize
	}
	if l.MaxHeaderLength <= 0 {
		l.MaxHeaderLength = d.MaxHeaderLength
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = d.MaxHeaders
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return l
}

// Names of the limits, as the conf keys spell them.
const (
	LimitFrameSize    = "max_frame_size"
	LimitHeaderLength = "max_header_length"
	LimitHeaders      = "max_headers"
	LimitHeaderBytes  = "max_header_bytes"
)

// LimitError is a frame from the broker that passed one of the Limits. The
// session ends with it; when it happens before CONNECTED was read whole,
// Connect returns it marked permanent (attempts.IsPermanent), so a walk does
// not retry the endpoint in a hot loop.
type LimitError struct {
	Limit  string // LimitFrameSize, LimitHeaderLength, LimitHeaders or LimitHeaderBytes
	Max    int    // the limit in force
	Frame  string // the frame's command; "" when the command line itself was too long
	Detail string // what passed the limit, e.g. "content-length 4294967295"
	URL    string // Config.URL: the endpoint, without credentials
}

func (e *LimitError) Error() string {
	var b strings.Builder
	b.WriteString("stompft: ")
	if e.URL != "" {
		b.WriteString(e.URL)
		b.WriteString(": ")
	}
	if e.Frame != "" {
		b.WriteString(e.Frame)
		b.WriteString(" frame")
	} else {
		b.WriteString("frame")
	}
	fmt.Fprintf(&b, " over %s = %d", e.Limit, e.Max)
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// frameReader reads STOMP frames as go-stomp's frame.Reader does (same
// commands, same header unescaping, content-length or NUL-terminated
// bodies, an empty line is a heart-beat and yields a nil frame), but within
// Limits and from its own buffer, so that the session knows when a frame is
// partly read and can bound the wait for the rest of it.
type frameReader struct {
	src io.Reader
	lim Limits
	url string
	// arm runs before every read of src, with whether a frame is partly
	// read (bytes of it consumed or buffered); it sets the read deadline.
	// A non-nil error is returned instead of reading.
	arm func(midFrame bool) error

	buf  []byte
	r, w int
	err  error // sticky read error of src

	started bool   // bytes of the current frame were consumed
	line    []byte // a line longer than what is buffered, being gathered

	// Whole-frame accounting, for arm: when the current frame was first
	// seen partly read (zero between frames) and how many bytes were read
	// from src since then.
	frameSince time.Time
	frameBytes int64
}

// readBufferSize is what an idle session holds for reading: bufio's default,
// as go-stomp's reader. Longer lines are gathered and large bodies read
// straight into their own slice, so a bigger buffer buys nothing but memory
// on every idle connection.
const readBufferSize = 4 << 10

func newFrameReader(src io.Reader, lim Limits, url string) *frameReader {
	return &frameReader{src: src, lim: lim.withDefaults(), url: url, buf: make([]byte, readBufferSize)}
}

// midFrame reports whether a frame has begun: consumed or buffered bytes.
func (fr *frameReader) midFrame() bool { return fr.started || fr.w > fr.r }

// fill reads more from src into buf; it returns an error only when nothing
// was read.
func (fr *frameReader) fill() error {
	if fr.err != nil {
		return fr.err
	}
	if fr.r == fr.w {
		fr.r, fr.w = 0, 0
	} else if fr.w == len(fr.buf) && fr.r > 0 { // slide down what is left
		copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.w -= fr.r
		fr.r = 0
	}
	if err := fr.armRead(fr.midFrame()); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		n, err := fr.src.Read(fr.buf[fr.w:])
		fr.w += n
		fr.frameBytes += int64(n)
		if err != nil {
			fr.err = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	fr.err = io.ErrNoProgress
	return fr.err
}

// armRead runs arm before a read of src, noting when the frame began.
func (fr *frameReader) armRead(mid bool) error {
	if mid && fr.frameSince.IsZero() {
		fr.frameSince = time.Now()
	}
	if fr.arm != nil {
		return fr.arm(mid)
	}
	return nil
}

func (fr *frameReader) limitErr(limit string, max int, cmd, detail string) error {
	return &LimitError{Limit: limit, Max: max, Frame: cmd, Detail: detail, URL: fr.url}
}

// readLine returns the next line without its LF or CR LF; max bounds its
// length (the EOL excluded). The slice is valid until the next call.
func (fr *frameReader) readLine(max int, cmd string) ([]byte, error) {
	fr.line = fr.line[:0]
	scanned := 0 // bytes from r known to hold no LF: each byte is scanned once
	for {
		if i := indexByte(fr.buf[fr.r+scanned:fr.w], '\n'); i >= 0 {
			i += scanned
			var line []byte
			if len(fr.line) == 0 {
				line = fr.buf[fr.r : fr.r+i+1]
			} else {
				if len(fr.line)+i+1 > max+2 {
					return nil, fr.limitErr(LimitHeaderLength, max, cmd, "line of more than "+strconv.Itoa(max)+" bytes")
				}
				fr.line = appendCapped(fr.line, fr.buf[fr.r:fr.r+i+1], max+2)
				line = fr.line
			}
			fr.r += i + 1
			fr.started = true
			line = trimEOL(line)
			if len(line) > max {
				return nil, fr.limitErr(LimitHeaderLength, max, cmd, "line of "+strconv.Itoa(len(line))+" bytes")
			}
			return line, nil
		}
		// No LF buffered: everything buffered belongs to this line. It may
		// end in CR, so max+1 bytes without LF are still within bounds.
		if n := len(fr.line) + fr.w - fr.r; n > max+1 {
			return nil, fr.limitErr(LimitHeaderLength, max, cmd, "line of more than "+strconv.Itoa(max)+" bytes")
		}
		if fr.w == len(fr.buf) { // full: gather into line
			fr.line = appendCapped(fr.line, fr.buf[fr.r:fr.w], max+2)
			fr.r, fr.w = 0, 0
			fr.started = true
		}
		scanned = fr.w - fr.r // relative to r, which fill may slide down
		if err := fr.fill(); err != nil {
			return nil, err
		}
	}
}

// appendCapped appends p to b (len(b)+len(p) ≤ limit), growing b by
// doubling but never past limit: what a growing line or body allocates in
// all stays under twice its final size plus the limit, where append's
// gentler growth for large slices would allocate about five times it.
func appendCapped(b, p []byte, limit int) []byte {
	if need := len(b) + len(p); need > cap(b) {
		c := max(2*cap(b), need, 4096)
		c = min(c, max(limit, need))
		nb := make([]byte, len(b), c)
		copy(nb, b)
		b = nb
	}
	return append(b, p...)
}

func trimEOL(line []byte) []byte {
	line = line[:len(line)-1] // LF
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

var unescaper = strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\c`, ":", `\\`, `\`)

// Read returns the next frame, or nil for a heart-beat (an empty line).
func (fr *frameReader) Read() (*frame.Frame, error) {
	fr.started = false
	fr.frameSince, fr.frameBytes = time.Time{}, 0
	lim := fr.lim
	cmdLine, err := fr.readLine(lim.MaxHeaderLength, "")
	if err != nil {
		return nil, err
	}
	if len(cmdLine) == 0 {
		fr.started = false
		return nil, nil // heart-beat
	}
	headBytes := len(cmdLine) + 1
	cmd := string(cmdLine)
	switch cmd {
	case frame.CONNECT, frame.STOMP, frame.SEND, frame.SUBSCRIBE,
		frame.UNSUBSCRIBE, frame.ACK, frame.NACK, frame.BEGIN,
		frame.COMMIT, frame.ABORT, frame.DISCONNECT, frame.CONNECTED,
		frame.MESSAGE, frame.RECEIPT, frame.ERROR:
	default:
		return nil, frame.ErrInvalidCommand
	}
	f := frame.New(cmd)
	for n := 0; ; n++ {
		line, err := fr.readLine(lim.MaxHeaderLength, cmd)
		if err != nil {
			return nil, err
		}
		headBytes += len(line) + 1
		if headBytes > lim.MaxHeaderBytes {
			return nil, fr.limitErr(LimitHeaderBytes, lim.MaxHeaderBytes, cmd, "head of more than "+strconv.Itoa(lim.MaxHeaderBytes)+" bytes")
		}
		if len(line) == 0 {
			break
		}
		if n >= lim.MaxHeaders {
			return nil, fr.limitErr(LimitHeaders, lim.MaxHeaders, cmd, "more than "+strconv.Itoa(lim.MaxHeaders)+" header lines")
		}
		i := indexByte(line, ':')
		if i <= 0 {
			return nil, frame.ErrInvalidFrameFormat
		}
		f.Header.Add(unescaper.Replace(string(line[:i])), unescaper.Replace(string(line[i+1:])))
	}
	cl, ok, err := f.Header.ContentLength()
	if err != nil {
		// Not the strconv error: it would quote the header's text.
		return nil, fmt.Errorf("%w: %s content-length is not a number below 2^32", frame.ErrInvalidFrameFormat, cmd)
	}
	if ok {
		if cl > lim.MaxFrameSize {
			return nil, fr.limitErr(LimitFrameSize, lim.MaxFrameSize, cmd, "content-length "+strconv.Itoa(cl))
		}
		body, err := fr.readBody(cl)
		if err != nil {
			return nil, err
		}
		f.Body = body
		if fr.r == fr.w {
			if err := fr.fill(); err != nil {
				return nil, err
			}
		}
		if fr.buf[fr.r] != 0 {
			return nil, frame.ErrInvalidFrameFormat
		}
		fr.r++
	} else {
		body, err := fr.readToNUL(lim.MaxFrameSize, cmd)
		if err != nil {
			return nil, err
		}
		f.Body = body
	}
	fr.started = false
	return f, nil
}

// eagerBody is the largest body allocated whole from its content-length
// alone; a longer one grows (by doubling) as its bytes arrive, so that a
// peer announcing MaxFrameSize and sending nothing costs no more than what
// it sent: allocation stays under twice the bytes received plus eagerBody.
const eagerBody = 1 << 20

// readBody reads a body of n bytes (n ≤ MaxFrameSize, checked).
func (fr *frameReader) readBody(n int) ([]byte, error) {
	if n <= eagerBody {
		body := make([]byte, n)
		return body, fr.readFull(body)
	}
	body := make([]byte, 0, eagerBody)
	for {
		k := len(body)
		body = body[:cap(body)]
		if err := fr.readFull(body[k:]); err != nil {
			return nil, err
		}
		if len(body) == n {
			return body, nil
		}
		nb := make([]byte, len(body), min(2*len(body), n))
		copy(nb, body)
		body = nb
	}
}

// readFull fills p from the buffer, then from src.
func (fr *frameReader) readFull(p []byte) error {
	n := copy(p, fr.buf[fr.r:fr.w])
	fr.r += n
	for n < len(p) {
		if len(p)-n < len(fr.buf) { // the tail goes through the buffer
			if err := fr.fill(); err != nil {
				return unexpected(err)
			}
			k := copy(p[n:], fr.buf[fr.r:fr.w])
			fr.r += k
			n += k
			continue
		}
		if fr.err != nil {
			return unexpected(fr.err)
		}
		if err := fr.armRead(true); err != nil {
			return err
		}
		k, err := fr.src.Read(p[n:])
		n += k
		fr.frameBytes += int64(k)
		if err != nil {
			fr.err = err
			if n < len(p) {
				return unexpected(err)
			}
		}
	}
	return nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readToNUL returns the bytes up to the next NUL (which it consumes), at
// most max of them.
func (fr *frameReader) readToNUL(max int, cmd string) ([]byte, error) {
	var body []byte
	for {
		if i := indexByte(fr.buf[fr.r:fr.w], 0); i >= 0 {
			if len(body)+i > max {
				return nil, fr.limitErr(LimitFrameSize, max, cmd, "body of more than "+strconv.Itoa(max)+" bytes without content-length")
			}
			if body == nil {
				// Whole in the buffer: exactly its size. A delivered body
				// stays live while the application holds the message; a
				// larger block per small body would multiply that.
				body = make([]byte, i)
				copy(body, fr.buf[fr.r:fr.r+i])
			} else {
				body = appendCapped(body, fr.buf[fr.r:fr.r+i], max)
			}
			fr.r += i + 1
			return body, nil
		}
		if len(body)+fr.w-fr.r > max {
			return nil, fr.limitErr(LimitFrameSize, max, cmd, "body of more than "+strconv.Itoa(max)+" bytes without content-length")
		}
		body = appendCapped(body, fr.buf[fr.r:fr.w], max)
		fr.r, fr.w = 0, 0
		if err := fr.fill(); err != nil {
			return nil, err
		}
	}
}
