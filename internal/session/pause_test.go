package session

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/internal/rawpeer"
)

// encodeMessages is n MESSAGE frames with size-byte bodies, encoded.
func encodeMessages(t *testing.T, n, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := frame.NewWriter(&buf)
	body := bytes.Repeat([]byte("x"), size)
	for i := 0; i < n; i++ {
		f := frame.New(frame.MESSAGE, frame.Destination, "/queue/p", frame.MessageId, strconv.Itoa(i), frame.Subscription, "0")
		f.Body = body
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// A paused session stops reading after the frame it is delivering: the
// peer's writes block (TCP back-pressure) and no further frame is handed
// over until Resume, after which everything arrives.
func TestPauseStopsReadingAndBackPressuresThePeer(t *testing.T) {
	const n = 400 // × 64 KiB: far more than loopback socket buffers hold
	first := encodeMessages(t, 1, 10)
	rest := encodeMessages(t, n, 64<<10)
	blocked := make(chan int, 1)
	resume := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop) // before the peer's cleanup waits for it
	addr := scriptedPeer(t, frame.New(frame.CONNECTED, frame.Version, "1.2"),
		func(nc net.Conn, r *frame.Reader, _ *frame.Writer) {
			if _, err := r.Read(); err != nil { // the client's go-ahead
				return
			}
			if _, err := nc.Write(first); err != nil {
				return
			}
			_ = nc.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
			k, err := nc.Write(rest)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				blocked <- -1 // never blocked: the client kept reading
				return
			}
			blocked <- k
			select {
			case <-resume:
			case <-stop:
				return
			}
			_ = nc.SetWriteDeadline(time.Time{})
			_, _ = nc.Write(rest[k:])
		})
	var sp atomic.Pointer[Session]
	var count atomic.Int64
	all := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{}, Callbacks{Message: func(*frame.Frame) {
		c := count.Add(1)
		if c == 1 {
			sp.Load().Pause()
		}
		if c == n+1 {
			close(all)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sp.Store(s)
	if err := s.Write(frame.New(frame.SEND, frame.Destination, "/queue/go")); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-blocked:
		if k < 0 {
			t.Fatal("the peer's writes never blocked: the paused session kept reading")
		}
		if got := count.Load(); got != 1 {
			t.Fatalf("%d frames delivered while paused, want 1", got)
		}
		if !s.Paused() {
			t.Fatal("Paused() = false")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("peer neither blocked nor finished")
	}
	close(resume)
	s.Resume()
	s.Resume() // idempotent
	select {
	case <-all:
	case <-s.Done():
		t.Fatalf("session ended: %v", s.Err())
	case <-time.After(10 * time.Second):
		t.Fatalf("after Resume only %d of %d frames arrived", count.Load(), n+1)
	}
}

// silentPeer promises beats every beat (heart-beat:beat,0), delivers one
// MESSAGE once the client writes a frame, then says nothing more.
func silentPeer(t *testing.T, beat time.Duration) string {
	hb := strconv.FormatInt(beat.Milliseconds(), 10) + ",0"
	return scriptedPeer(t, frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, hb),
		func(nc net.Conn, r *frame.Reader, w *frame.Writer) {
			if _, err := r.Read(); err != nil {
				return
			}
			_ = w.Write(frame.New(frame.MESSAGE, frame.Destination, "/queue/p", frame.MessageId, "1", frame.Subscription, "0"))
			buf := make([]byte, 1024)
			for {
				if _, err := nc.Read(buf); err != nil {
					return
				}
			}
		})
}

// Time the session chose not to read is not the broker's silence: a paused
// session outlives several silence windows, and once resumed it gets a whole
// window again before the silent peer is declared dead.
func TestPausedSessionIsNotDeclaredSilent(t *testing.T) {
	const beat, grace = 100 * time.Millisecond, 2.0
	const silence = time.Duration(float64(beat) * grace)
	addr := silentPeer(t, beat)
	var sp atomic.Pointer[Session]
	ended := make(chan error, 1)
	paused := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{HeartBeatRecv: beat, Grace: grace}, Callbacks{
		Message: func(*frame.Frame) { sp.Load().Pause(); close(paused) },
		End:     func(err error) { ended <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sp.Store(s)
	if err := s.Write(frame.New(frame.SEND, frame.Destination, "/queue/go")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-paused:
	case err := <-ended:
		t.Fatalf("ended before the message: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	select {
	case err := <-ended:
		t.Fatalf("paused session declared silent: %v", err)
	case <-time.After(3 * silence):
	}
	resumed := time.Now()
	s.Resume()
	select {
	case err := <-ended:
		if !errors.Is(err, ErrHeartbeatTimeout) {
			t.Fatalf("ended with %v, want ErrHeartbeatTimeout", err)
		}
		// The deadline is re-armed at Resume: a whole window, not what was
		// left of one armed before the pause.
		if d := time.Since(resumed); d < silence-10*time.Millisecond {
			t.Fatalf("declared silent %v after Resume, before the %v window", d, silence)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("silent peer not detected after Resume")
	}
}

// Pause never holds up the end: Close and Disconnect on a paused session
// return promptly.
func TestClosingAPausedSessionReturnsPromptly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(s *Session) error
	}{
		{"Close", func(s *Session) error { s.Close(); return nil }},
		{"Disconnect", func(s *Session) error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return s.Disconnect(ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := scriptedPeer(t, frame.New(frame.CONNECTED, frame.Version, "1.2"),
				func(_ net.Conn, r *frame.Reader, w *frame.Writer) { rawpeer.AnswerDisconnect(r, w.Write) })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := Connect(ctx, dial(t, addr), Config{}, Callbacks{})
			if err != nil {
				t.Fatal(err)
			}
			s.Pause()
			s.Pause() // idempotent
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- tc.close(s) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Fatalf("%s took %v", tc.name, d)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s on a paused session hung", tc.name)
			}
			if !errors.Is(s.Err(), ErrClosed) {
				t.Fatalf("end cause %v", s.Err())
			}
			s.Resume() // after the end: harmless
		})
	}
}

// Pause and Resume from many goroutines at once, while frames flow: no race,
// no lost frame, and the session reads everything once resumed for good.
func TestPauseResumeFromManyGoroutines(t *testing.T) {
	const n = 2000
	msgs := encodeMessages(t, n, 100)
	addr := scriptedPeer(t, frame.New(frame.CONNECTED, frame.Version, "1.2"),
		func(nc net.Conn, r *frame.Reader, _ *frame.Writer) {
			if _, err := r.Read(); err != nil {
				return
			}
			_, _ = nc.Write(msgs)
			buf := make([]byte, 1024)
			for {
				if _, err := nc.Read(buf); err != nil {
					return
				}
			}
		})
	var count atomic.Int64
	all := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var sp atomic.Pointer[Session]
	s, err := Connect(ctx, dial(t, addr), Config{}, Callbacks{Message: func(*frame.Frame) {
		if c := count.Add(1); c%7 == 0 {
			sp.Load().Pause()
		} else if c == n {
			close(all)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sp.Store(s)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				s.Pause()
				s.Resume()
			}
		}()
	}
	if err := s.Write(frame.New(frame.SEND, frame.Destination, "/queue/go")); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// The callback pauses every 7th frame: keep resuming until all arrived.
	deadline := time.After(10 * time.Second)
	for {
		s.Resume()
		select {
		case <-all:
			return
		case <-s.Done():
			t.Fatalf("session ended: %v", s.Err())
		case <-deadline:
			t.Fatalf("%d of %d frames", count.Load(), n)
		case <-time.After(time.Millisecond):
		}
	}
}
