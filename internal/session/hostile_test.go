package session

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/internal/rawpeer"
)

// rawPeer is a one-connection peer that reads CONNECT (handed to serve) and
// runs serve, which writes whatever bytes it likes (rawpeer.Serve).
func rawPeer(t *testing.T, serve func(nc net.Conn, connect *frame.Frame)) string {
	t.Helper()
	return rawpeer.Serve(t, func(nc net.Conn, _ *frame.Reader, connect *frame.Frame) { serve(nc, connect) })
}

var (
	drain  = rawpeer.Drain
	stream = rawpeer.Stream
)

// A CONNECTED over a limit ends the attempt with a *LimitError naming the
// limit and the URL, marked permanent, and without reading what the peer
// still sends.
func TestOverLimitConnectedIsPermanent(t *testing.T) {
	lim := Limits{MaxFrameSize: 1 << 20, MaxHeaderLength: 4 << 10, MaxHeaders: 50, MaxHeaderBytes: 16 << 10}
	for _, tc := range []struct {
		name, limit string
		send        func(nc net.Conn)
	}{
		{"content-length 4 GiB", LimitFrameSize, func(nc net.Conn) {
			_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\ncontent-length:4294967295\n\n"))
			stream(nc, make([]byte, 64<<10))
		}},
		{"body without content-length nor NUL", LimitFrameSize, func(nc net.Conn) {
			_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\n\n"))
			stream(nc, []byte(strings.Repeat("b", 64<<10)))
		}},
		{"endless header line", LimitHeaderLength, func(nc net.Conn) {
			_, _ = nc.Write([]byte("CONNECTED\nversion:"))
			stream(nc, []byte(strings.Repeat("v", 64<<10)))
		}},
		{"endless command line", LimitHeaderLength, func(nc net.Conn) {
			stream(nc, []byte(strings.Repeat("C", 64<<10)))
		}},
		{"millions of tiny headers", LimitHeaders, func(nc net.Conn) {
			_, _ = nc.Write([]byte("CONNECTED\n"))
			stream(nc, []byte(strings.Repeat("a:b\n", 16<<10)))
		}},
		{"long headers", LimitHeaderBytes, func(nc net.Conn) {
			_, _ = nc.Write([]byte("CONNECTED\n"))
			stream(nc, []byte(strings.Repeat("a:"+strings.Repeat("b", 2000)+"\n", 30)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) { tc.send(nc) })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			_, err := Connect(ctx, dial(t, addr), Config{Limits: lim, URL: "tcp://" + addr}, Callbacks{})
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != tc.limit {
				t.Fatalf("want a %s LimitError, got %v", tc.limit, err)
			}
			if !attempts.IsPermanent(err) {
				t.Fatalf("not permanent: %v", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.limit) || !strings.Contains(msg, "tcp://"+addr) {
				t.Fatalf("error %q names neither the limit nor the URL", msg)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

// A limit passed after CONNECTED ends the session with the LimitError (not
// permanent: the endpoint connected).
func TestOverLimitMessageEndsTheSession(t *testing.T) {
	addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
		_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\n\n\x00MESSAGE\ndestination:/q\ncontent-length:4294967295\n\n"))
		drain(nc)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{URL: "tcp://" + addr}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("over-limit MESSAGE did not end the session")
	}
	var le *LimitError
	if !errors.As(s.Err(), &le) || le.Limit != LimitFrameSize || le.Max != DefaultMaxFrameSize || le.Frame != frame.MESSAGE {
		t.Fatalf("end cause %v", s.Err())
	}
}

// With heart-beats off, a frame begun and never finished still ends the
// session, after FrameReadTimeout.
func TestPartialFrameWithHeartbeatsOffTimesOut(t *testing.T) {
	addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
		_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00MESSAGE\ndestination:/q\n"))
		drain(nc)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const limit = 200 * time.Millisecond
	s, err := Connect(ctx, dial(t, addr), Config{FrameReadTimeout: limit}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-s.Done():
		if !errors.Is(s.Err(), ErrFrameReadTimeout) {
			t.Fatalf("ended with %v", s.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a partly read frame was awaited for ever")
	}
}

// A CONNECTED dribbled one byte at a time cannot stretch the attempt past
// the context's deadline.
func TestDribbledConnectedEndsAtTheDeadline(t *testing.T) {
	addr := rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
		_, _ = nc.Write([]byte("CONNECTED\n"))
		tk := time.NewTicker(20 * time.Millisecond) // the hostile peer's pace
		defer tk.Stop()
		for range tk.C {
			if _, err := nc.Write([]byte("a")); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Connect(ctx, dial(t, addr), Config{}, Callbacks{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a 300ms attempt took %v", d)
	}
}

// What CONNECT offers is what the session enforces: sub-millisecond values
// are rounded up to 1 ms on both sides, never offered as 0 (off) while
// enforced.
func TestSubMillisecondHeartbeatIsOfferedAsEnforced(t *testing.T) {
	offered := make(chan string, 1)
	addr := rawPeer(t, func(nc net.Conn, connect *frame.Frame) {
		offered <- connect.Header.Get(frame.HeartBeat)
		_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\nheart-beat:1000,1000\n\n\x00"))
		drain(nc)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{HeartBeatSend: 500 * time.Microsecond, HeartBeatRecv: 500 * time.Microsecond}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hb := <-offered
	cx, cy, err := frame.ParseHeartBeat(hb)
	if err != nil {
		t.Fatal(err)
	}
	info := s.Info()
	// STOMP: each side beats at max(offer, wish) when both are non-zero.
	want := func(mine, theirs time.Duration) time.Duration {
		if mine == 0 || theirs == 0 {
			return 0
		}
		return max(mine, theirs)
	}
	if info.SendBeat != want(cx, time.Second) || info.RecvBeat != want(cy, time.Second) {
		t.Fatalf("offered %q, enforced send %v recv %v", hb, info.SendBeat, info.RecvBeat)
	}
	if hb != "1,1" {
		t.Fatalf("offered %q, want 1,1 (500µs rounded up)", hb)
	}
}

// beatLikeActiveMQ answers CONNECT at heart-beat:every,0 and then behaves
// as ActiveMQ's write checker does: every interval it beats unless it sent
// a frame since the last check, so after each MESSAGE the next beat comes
// two intervals later. It sends a MESSAGE every third check and stops
// entirely (no RST) when stop is closed.
func beatLikeActiveMQ(t *testing.T, every time.Duration, stop <-chan struct{}, stopped chan<- time.Time) string {
	hb := frame.New(frame.CONNECTED, frame.Version, "1.2")
	hb.Header.Add(frame.HeartBeat, formatMs(every)+",0")
	return rawPeer(t, func(nc net.Conn, _ *frame.Frame) {
		w := frame.NewWriter(nc)
		if err := w.Write(hb); err != nil {
			return
		}
		go drain(nc)
		sentFrame := true // CONNECTED counts: the first beat is 2 intervals later
		tk := time.NewTicker(every)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				stopped <- time.Now()
				drain(nc)
				return
			case <-tk.C:
			}
			var err error
			switch {
			case sentFrame:
				sentFrame = false // skipped: something was written since the last check
			case i%3 == 0:
				err = w.Write(frame.New(frame.MESSAGE, frame.Destination, "/q", frame.MessageId, "m", frame.Subscription, "0"))
				sentFrame = true
			default:
				err = w.Write(nil)
			}
			if err != nil {
				return
			}
		}
	})
}

func formatMs(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// With default settings, a broker that beats like ActiveMQ (gaps of up to
// two intervals) is never declared silent; one that stops entirely is,
// within the stated bound: negotiated interval × Grace.
func TestActiveMQBeatGapsAreNotSilence(t *testing.T) {
	const every = 400 * time.Millisecond // wide enough that scheduling delays on a busy machine stay far inside the margin
	stop := make(chan struct{})
	stopped := make(chan time.Time, 1)
	addr := beatLikeActiveMQ(t, every, stop, stopped)
	ended := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{HeartBeatRecv: every}, Callbacks{End: func(err error) { ended <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Info().Silence, time.Duration(float64(every)*DefaultGrace); got != want {
		t.Fatalf("silence window %v, want %v", got, want)
	}
	select {
	case err := <-ended:
		t.Fatalf("ActiveMQ-like beats declared silent: %v", err)
	case <-time.After(10 * every):
	}
	close(stop)
	at := <-stopped
	select {
	case err := <-ended:
		if !errors.Is(err, ErrHeartbeatTimeout) {
			t.Fatalf("ended with %v", err)
		}
		bound := s.Info().Silence
		if d := time.Since(at); d > bound+500*time.Millisecond { // scheduling slack
			t.Fatalf("frozen peer detected after %v, bound %v", d, bound)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stopped peer not detected")
	}
}

// The client's passcode quoted by the broker (ERROR answering CONNECT,
// ERROR later, CONNECTED header echoes) never reaches an error or Info.
func TestBrokerQuotingThePasscodeIsScrubbed(t *testing.T) {
	const pw = "S3CRETpw"
	t.Run("ERROR answering CONNECT", func(t *testing.T) {
		addr := rawPeer(t, func(nc net.Conn, connect *frame.Frame) {
			got := connect.Header.Get(frame.Passcode)
			f := frame.New(frame.ERROR, frame.Message, "bad passcode "+got)
			f.Body = []byte("login failed for passcode=" + got)
			_ = frame.NewWriter(nc).Write(f)
			drain(nc)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := Connect(ctx, dial(t, addr), Config{Login: "u", Passcode: pw}, Callbacks{})
		var ce *ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("want ConnectError, got %v", err)
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(ce.Message, pw) || strings.Contains(ce.Body, pw) {
			t.Fatalf("passcode in %q / %+v", err, ce)
		}
		if !strings.Contains(err.Error(), "******") {
			t.Fatalf("broker text lost: %q", err)
		}
	})
	t.Run("CONNECTED echoes and a later ERROR", func(t *testing.T) {
		addr := rawPeer(t, func(nc net.Conn, connect *frame.Frame) {
			got := connect.Header.Get(frame.Passcode)
			w := frame.NewWriter(nc)
			_ = w.Write(frame.New(frame.CONNECTED, frame.Version, "1.2", frame.Server, "echo/"+got, frame.Session, got))
			f := frame.New(frame.ERROR, frame.Message, got)
			f.Body = []byte(got)
			_ = w.Write(f)
			drain(nc)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := Connect(ctx, dial(t, addr), Config{Passcode: pw}, Callbacks{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if info := s.Info(); strings.Contains(info.Server+info.SessionID, pw) {
			t.Fatalf("passcode in Info %+v", info)
		}
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("ERROR did not end the session")
		}
		var se *ServerError
		if !errors.As(s.Err(), &se) || strings.Contains(s.Err().Error(), pw) || strings.Contains(se.Message+se.Body, pw) {
			t.Fatalf("end cause %v", s.Err())
		}
	})
}
