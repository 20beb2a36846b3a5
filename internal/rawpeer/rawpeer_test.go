package rawpeer_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/internal/leakcheck"
	"github.com/stompft/stompft/internal/rawpeer"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// The first connection gets the script, with its CONNECT; a second one is
// closed at once; DISCONNECT is answered with its RECEIPT.
func TestServeScriptsTheFirstConnectionOnly(t *testing.T) {
	got := make(chan string, 1)
	addr := rawpeer.Serve(t, func(nc net.Conn, r *frame.Reader, connect *frame.Frame) {
		got <- connect.Header.Get(frame.Login)
		rawpeer.AnswerDisconnect(r, frame.NewWriter(nc).Write)
	})
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	w, r := frame.NewWriter(nc), frame.NewReader(nc)
	if err := w.Write(frame.New(frame.CONNECT, frame.Login, "me")); err != nil {
		t.Fatal(err)
	}
	select {
	case login := <-got:
		if login != "me" {
			t.Fatalf("CONNECT login %q", login)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the script never ran")
	}
	if err := w.Write(frame.New(frame.DISCONNECT, frame.Receipt, "bye")); err != nil {
		t.Fatal(err)
	}
	f, err := r.Read()
	if err != nil || f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != "bye" {
		t.Fatalf("after DISCONNECT: %v %v", f, err)
	}

	second, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := second.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("second connection: read %d bytes, %v; want it closed", n, err)
	}
}
