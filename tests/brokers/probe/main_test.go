package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// fakeBroker answers every connection's CONNECT with reply (raw bytes); an
// empty reply means it never answers. It records the CONNECT headers.
func fakeBroker(t *testing.T, reply string) (addr string, connects chan *frame.Frame) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	connects = make(chan *frame.Frame, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f, err := frame.NewReader(c).Read()
			if err == nil && f != nil {
				connects <- f
			}
			if reply != "" {
				_, _ = c.Write([]byte(reply))
			}
			// Keep the socket until the client closes it.
			_, _ = c.Read(make([]byte, 1024))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), connects
}

func TestConnectOnce(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		wantErr string // "" means CONNECTED expected
	}{
		{"connected", "CONNECTED\nversion:1.2\n\n\x00", ""},
		{"heart-beat first", "\nCONNECTED\nversion:1.2\n\n\x00", ""},
		{"error frame", "ERROR\nmessage:Bad CONNECT\n\n\x00", "Bad CONNECT"},
		{"other frame", "MESSAGE\n\n\x00", "unexpected MESSAGE"},
		{"never answers", "", "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, connects := fakeBroker(t, tt.reply)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			f, err := connectOnce(ctx, addr, "/", "user", "secret")
			if tt.wantErr == "" {
				if err != nil || f.Command != frame.CONNECTED {
					t.Fatalf("connectOnce = %v, %v; want CONNECTED", f, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("connectOnce error = %v, want it to contain %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the passcode: %v", err)
			}
			select {
			case c := <-connects:
				if c.Header.Get(frame.Host) != "/" || c.Header.Get(frame.Login) != "user" {
					t.Errorf("CONNECT headers host=%q login=%q", c.Header.Get(frame.Host), c.Header.Get(frame.Login))
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the fake broker got no CONNECT")
			}
		})
	}
}

func TestWaitConnectedGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // refused from now on
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := waitConnected(ctx, addr, "/", "", "", 100*time.Millisecond); err == nil ||
		!strings.Contains(err.Error(), "refused") {
		t.Fatalf("waitConnected on a closed port = %v, want the last dial error (refused)", err)
	}
}

// TestWaitConnectedRetries: a broker still starting may refuse the first
// CONNECT; the probe keeps trying until CONNECTED.
func TestWaitConnectedRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		n := 0
		defer func() { done <- n }()
		for _, reply := range []string{"ERROR\nmessage:starting\n\n\x00", "CONNECTED\nversion:1.2\n\n\x00"} {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n++
			_, _ = frame.NewReader(c).Read()
			_, _ = c.Write([]byte(reply))
			_, _ = c.Read(make([]byte, 64))
			c.Close()
		}
	}()
	defer func() {
		ln.Close()
		if n := <-done; n != 2 {
			t.Errorf("broker saw %d connections, want 2", n)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := waitConnected(ctx, ln.Addr().String(), "/", "", "", 5*time.Second); err != nil {
		t.Fatalf("waitConnected = %v, want success on the second attempt", err)
	}
}
