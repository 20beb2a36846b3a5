package hostile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
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

func TestMain(m *testing.M) { leakcheck.Main(m) }

// Limits set in the conf of every shape below (small, so the test is fast),
// and the fixed allowance for one connection's own allocations.
const (
	maxFrame       = 1 << 20
	maxHeaderLen   = 16 << 10
	maxHeaders     = 100
	maxHeaderBytes = 64 << 10
	overhead       = 2 << 20
	connectTimeout = time.Second
)

const limitsConf = `max_frame_size = 1048576
max_header_length = 16384
max_headers = 100
max_header_bytes = 65536
`

const secret = "S3CRETpw"

// hostileServer is a peer on loopback (rawpeer.Serve): the first
// connection reads CONNECT and is handed to first; later ones (reconnect
// attempts) are closed at once. Everything stops at the test's cleanup.
func hostileServer(t *testing.T, first func(nc net.Conn, r *frame.Reader)) string {
	t.Helper()
	return rawpeer.Serve(t, func(nc net.Conn, r *frame.Reader, _ *frame.Frame) { first(nc, r) })
}

var (
	drain  = rawpeer.Drain
	stream = rawpeer.Stream
)

const connected = "CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00"

// afterFrame answers CONNECT, waits for the client's first frame (SUBSCRIBE
// or SEND), then runs hostile.
func afterFrame(hostile func(nc net.Conn)) func(net.Conn, *frame.Reader) {
	return func(nc net.Conn, r *frame.Reader) {
		if _, err := nc.Write([]byte(connected)); err != nil {
			return
		}
		for {
			f, err := r.Read()
			if err != nil {
				return
			}
			if f != nil {
				break
			}
		}
		drained := make(chan struct{})
		go func() { drain(nc); close(drained) }()
		hostile(nc)
		<-drained // hold the connection open until the client leaves
	}
}

// Hostile payloads, built once so that the server's own allocations are
// not counted against the client.
var (
	bodyChunk   = bytes.Repeat([]byte("b"), 64<<10)
	lineChunk   = bytes.Repeat([]byte("v"), 64<<10)
	tinyHeaders = bytes.Repeat([]byte("a:b\n"), 16<<10)
	longHeaders = bytes.Repeat([]byte("h:"+strings.Repeat("x", 15<<10)+"\n"), 8)
	garbage     = bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0, '\n', ':'}, 10<<10)
)

func newConnection(t *testing.T, addr, extra string, onEvent func(factory.Event)) (*factory.Factory, func(ctx context.Context) (*factory.Connection, error)) {
	t.Helper()
	conf := fmt.Sprintf(`[H]
type = generic
url = tcp://%s
login = u
passcode = %s
connect_attempt_count = 1
connect_attempt_timeout = %dms
reconnect_attempt_count = 1
reconnect_attempt_delay = 250ms
reconnect_attempt_timeout = 500ms
heartbeat = 0,0
%s`, addr, secret, connectTimeout.Milliseconds(), extra)
	cfg, err := confparse.Parse("hostile.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	f, err := factory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f, func(ctx context.Context) (*factory.Connection, error) {
		var opts []factory.ConnectionOption
		if onEvent != nil {
			opts = append(opts, factory.WithEventHandler(onEvent))
		}
		return f.CreateConnectionContext(ctx, "H", opts...)
	}
}

// measure runs fn and reports the bytes allocated meanwhile and the change
// in heap in use.
func measure(fn func()) (totalAlloc uint64, heapInuse int64, took time.Duration) {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	start := time.Now()
	fn()
	took = time.Since(start)
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc, int64(b.HeapInuse) - int64(a.HeapInuse), took
}

func report(t *testing.T, shape string, total uint64, inuse int64, took time.Duration, bound uint64) {
	t.Helper()
	t.Logf("shape %-40s took %-8v TotalAlloc Δ %7.2f MiB  HeapInuse Δ %7.2f MiB  bound %6.2f MiB",
		shape, took.Round(time.Millisecond), float64(total)/(1<<20), float64(inuse)/(1<<20), float64(bound)/(1<<20))
	if total > bound {
		t.Errorf("%s: allocated %d bytes, bound %d", shape, total, bound)
	}
}

// Shapes that hit CreateConnection itself: CONNECTED is over a limit, slow,
// garbage, or an ERROR that quotes the passcode. Each ends the attempt in
// bounded time; a limit is named with the URL and is permanent.
func TestHostileConnected(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit string // the limit named in the error; "" for none
		conf  string
		bound uint64
		serve func(nc net.Conn, r *frame.Reader)
		check func(t *testing.T, err error)
	}{
		{name: "content-length 4294967295, default limits", limit: "max_frame_size", conf: "",
			bound: 2*confparse.DefaultMaxHeaderBytes + overhead,
			serve: func(nc net.Conn, _ *frame.Reader) {
				_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\ncontent-length:4294967295\n\n"))
				stream(nc, bodyChunk)
			}},
		{name: "content-length over max_frame_size", limit: "max_frame_size", conf: limitsConf, bound: 2*maxFrame + overhead,
			serve: func(nc net.Conn, _ *frame.Reader) {
				_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\ncontent-length:1048577\n\n"))
				stream(nc, bodyChunk)
			}},
		{name: "body without content-length nor NUL", limit: "max_frame_size", conf: limitsConf, bound: 2*maxFrame + overhead,
			serve: func(nc net.Conn, _ *frame.Reader) {
				_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\n\n"))
				stream(nc, bodyChunk)
			}},
		{name: "endless header line", limit: "max_header_length", conf: limitsConf, bound: 2*maxHeaderLen + overhead,
			serve: func(nc net.Conn, _ *frame.Reader) {
				_, _ = nc.Write([]byte("CONNECTED\nversion:"))
				stream(nc, lineChunk)
			}},
		{name: "millions of tiny headers", limit: "max_headers", conf: limitsConf, bound: 2*maxHeaderBytes + overhead,
			serve: func(nc net.Conn, _ *frame.Reader) {
				_, _ = nc.Write([]byte("CONNECTED\n"))
				stream(nc, tinyHeaders)
			}},
		{name: "huge CONNECTED head", limit: "max_header_bytes", conf: limitsConf, bound: 2*maxHeaderBytes + overhead,
			serve: func(nc net.Conn, _ *frame.Reader) {
				_, _ = nc.Write([]byte("CONNECTED\n"))
				stream(nc, longHeaders)
			}},
		{name: "slow CONNECTED", conf: limitsConf, bound: 2*maxHeaderBytes + overhead,
			serve: func(nc net.Conn, _ *frame.Reader) {
				_, _ = nc.Write([]byte("CONNECTED\n"))
				tk := time.NewTicker(10 * time.Millisecond)
				defer tk.Stop()
				for range tk.C {
					if _, err := nc.Write([]byte("a")); err != nil {
						return
					}
				}
			}},
		{name: "garbage", conf: limitsConf, bound: 2*maxHeaderBytes + overhead,
			serve: func(nc net.Conn, _ *frame.Reader) { stream(nc, garbage) }},
		{name: "ERROR quoting the passcode", conf: limitsConf, bound: overhead,
			serve: func(nc net.Conn, _ *frame.Reader) {
				_, _ = nc.Write([]byte("ERROR\nmessage:bad passcode " + secret + "\n\nlogin u with passcode " + secret + " refused\x00"))
				drain(nc)
			},
			check: func(t *testing.T, err error) {
				if !strings.Contains(err.Error(), "******") {
					t.Errorf("broker text lost: %v", err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			addr := hostileServer(t, tc.serve)
			var evMu sync.Mutex
			var events []string
			_, create := newConnection(t, addr, tc.conf, func(e factory.Event) {
				evMu.Lock()
				if e.Err != nil {
					events = append(events, e.Err.Error())
				}
				evMu.Unlock()
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			total, inuse, took := measure(func() {
				var c *factory.Connection
				c, err = create(ctx)
				if c != nil {
					_ = c.Close()
				}
			})
			report(t, tc.name, total, inuse, took, tc.bound)
			if err == nil {
				t.Fatal("CreateConnection succeeded against a hostile server")
			}
			// Bounded time: one attempt, within its timeout (plus slack).
			if took > connectTimeout+time.Second {
				t.Errorf("took %v, connect_attempt_timeout %v", took, connectTimeout)
			}
			msg := err.Error()
			if strings.Contains(msg, secret) {
				t.Errorf("passcode in error: %v", msg)
			}
			evMu.Lock()
			for _, e := range events {
				if strings.Contains(e, secret) {
					t.Errorf("passcode in event: %v", e)
				}
			}
			evMu.Unlock()
			if tc.limit != "" {
				if !strings.Contains(msg, tc.limit) || !strings.Contains(msg, "tcp://"+addr) {
					t.Errorf("error names neither %s nor the URL: %v", tc.limit, msg)
				}
				var ce *factory.ConnectError
				if !errors.As(err, &ce) || !ce.Permanent {
					t.Errorf("over-limit CONNECTED not permanent: %v", err)
				}
			}
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}

// Shapes after CONNECTED, triggered by Subscribe or Send: the session ends
// (EventDisconnected names the limit and the URL) in bounded time, within
// the memory bound.
func TestHostileFrames(t *testing.T) {
	for _, tc := range []struct {
		name, want string // want: text of the disconnect cause
		trigger    string
		bound      uint64
		hostile    func(nc net.Conn)
	}{
		{"MESSAGE content-length 4294967295", "max_frame_size", "subscribe", 2*maxFrame + overhead, func(nc net.Conn) {
			_, _ = nc.Write([]byte("MESSAGE\ndestination:/queue/h\nmessage-id:1\nsubscription:0\ncontent-length:4294967295\n\n"))
			stream(nc, bodyChunk)
		}},
		{"MESSAGE body without content-length nor NUL", "max_frame_size", "subscribe", 2*maxFrame + overhead, func(nc net.Conn) {
			_, _ = nc.Write([]byte("MESSAGE\ndestination:/queue/h\nmessage-id:1\nsubscription:0\n\n"))
			stream(nc, bodyChunk)
		}},
		{"MESSAGE endless header line", "max_header_length", "subscribe", 2*maxHeaderLen + overhead, func(nc net.Conn) {
			_, _ = nc.Write([]byte("MESSAGE\ndestination:"))
			stream(nc, lineChunk)
		}},
		{"MESSAGE millions of tiny headers", "max_headers", "subscribe", 2*maxHeaderBytes + overhead, func(nc net.Conn) {
			_, _ = nc.Write([]byte("MESSAGE\n"))
			stream(nc, tinyHeaders)
		}},
		{"ERROR body without NUL after SEND", "max_frame_size", "send", 2*maxFrame + overhead, func(nc net.Conn) {
			_, _ = nc.Write([]byte("ERROR\nmessage:x\n\n"))
			stream(nc, bodyChunk)
		}},
		{"heart-beat 0,0 and a partial frame", "middle of a frame", "send", overhead, func(nc net.Conn) {
			_, _ = nc.Write([]byte("MESSAGE\ndestination:/queue/h\n"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			addr := hostileServer(t, afterFrame(tc.hostile))
			lost := make(chan error, 1)
			_, create := newConnection(t, addr, limitsConf, func(e factory.Event) {
				if e.Kind == factory.EventDisconnected {
					select {
					case lost <- e.Err:
					default:
					}
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := create(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var cause error
			total, inuse, took := measure(func() {
				switch tc.trigger {
				case "subscribe":
					if _, err := c.Subscribe("/queue/h", stomp.AckAuto); err != nil {
						t.Errorf("Subscribe: %v", err)
					}
				case "send":
					if err := c.Send("/queue/h", "text/plain", []byte("x")); err != nil {
						t.Errorf("Send: %v", err)
					}
				}
				select {
				case cause = <-lost:
				case <-time.After(5 * time.Second):
				}
			})
			report(t, tc.name, total, inuse, took, tc.bound)
			if cause == nil {
				t.Fatal("the session survived the hostile frame")
			}
			if !strings.Contains(cause.Error(), tc.want) {
				t.Errorf("disconnect cause %q does not say %q", cause, tc.want)
			}
			if tc.want != "middle of a frame" && !strings.Contains(cause.Error(), "tcp://"+addr) {
				t.Errorf("disconnect cause %q does not name the URL", cause)
			}
			if took > connectTimeout+time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}
