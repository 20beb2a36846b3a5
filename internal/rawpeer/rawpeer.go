// Package rawpeer is the hostile STOMP peer of the project's tests: a
// loopback TCP server that reads the client's CONNECT and then writes
// whatever bytes a test scripts (malformed frames, floods, stalls), the
// faults no real broker produces on demand.
//
// Only the first connection is served; later ones (a client's reconnect
// attempts) are closed at once, so a test sees exactly one scripted session.
// Everything the peer started stops at the test's cleanup.
package rawpeer

import (
	"net"
	"sync"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

// Serve listens on 127.0.0.1, reads CONNECT from the first connection and
// runs serve with the connection, its frame reader (positioned after
// CONNECT) and the CONNECT frame. It returns the listening address. The
// listener and the connection are closed when the test ends, and the test
// waits for serve to return: serve must return once nc is closed.
func Serve(t testing.TB, serve func(nc net.Conn, r *frame.Reader, connect *frame.Frame)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		first net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if n > 0 {
				_ = nc.Close()
				continue
			}
			mu.Lock()
			first = nc
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				r := frame.NewReader(nc)
				f, err := r.Read()
				if err != nil || f == nil {
					return
				}
				serve(nc, r, f)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		if first != nil {
			_ = first.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Drain reads from nc until the connection fails.
func Drain(nc net.Conn) {
	buf := make([]byte, 4096)
	for {
		if _, err := nc.Read(buf); err != nil {
			return
		}
	}
}

// Stream writes chunk to nc until the connection fails.
func Stream(nc net.Conn, chunk []byte) {
	for {
		if _, err := nc.Write(chunk); err != nil {
			return
		}
	}
}

// AnswerDisconnect reads frames from r until the connection fails, ignoring
// them, except DISCONNECT, whose RECEIPT it writes with write (so the
// client's Close is prompt). write may lock, when the peer writes from
// another goroutine too.
func AnswerDisconnect(r *frame.Reader, write func(*frame.Frame) error) {
	for {
		f, err := r.Read()
		if err != nil {
			return
		}
		if f != nil && f.Command == frame.DISCONNECT {
			_ = write(frame.New(frame.RECEIPT, frame.ReceiptId, f.Header.Get(frame.Receipt)))
		}
	}
}
