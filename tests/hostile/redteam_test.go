package hostile_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/leakcheck"
	"github.com/stompft/stompft/internal/rawpeer"
)

// errEvents collects the error text of every event.
type errEvents struct {
	mu   sync.Mutex
	errs []string
	lost chan error
}

func newErrEvents() *errEvents { return &errEvents{lost: make(chan error, 1)} }

func (e *errEvents) handle(ev factory.Event) {
	e.mu.Lock()
	if ev.Err != nil {
		e.errs = append(e.errs, ev.Kind.String()+": "+ev.Err.Error())
	}
	e.mu.Unlock()
	if ev.Kind == factory.EventDisconnected {
		select {
		case e.lost <- ev.Err:
		default:
		}
	}
}

func (e *errEvents) texts() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.errs...)
}

func connectionWith(t *testing.T, addr, passcode string, ev *errEvents) (*factory.Connection, error) {
	t.Helper()
	conf := fmt.Sprintf(`[H]
type = generic
url = tcp://%s
login = u
passcode = %s
connect_attempt_count = 1
connect_attempt_timeout = 1s
reconnect_attempt_count = 1
reconnect_attempt_delay = 250ms
reconnect_attempt_timeout = 500ms
heartbeat = 0,0
`, addr, passcode)
	cfg, err := confparse.Parse("redteam.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Factories[0].Passcode.Reveal(); got != passcode {
		t.Fatalf("conf passcode %q, want %q", got, passcode)
	}
	f, err := factory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return f.CreateConnectionContext(ctx, "H", factory.WithEventHandler(ev.handle))
}

// A broker that drips a MESSAGE one byte every 300 ms (inside the 1 s
// per-byte bound the attempt timeout sets) cannot keep the connection
// reading that frame for ever: the session ends within the frame's budget.
func TestDrippedMessageEndsTheSession(t *testing.T) {
	leakcheck.Check(t)
	addr := hostileServer(t, afterFrame(func(nc net.Conn) {
		if _, err := nc.Write([]byte("MESSAGE\ndestination:/queue/h\nmessage-id:1\nsubscription:0\nk:")); err != nil {
			return
		}
		tk := time.NewTicker(300 * time.Millisecond)
		defer tk.Stop()
		for range tk.C {
			if _, err := nc.Write([]byte("x")); err != nil {
				return
			}
		}
	}))
	ev := newErrEvents()
	c, err := connectionWith(t, addr, secret, ev)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Subscribe("/queue/h", stomp.AckAuto); err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-ev.lost:
		t.Logf("dripped frame ended after %v: %v", time.Since(start).Round(time.Millisecond), cause)
		if !strings.Contains(cause.Error(), "frame not whole") {
			t.Errorf("cause %v", cause)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("a dripped MESSAGE held the connection for 6 s")
	}
}

// A broker quoting the passcode URL-encoded (in ERROR answering CONNECT,
// and in an ERROR later) never puts it into CreateConnection's error or
// into an event.
func TestURLEncodedPasscodeIsScrubbed(t *testing.T) {
	const pw = "S3CRET/pw+x"
	enc := url.QueryEscape(pw) // S3CRET%2Fpw%2Bx
	check := func(t *testing.T, texts []string) {
		t.Helper()
		for _, s := range texts {
			if strings.Contains(s, pw) || strings.Contains(s, enc) || strings.Contains(s, "S3CRET") {
				t.Errorf("passcode in %q", s)
			}
		}
	}
	t.Run("ERROR answering CONNECT", func(t *testing.T) {
		leakcheck.Check(t)
		addr := hostileServer(t, func(nc net.Conn, _ *frame.Reader) {
			_, _ = nc.Write([]byte("ERROR\nmessage:bad passcode=" + enc + "\n\nGET /login?u=u&passcode=" + enc + "\x00"))
			drain(nc)
		})
		ev := newErrEvents()
		c, err := connectionWith(t, addr, pw, ev)
		if err == nil {
			_ = c.Close()
			t.Fatal("connected")
		}
		if !strings.Contains(err.Error(), "******") {
			t.Errorf("broker text lost: %v", err)
		}
		check(t, append(ev.texts(), err.Error()))
	})
	t.Run("ERROR after SEND", func(t *testing.T) {
		leakcheck.Check(t)
		addr := hostileServer(t, afterFrame(func(nc net.Conn) {
			_, _ = nc.Write([]byte("ERROR\nmessage:passcode " + enc + " expired\n\n\x00"))
		}))
		ev := newErrEvents()
		c, err := connectionWith(t, addr, pw, ev)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Send("/queue/h", "text/plain", []byte("x")); err != nil {
			t.Fatal(err)
		}
		select {
		case cause := <-ev.lost:
			check(t, []string{cause.Error()})
		case <-time.After(5 * time.Second):
			t.Fatal("ERROR did not end the session")
		}
		check(t, ev.texts())
	})
}

// Stray frames from the broker (RECEIPTs for ids never asked, MESSAGEs for
// no subscription or without the header, heart-beats in CRLF, a MESSAGE
// written one byte per write) neither end the connection nor reach the
// subscription; the one valid MESSAGE does, once, whole.
func TestStrayFramesAreIgnored(t *testing.T) {
	leakcheck.Check(t)
	addr := hostileServer(t, func(nc net.Conn, r *frame.Reader) {
		if _, err := nc.Write([]byte(connected)); err != nil {
			return
		}
		var sub *frame.Frame
		for sub == nil {
			f, err := r.Read()
			if err != nil {
				return
			}
			sub = f
		}
		id := sub.Header.Get(frame.Id)
		var b strings.Builder
		for i := 0; i < 1000; i++ {
			b.WriteString("RECEIPT\nreceipt-id:nobody-" + strconv.Itoa(i) + "\n\n\x00\r\n")
		}
		b.WriteString("MESSAGE\ndestination:/queue/h\nmessage-id:s1\n\nno subscription\x00\n")
		b.WriteString("MESSAGE\ndestination:/queue/h\nmessage-id:s2\nsubscription:nobody\n\nwrong subscription\x00\n\n")
		if _, err := nc.Write([]byte(b.String())); err != nil {
			return
		}
		// The valid one: repeated header (first wins), escapes, CRLF, a NUL
		// in the body under content-length, one byte per write.
		good := "MESSAGE\r\ndestination:/queue/h\r\nmessage-id:g1\r\nsubscription:" + id + "\r\nk\\cx:v\\n1\\\\\r\nk:x:v2\r\ncontent-length:5\r\n\r\na\x00b\x00c\x00\n"
		for i := 0; i < len(good); i++ {
			if _, err := nc.Write([]byte{good[i]}); err != nil {
				return
			}
		}
		rawpeer.AnswerDisconnect(r, frame.NewWriter(nc).Write)
	})
	ev := newErrEvents()
	c, err := connectionWith(t, addr, secret, ev)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Subscribe("/queue/h", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-s.C:
		if m.Err != nil {
			t.Fatal(m.Err)
		}
		if string(m.Body) != "a\x00b\x00c" || m.Header.Get("message-id") != "g1" || m.Header.Get("k:x") != "v\n1\\" {
			t.Fatalf("message %+v body %q", m.Header, m.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the valid MESSAGE never came")
	}
	select {
	case m := <-s.C:
		t.Fatalf("a second message: %+v", m)
	case cause := <-ev.lost:
		t.Fatalf("disconnected: %v", cause)
	case <-time.After(200 * time.Millisecond):
	}
	if errs := ev.texts(); len(errs) > 0 {
		t.Fatalf("events with errors: %v", errs)
	}
}

// Floods of frames the client did not ask for, each followed by one valid
// MESSAGE: the connection survives, the MESSAGE arrives, and what the
// flood leaves live is bounded (it is garbage, whatever its length).
func TestStrayFloods(t *testing.T) {
	var receipts, strays strings.Builder
	for i := 0; i < 10000; i++ {
		receipts.WriteString("RECEIPT\nreceipt-id:nobody-" + strconv.Itoa(i) + "\n\n\x00")
		strays.WriteString("MESSAGE\ndestination:/queue/h\nmessage-id:s" + strconv.Itoa(i) + "\nsubscription:nobody\n\nstray\x00")
	}
	for _, tc := range []struct {
		name  string
		flood []byte
	}{
		{"10k RECEIPTs for unknown ids", []byte(receipts.String())},
		{"10k MESSAGEs for no subscription", []byte(strays.String())},
		{"512 Ki unoffered heart-beats", bytes.Repeat([]byte("\n\r\n"), 1<<18)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			addr := hostileServer(t, func(nc net.Conn, r *frame.Reader) {
				if _, err := nc.Write([]byte(connected)); err != nil {
					return
				}
				var sub *frame.Frame
				for sub == nil {
					f, err := r.Read()
					if err != nil {
						return
					}
					sub = f
				}
				_, _ = nc.Write(tc.flood)
				_, _ = nc.Write([]byte("MESSAGE\ndestination:/queue/h\nmessage-id:g1\nsubscription:" + sub.Header.Get(frame.Id) + "\n\nvalid\x00"))
				rawpeer.AnswerDisconnect(r, frame.NewWriter(nc).Write)
			})
			ev := newErrEvents()
			c, err := connectionWith(t, addr, secret, ev)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var a, b runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&a)
			start := time.Now()
			s, err := c.Subscribe("/queue/h", stomp.AckAuto)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-s.C:
				if m.Err != nil || string(m.Body) != "valid" {
					t.Fatalf("message %q, %v", m.Body, m.Err)
				}
			case cause := <-ev.lost:
				t.Fatalf("disconnected: %v", cause)
			case <-time.After(10 * time.Second):
				t.Fatal("the valid MESSAGE never came")
			}
			took := time.Since(start)
			runtime.ReadMemStats(&b)
			total := b.TotalAlloc - a.TotalAlloc
			runtime.GC()
			runtime.ReadMemStats(&b)
			live := int64(b.HeapInuse) - int64(a.HeapInuse)
			t.Logf("shape %-34s wire %6.2f MiB took %-8v TotalAlloc Δ %7.2f MiB  live HeapInuse Δ %6.2f MiB",
				tc.name, float64(len(tc.flood))/(1<<20), took.Round(time.Millisecond), float64(total)/(1<<20), float64(live)/(1<<20))
			if live > overhead {
				t.Errorf("%d bytes left live by the flood", live)
			}
			if total > 16*uint64(len(tc.flood))+overhead {
				t.Errorf("allocated %d bytes for %d on the wire", total, len(tc.flood))
			}
		})
	}
}
