package session

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/internal/embedded/embeddedtest"
	"github.com/stompft/stompft/internal/rawpeer"
)

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

func brokerT(t *testing.T, o embedded.Options) *embedded.Broker {
	t.Helper()
	return embeddedtest.Start(t, o)
}

func TestHandshakeNegotiatesHeartbeatsAndReceipts(t *testing.T) {
	b := brokerT(t, embedded.Options{HeartBeat: 200 * time.Millisecond, Engine: embedded.EngineMini})
	var mu sync.Mutex
	var receipts []string
	got := make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, b.Addr()), Config{HeartBeatSend: 300 * time.Millisecond, HeartBeatRecv: 100 * time.Millisecond, Grace: 2},
		Callbacks{Receipt: func(id string) {
			mu.Lock()
			receipts = append(receipts, id)
			mu.Unlock()
			got <- struct{}{}
		}})
	if err != nil {
		t.Fatal(err)
	}
	info := s.Info()
	if info.Version != "1.2" || info.SendBeat < 300*time.Millisecond || info.RecvBeat < 200*time.Millisecond {
		t.Fatalf("negotiated %+v", info)
	}
	if err := s.Write(frame.New(frame.SEND, frame.Destination, "/queue/s", frame.Receipt, "r1")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no receipt")
	}
	mu.Lock()
	if len(receipts) != 1 || receipts[0] != "r1" {
		t.Fatalf("receipts %v", receipts)
	}
	mu.Unlock()
	if s.BytesOut() == 0 {
		t.Fatal("BytesOut not counted")
	}
	if err := s.Disconnect(ctx); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	<-s.Done()
	if !errors.Is(s.Err(), ErrClosed) {
		t.Fatalf("end cause %v", s.Err())
	}
}

func TestConnectRefusedIsAConnectError(t *testing.T) {
	b := brokerT(t, embedded.Options{Login: "u", Passcode: "right", Engine: embedded.EngineMini})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Connect(ctx, dial(t, b.Addr()), Config{Login: "u", Passcode: "wrong-secret"}, Callbacks{})
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("want *ConnectError, got %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("passcode in error: %v", err)
	}
}

func TestDeafPeerHandshakeEndsAtTheDeadline(t *testing.T) {
	b := brokerT(t, embedded.Options{Deaf: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Connect(ctx, dial(t, b.Addr()), Config{}, Callbacks{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
}

// scriptedPeer is a one-connection STOMP peer for faults no real broker
// produces on demand: it answers CONNECT with connected, then runs serve.
// It returns the address; the connection and listener close with the test.
func scriptedPeer(t *testing.T, connected *frame.Frame, serve func(nc net.Conn, r *frame.Reader, w *frame.Writer)) string {
	t.Helper()
	return rawpeer.Serve(t, func(nc net.Conn, r *frame.Reader, _ *frame.Frame) {
		w := frame.NewWriter(nc)
		if err := w.Write(connected); err != nil {
			return
		}
		serve(nc, r, w)
	})
}

func TestSilentPeerEndsTheSessionByHeartbeat(t *testing.T) {
	// A peer that answers CONNECT promising beats every 50 ms, then goes quiet.
	addr := scriptedPeer(t, frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, "50,0"),
		func(nc net.Conn, _ *frame.Reader, _ *frame.Writer) {
			buf := make([]byte, 1024)
			for {
				if _, err := nc.Read(buf); err != nil {
					return
				}
			}
		})
	ended := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{HeartBeatRecv: 50 * time.Millisecond, Grace: 2},
		Callbacks{End: func(err error) { ended <- err }})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, ErrHeartbeatTimeout) {
			t.Fatalf("ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("silent peer not detected")
	}
	s.Close()
}

func TestErrorFrameEndsTheSessionWithItsMessage(t *testing.T) {
	addr := scriptedPeer(t, frame.New(frame.CONNECTED, frame.Version, "1.2"),
		func(_ net.Conn, r *frame.Reader, w *frame.Writer) {
			if _, err := r.Read(); err != nil {
				return
			}
			_ = w.Write(frame.New(frame.ERROR, frame.Message, "forbidden", frame.ReceiptId, "r9"))
		})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Write(frame.New(frame.SEND, frame.Destination, "/queue/no", frame.Receipt, "r9"))
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("ERROR frame did not end the session")
	}
	var se *ServerError
	if !errors.As(s.Err(), &se) || se.Message != "forbidden" || se.ReceiptID != "r9" {
		t.Fatalf("end cause %#v", s.Err())
	}
	s.Close()
}

// A peer that beats often and never hangs up, even after DISCONNECT's
// receipt: Close must not wait for it (the read loop re-arms its deadline
// on every beat).
func TestCloseReturnsWhileThePeerKeepsBeating(t *testing.T) {
	addr := scriptedPeer(t, frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, "5,0"),
		func(_ net.Conn, r *frame.Reader, w *frame.Writer) {
			var wmu sync.Mutex
			go rawpeer.AnswerDisconnect(r, func(f *frame.Frame) error {
				wmu.Lock()
				defer wmu.Unlock()
				return w.Write(f)
			})
			// Beat back to back, so the read loop is nearly always between
			// two reads, re-arming its deadline, when Close comes; stops when
			// the test's cleanup closes the connection.
			for {
				wmu.Lock()
				err := w.Write(nil)
				wmu.Unlock()
				if err != nil {
					return
				}
			}
		})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{HeartBeatRecv: 5 * time.Millisecond, Grace: 200}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		_ = s.Disconnect(ctx)
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Disconnect/Close hung while the peer kept beating")
	}
}

// The factory decides a send's fate from Err under its own lock, against
// the loss End applied under the same lock: Err must already be set while
// End runs, before Done closes (else a send written as the session died
// waited for a receipt until its send timeout).
func TestErrIsSetWhenEndRuns(t *testing.T) {
	b := brokerT(t, embedded.Options{})
	var sp atomic.Pointer[Session]
	seen := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, b.Addr()), Config{}, Callbacks{End: func(error) {
		seen <- sp.Load().Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	sp.Store(s)
	b.Kill()
	select {
	case err := <-seen:
		if err == nil {
			t.Fatal("Err() was nil while End ran")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not end")
	}
	s.Close()
}

// Once a session has begun to end (End is running: the factory may already
// have applied the loss and moved on), Write refuses, though Done is not
// closed yet: a frame written then would go out on a connection nobody
// owns any more. Write used to check Done only.
func TestWriteRefusesOnceTheEndHasBegun(t *testing.T) {
	// A peer that answers CONNECT, then closes (FIN, no RST): a write
	// after that still reaches the kernel without error.
	addr := scriptedPeer(t, frame.New(frame.CONNECTED, frame.Version, "1.2"),
		func(nc net.Conn, _ *frame.Reader, _ *frame.Writer) {
			_ = nc.(*net.TCPConn).CloseWrite()
			rawpeer.Drain(nc)
		})
	ending, proceed := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Connect(ctx, dial(t, addr), Config{}, Callbacks{End: func(error) {
		close(ending)
		<-proceed // End still running: Done not closed
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-ending:
	case <-time.After(5 * time.Second):
		close(proceed)
		t.Fatal("the peer's close did not end the session")
	}
	werr := s.Write(frame.New(frame.SEND, frame.Destination, "/queue/late"))
	close(proceed)
	if werr == nil || !errors.Is(werr, s.Err()) {
		t.Fatalf("Write while the session ends: %v (session: %v)", werr, s.Err())
	}
}
