package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/attempts"
)

// drip writes head at once, then one byte of tail every gap until the
// connection fails or tail is spent.
func drip(nc net.Conn, head string, tail []byte, gap time.Duration) {
	if _, err := nc.Write([]byte(head)); err != nil {
		return
	}
	for _, b := range tail {
		time.Sleep(gap)
		if _, err := nc.Write([]byte{b}); err != nil {
			return
		}
	}
	drain(nc)
}

// A peer that sends the next byte of a frame just inside the per-byte
// bound, for ever, cannot hold the frame open for ever: the frame as a
// whole is read within FrameReadTimeout × (1 + n / 1).
func TestDrippedFrameEndsWithinItsBudget(t *testing.T) {
	const frt = 300 * time.Millisecond
	const gap = 100 * time.Millisecond // a third of the per-byte bound
	for _, tc := range []struct{ name, head string }{
		{"header line", "MESSAGE\ndestination:/q\nk:"},
		{"body with content-length", "MESSAGE\ncontent-length:100000\n\n"},
		{"body without content-length", "MESSAGE\ndestination:/q\n\n"},
		{"heart-beats on", "MESSAGE\ndestination:/q\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hb := "0,0"
			cfg := Config{FrameReadTimeout: frt}
			if tc.name == "heart-beats on" {
				hb = "200,200" // silence window 500 ms: longer than frt
				cfg.HeartBeatRecv = 200 * time.Millisecond
			}
			addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
				drip(nc, "CONNECTED\nversion:1.2\nheart-beat:"+hb+"\n\n\x00"+tc.head, bytes.Repeat([]byte("x"), 1000), gap)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := Connect(ctx, dial(t, addr), cfg, Callbacks{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			select {
			case <-s.Done():
				took := time.Since(start)
				t.Logf("ended after %v: %v", took.Round(time.Millisecond), s.Err())
				if !errors.Is(s.Err(), ErrFrameReadTimeout) || !strings.Contains(s.Err().Error(), "frame not whole") {
					t.Fatalf("ended with %v", s.Err())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a dripped frame was read for 5 s (budget 300 ms)")
			}
		})
	}
}

// frameBudget grows with what was read: a slow but steady large frame is
// not cut, and the budget saturates instead of overflowing.
func TestFrameBudget(t *testing.T) {
	if got := frameBudget(time.Second, 0); got != time.Second {
		t.Fatalf("empty frame budget %v", got)
	}
	if got := frameBudget(time.Second, 64<<20); got != 257*time.Second {
		t.Fatalf("64 MiB budget %v", got)
	}
	if got := frameBudget(maxDuration/2, 1<<40); got != maxDuration {
		t.Fatalf("saturated budget %v", got)
	}
}

// The passcode is scrubbed before the text is cut: no piece of it is left
// at the cut, wherever it falls.
func TestPasscodeAtTheCutLeavesNoPiece(t *testing.T) {
	const pw = "S3CRETpw"
	s := &Session{cfg: Config{Passcode: pw}}
	for off := maxErrorText - len(pw) - 2; off <= maxErrorText+2; off++ {
		raw := strings.Repeat("x", off) + pw + strings.Repeat("y", 100)
		for _, got := range []string{s.brokerText(raw), s.brokerBytes([]byte(raw))} {
			if len(got) > maxErrorText+len("…") {
				t.Fatalf("offset %d: %d bytes kept", off, len(got))
			}
			body := strings.TrimSuffix(strings.TrimRight(got, "y"), "…")
			for k := 2; k <= len(pw); k++ {
				if strings.HasSuffix(body, pw[:k]) || strings.Contains(got, pw[len(pw)-k:]+"y") {
					t.Fatalf("offset %d: piece of the passcode kept: …%q", off, got[max(0, len(got)-20):])
				}
			}
		}
	}
	// A multi-byte rune is not cut in half.
	got := s.brokerText(strings.Repeat("é", maxErrorText))
	if !strings.HasSuffix(got, "é…") {
		t.Fatalf("rune cut: …%q", got[len(got)-8:])
	}
}

// A broker may quote the passcode as it went on the wire (STOMP-escaped:
// the CONNECT frame echoed raw), URL-encoded or string-escaped: each form
// is scrubbed from what Connect returns.
func TestPasscodeQuotedInOtherFormsIsScrubbed(t *testing.T) {
	const pw = "p:a\\ssw0rd%/ \"é"
	q := strconv.Quote(pw)
	forms := map[string]string{
		"as sent":      pw,
		"STOMP-escape": `p\ca\\ssw0rd%/ "é`,
		"query-escape": url.QueryEscape(pw),
		"path-escape":  url.PathEscape(pw),
		"Go/JSON":      q[1 : len(q)-1],
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			addr := rawPeer(t, func(nc net.Conn, connect *frame.Frame) {
				// Raw bytes: the body is not escaped by the writer.
				body := "CONNECT\npasscode:" + form + "\n in " + form
				msg := strings.NewReplacer("\\", `\\`, "\n", `\n`, ":", `\c`, "\r", `\r`).Replace("refused " + form)
				_, _ = nc.Write([]byte("ERROR\nmessage:" + msg + "\ncontent-length:" + strconv.Itoa(len(body)) + "\n\n" + body + "\x00"))
				drain(nc)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := Connect(ctx, dial(t, addr), Config{Login: "u", Passcode: pw}, Callbacks{})
			var ce *ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("want ConnectError, got %v", err)
			}
			for _, f := range forms {
				if strings.Contains(err.Error(), f) {
					t.Fatalf("passcode form %q in %q", f, err)
				}
			}
			if strings.Count(err.Error(), "******") != 3 {
				t.Fatalf("broker text lost or not scrubbed: %q", err)
			}
		})
	}
}

// An ERROR with a huge body costs what reading it costs, not a copy of it
// too, and keeps maxErrorText of it.
func TestHugeErrorBodyIsCappedCheaply(t *testing.T) {
	const size = eagerBody // allocated once, whole: what is measured is the rest
	addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
		_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\n\n\x00ERROR\nmessage:m\ncontent-length:" + strconv.Itoa(size) + "\n\n"))
		chunk := bytes.Repeat([]byte("z"), 64<<10)
		for i := 0; i < size/len(chunk); i++ {
			if _, err := nc.Write(chunk); err != nil {
				return
			}
		}
		_, _ = nc.Write([]byte{0})
		drain(nc)
	})
	s, alloc := runToEnd(t, addr, Config{Passcode: "pw"}, 10*time.Second, fmt.Sprintf("ERROR body %d KiB", size>>10))
	var se *ServerError
	if !errors.As(s.Err(), &se) || len(se.Body) > maxErrorText+len("…") {
		t.Fatalf("ended with %v", s.Err())
	}
	// The body itself (allocated once, whole) plus a half: not a copy.
	if alloc > size+size/2 {
		t.Fatalf("an ERROR of %d bytes allocated %d bytes", size, alloc)
	}
}

// CONNECTED heart-beat values: garbage ends the attempt with an error (not a
// panic, not a hang); absurdly large values do not overflow the silence
// window into "never"; 1 ms does not make us beat or watch every 1 ms.
func TestConnectedHeartbeatExtremes(t *testing.T) {
	connectWith := func(t *testing.T, hb string, cfg Config) (*Session, error) {
		addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
			_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\nheart-beat:" + hb + "\n\n\x00"))
			drain(nc)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return Connect(ctx, dial(t, addr), cfg, Callbacks{})
	}
	for _, hb := range []string{"-1,0", "0,-1", "x,y", "1000", "1000,1000,1000", " 1000,1000", "99999999999999999999,0", "9223372036855,0", strings.Repeat("9", 10000) + ",0"} {
		t.Run("garbage "+hb[:min(len(hb), 24)], func(t *testing.T) {
			s, err := connectWith(t, hb, Config{HeartBeatRecv: time.Second, HeartBeatSend: time.Second})
			if err == nil {
				s.Close()
				t.Fatalf("heart-beat %q accepted: %+v", hb, s.Info())
			}
			if len(err.Error()) > 2*maxErrorText {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
		})
	}
	t.Run("absurdly large", func(t *testing.T) {
		s, err := connectWith(t, "9223372036854,9223372036854", Config{HeartBeatRecv: time.Second, HeartBeatSend: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if info := s.Info(); info.Silence <= 0 || info.RecvBeat <= 0 {
			t.Fatalf("silence window %v from RecvBeat %v: never enforced", info.Silence, info.RecvBeat)
		}
	})
	t.Run("1 ms", func(t *testing.T) {
		s, err := connectWith(t, "1,1", Config{HeartBeatRecv: time.Second, HeartBeatSend: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if info := s.Info(); info.SendBeat != time.Second || info.RecvBeat != time.Second {
			t.Fatalf("negotiated %+v", info)
		}
	})
}

// A CONNECTED naming a version CONNECT did not offer is refused, for good.
func TestUnofferedVersionIsRefused(t *testing.T) {
	for _, v := range []string{"1.0", "2.0", "1.3", "1.2,1.1", "garbage\xff"} {
		t.Run(v, func(t *testing.T) {
			addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
				_, _ = nc.Write([]byte("CONNECTED\nversion:" + v + "\n\n\x00"))
				drain(nc)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := Connect(ctx, dial(t, addr), Config{}, Callbacks{})
			if err == nil {
				s.Close()
				t.Fatalf("version %q accepted", v)
			}
			if !attempts.IsPermanent(err) {
				t.Fatalf("not permanent: %v", err)
			}
		})
	}
	for _, v := range []string{"", "1.1", "1.2"} {
		addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
			hdr := ""
			if v != "" {
				hdr = "version:" + v + "\n"
			}
			_, _ = nc.Write([]byte("CONNECTED\n" + hdr + "\n\x00"))
			drain(nc)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := Connect(ctx, dial(t, addr), Config{}, Callbacks{})
		cancel()
		if err != nil {
			t.Fatalf("version %q: %v", v, err)
		}
		s.Close()
	}
}

// A body announced at MaxFrameSize, of which little arrives before the
// peer stalls, costs about what arrived, not what was announced.
func TestAnnouncedBodyIsNotAllocatedAhead(t *testing.T) {
	const sent = 100 << 10
	addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
		_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\n\n\x00MESSAGE\ncontent-length:" + strconv.Itoa(DefaultMaxFrameSize) + "\n\n"))
		_, _ = nc.Write(bytes.Repeat([]byte("b"), sent))
		drain(nc)
	})
	s, alloc := runToEnd(t, addr, Config{FrameReadTimeout: 200 * time.Millisecond}, 5*time.Second,
		fmt.Sprintf("content-length %d MiB, %d KiB sent, then stall", DefaultMaxFrameSize>>20, sent>>10))
	if !errors.Is(s.Err(), ErrFrameReadTimeout) {
		t.Fatalf("ended with %v", s.Err())
	}
	if alloc > 2*eagerBody+2*sent+readBufferSize {
		t.Fatalf("allocated %d bytes for %d received", alloc, sent)
	}
}

// Bodies that grow as they arrive are read as go-stomp reads them, at and
// around every growth step, whole and in odd-sized pieces.
func TestGrownBodiesMatchGoStomp(t *testing.T) {
	for _, n := range []int{eagerBody, eagerBody + 1, 2 * eagerBody, 3*eagerBody + 17} {
		body := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		data := []byte("MESSAGE\ncontent-length:" + strconv.Itoa(n) + "\n\n" + string(body) + "\x00\nRECEIPT\nreceipt-id:1\n\n\x00")
		want, werr := readAll(frame.NewReader(bytes.NewReader(data)).Read)
		for _, src := range []io.Reader{bytes.NewReader(data), chunkReader{bytes.NewReader(data), 4093}} {
			got, err := readAll(newFrameReader(src, Limits{}, "").Read)
			if !errors.Is(err, io.EOF) || !errors.Is(werr, io.EOF) || len(got) != 3 || len(want) != 3 {
				t.Fatalf("n=%d: %d frames, %v; go-stomp %d, %v", n, len(got), err, len(want), werr)
			}
			for i := range got {
				if !sameFrame(got[i], want[i]) {
					t.Fatalf("n=%d: frame %d differs", n, i)
				}
			}
		}
	}
}

// chunkReader hands out at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// FuzzScrub: whatever the broker text and the passcode, the text kept
// holds no form of the passcode, is bounded, and when cut is the beginning
// of the whole text scrubbed (no piece of a form at the cut), without a
// rune cut in half.
func FuzzScrub(f *testing.F) {
	f.Add("S3CRETpw", "bad passcode S3CRETpw", 0)
	f.Add("p:a\\ss\nw", `CONNECT\npasscode:p\ca\\ss\nw`, maxErrorText-3)
	f.Add("é/+", "x%C3%A9%2F%2By", maxErrorText-1)
	f.Fuzz(func(t *testing.T, pw, text string, pad int) {
		// "******" would contain a passcode of stars, and "…" one made of
		// a piece of its UTF-8 encoding.
		if pw == "" || strings.Contains(pw, "*") || !utf8.ValidString(pw) || pad < 0 || pad > 2*maxErrorText {
			return
		}
		text = strings.Repeat("x", pad) + text
		s := &Session{cfg: Config{Passcode: pw}}
		for _, got := range []string{s.brokerText(text), s.brokerBytes([]byte(text))} {
			if len(got) > maxErrorText+len("…") {
				t.Fatalf("%d bytes kept", len(got))
			}
			for _, form := range secretForms(pw) {
				if strings.Contains(strings.TrimSuffix(got, "…"), form) {
					t.Fatalf("form %q of %q kept in %q", form, pw, got)
				}
			}
			if cut, ok := strings.CutSuffix(got, "…"); ok && len(text) > maxErrorText {
				if utf8.ValidString(text) && !utf8.ValidString(cut) {
					t.Fatalf("broken rune at the cut: %q", cut[max(0, len(cut)-4):])
				}
				// What is kept is the beginning of the whole text scrubbed:
				// no piece of a form the cut went through is left.
				if !strings.HasPrefix(s.scrub(text), cut) {
					t.Fatalf("kept text is not a prefix of the scrubbed text: …%q", cut[max(0, len(cut)-16):])
				}
			}
		}
	})
}

// A broker that offered no heart-beats but sends them anyway, in floods of
// LF and CR LF, costs nothing per beat, and frames around them arrive.
func TestUnofferedBeatFloodIsFree(t *testing.T) {
	flood := bytes.Repeat([]byte("\n\r\n"), 1<<18) // 512 Ki beats, 768 KiB
	msgs := make(chan string, 2)
	addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
		_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00MESSAGE\nsubscription:0\n\nfirst\x00"))
		_, _ = nc.Write(flood)
		_, _ = nc.Write([]byte("MESSAGE\r\nsubscription:0\r\n\r\nsecond\x00\r\n"))
		drain(nc)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	s, err := Connect(ctx, dial(t, addr), Config{HeartBeatRecv: time.Second}, Callbacks{
		Message: func(f *frame.Frame) { msgs <- string(f.Body) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Info().Silence != 0 {
		t.Fatalf("silence window %v though the broker offered no beats", s.Info().Silence)
	}
	for _, want := range []string{"first", "second"} {
		select {
		case got := <-msgs:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-s.Done():
			t.Fatalf("ended: %v", s.Err())
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never came", want)
		}
	}
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d KiB of unoffered beats: TotalAlloc +%.2f MiB, HeapInuse %+.2f MiB, %v",
		len(flood)>>10, float64(alloc)/(1<<20), (float64(after.HeapInuse)-float64(before.HeapInuse))/(1<<20), took.Round(time.Millisecond))
	if alloc > 1<<20 {
		t.Fatalf("%d bytes allocated for beats", alloc)
	}
}

// A small body without content-length costs its size, not a 4 KiB block:
// the body stays live as long as the application holds the message.
func TestSmallBodyIsAllocatedToSize(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		b.WriteString("MESSAGE\nsubscription:0\nmessage-id:" + strconv.Itoa(i) + "\n\nstray\x00")
	}
	data := []byte(b.String())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := readAll(newFrameReader(bytes.NewReader(data), Limits{}, "").Read)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.EOF) || len(got) != 1000 {
		t.Fatalf("%d frames, %v", len(got), err)
	}
	per := (after.TotalAlloc - before.TotalAlloc - readBufferSize) / 1000
	t.Logf("%d-byte frames: %d bytes allocated per frame; body cap %d", len(data)/1000, per, cap(got[0].Body))
	if cap(got[0].Body) != len("stray") {
		t.Fatalf("a %d-byte body holds %d bytes", len(got[0].Body), cap(got[0].Body))
	}
	if per > 1024 {
		t.Fatalf("%d bytes allocated per %d-byte frame", per, len(data)/1000)
	}
}

// STOMP 1.2 framing details, each with the reading the spec (or go-stomp,
// where the spec leaves it open) gives.
func TestFrameReaderSpecCases(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		ok         bool
		header     [2]string // a header and its value in the first frame
		body       string
	}{
		{"escapes", "MESSAGE\na\\cb:c\\nd\\re\\\\f\n\n\x00", true, [2]string{"a:b", "c\nd\re\\f"}, ""},
		{"undefined escape kept (as go-stomp)", "MESSAGE\nk:a\\tb\n\n\x00", true, [2]string{"k", "a\\tb"}, ""},
		{"repeated header: first wins", "MESSAGE\nk:1\nk:2\n\n\x00", true, [2]string{"k", "1"}, ""},
		{"CRLF", "MESSAGE\r\nk:v\r\n\r\nb\x00", true, [2]string{"k", "v"}, "b"},
		{"EOLs before a frame", "\n\r\n\nMESSAGE\nk:v\n\n\x00", true, [2]string{"k", "v"}, ""},
		{"value keeps its spaces", "MESSAGE\nk: v \n\n\x00", true, [2]string{"k", " v "}, ""},
		{"invalid UTF-8 kept", "MESSAGE\nk:\xff\xfe\n\n\x00", true, [2]string{"k", "\xff\xfe"}, ""},
		{"content-length with leading zeros", "MESSAGE\ncontent-length:003\n\nabc\x00", true, [2]string{"content-length", "003"}, "abc"},
		{"NUL inside a body with content-length", "MESSAGE\ncontent-length:3\n\na\x00c\x00", true, [2]string{"content-length", "3"}, "a\x00c"},
		{"content-length with a space", "MESSAGE\ncontent-length: 3\n\nabc\x00", false, [2]string{}, ""},
		{"content-length with a sign", "MESSAGE\ncontent-length:+3\n\nabc\x00", false, [2]string{}, ""},
		{"negative content-length", "MESSAGE\ncontent-length:-1\n\n\x00", false, [2]string{}, ""},
		{"content-length overflow", "MESSAGE\ncontent-length:99999999999999999999\n\n\x00", false, [2]string{}, ""},
		{"content-length 2^32", "MESSAGE\ncontent-length:4294967296\n\n\x00", false, [2]string{}, ""},
		{"body longer than content-length", "MESSAGE\ncontent-length:2\n\nabc\x00", false, [2]string{}, ""},
		{"unknown command", "BOGUS\n\n\x00", false, [2]string{}, ""},
		{"lower-case command", "message\n\n\x00", false, [2]string{}, ""},
		{"header without colon", "MESSAGE\nk\n\n\x00", false, [2]string{}, ""},
		{"empty header name", "MESSAGE\n:v\n\n\x00", false, [2]string{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, src := range []io.Reader{strings.NewReader(tc.data), oneByteReader{strings.NewReader(tc.data)}} {
				fr := newFrameReader(src, Limits{}, "")
				var f *frame.Frame
				var err error
				for f == nil && err == nil {
					f, err = fr.Read()
				}
				if !tc.ok {
					if err == nil {
						t.Fatalf("accepted: %+v", f)
					}
					if strings.Contains(err.Error(), "\n") {
						t.Fatalf("error quotes the frame: %q", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if v, ok := f.Header.Contains(tc.header[0]); !ok || v != tc.header[1] || string(f.Body) != tc.body {
					t.Fatalf("header %q = %q (%v), body %q", tc.header[0], v, ok, f.Body)
				}
			}
		})
	}
}

// The passcode as a header name, as a receipt-id, and CONNECTED headers of
// 60 KiB: nothing of it reaches the error or Info, and Info is capped.
func TestPasscodeInHeaderNamesAndReceiptEcho(t *testing.T) {
	const pw = "S3CRETpw"
	long := strings.Repeat("s", 60<<10)
	addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
		_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\nserver:" + long + pw + "\nsession:" + pw + long + "\n" + pw + ":x\n\n\x00"))
		_, _ = nc.Write([]byte("ERROR\n" + pw + ":v\nreceipt-id:" + pw + "\nmessage:m\n\n\x00"))
		drain(nc)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{Passcode: pw}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info := s.Info()
	if len(info.Server) > maxErrorText+len("…") || len(info.SessionID) > maxErrorText+len("…") || strings.Contains(info.Server+info.SessionID, pw) {
		t.Fatalf("Info server %d bytes, session %d bytes", len(info.Server), len(info.SessionID))
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("ERROR did not end the session")
	}
	var se *ServerError
	if !errors.As(s.Err(), &se) || se.ReceiptID != "******" || strings.Contains(s.Err().Error(), pw) {
		t.Fatalf("ended with %v (%+v)", s.Err(), se)
	}
}

// runToEnd connects to addr with cfg and waits, at most within, for the
// session to end. It logs what the session allocated meanwhile (labelled
// what) and returns the ended session (closed with the test) and the bytes
// allocated.
func runToEnd(t *testing.T, addr string, cfg Config, within time.Duration, what string) (*Session, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	s, err := Connect(ctx, dial(t, addr), cfg, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	select {
	case <-s.Done():
	case <-time.After(within):
		t.Fatalf("%s: the session did not end within %v", what, within)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%s: TotalAlloc +%.2f MiB, HeapInuse %+.2f MiB, %v (%v)", what, float64(alloc)/(1<<20),
		(float64(after.HeapInuse)-float64(before.HeapInuse))/(1<<20), time.Since(start).Round(time.Millisecond), s.Err())
	return s, alloc
}
