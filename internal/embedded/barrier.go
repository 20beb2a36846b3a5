package embedded

import (
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/go-stomp/stomp/v3/server"
)

// barrierPrefix names the queues of Kill's barriers; they are never stored.
const barrierPrefix = "/queue/stompft.embedded.barrier."

var barrierSeq atomic.Uint64

// gostompRun is one run (Start to Kill) of the go-stomp engine.
type gostompRun struct {
	store *barrierStorage
	ln    *trackingListener
}

// barrierStorage is the go-stomp server's queue storage: the Broker's
// (shared or private) store, except for the barrier queues, whose SEND
// tells a waiting Kill that the request processor has reached it.
type barrierStorage struct {
	server.QueueStorage

	mu      sync.Mutex
	waiting map[string]chan struct{}
}

// Enqueue implements server.QueueStorage.
func (s *barrierStorage) Enqueue(q string, f *frame.Frame) error {
	s.mu.Lock()
	ch, ok := s.waiting[q]
	if ok {
		delete(s.waiting, q)
	}
	s.mu.Unlock()
	if ok {
		close(ch)
		return nil
	}
	return s.QueueStorage.Enqueue(q, f)
}

// barrier is one in-memory connection through which Kill sends a SEND
// after every killed connection has handed over its requests.
type barrier struct {
	dest    string
	reached chan struct{}
	client  net.Conn
	server  net.Conn
	drained chan struct{}
}

// newBarrier prepares a barrier and hands its server end to the listener,
// which returns it from the Accept that fails once the listener is closed.
func (g *gostompRun) newBarrier() *barrier {
	srv, cli := net.Pipe()
	br := &barrier{
		dest:    barrierPrefix + strconv.FormatUint(barrierSeq.Add(1), 10),
		reached: make(chan struct{}),
		client:  cli, server: srv,
		drained: make(chan struct{}),
	}
	g.store.mu.Lock()
	if g.store.waiting == nil {
		g.store.waiting = map[string]chan struct{}{}
	}
	g.store.waiting[br.dest] = br.reached
	g.store.mu.Unlock()
	g.ln.mu.Lock()
	g.ln.inject = srv
	g.ln.mu.Unlock()
	go func() { // the server's answers (CONNECTED) must be read off the pipe
		defer close(br.drained)
		_, _ = io.Copy(io.Discard, cli)
	}()
	return br
}

// wait sends CONNECT and the barrier's SEND and waits until the store has
// seen it, or until stop.
func (br *barrier) wait(opts Options, stop <-chan time.Time) {
	connect := frame.New(frame.CONNECT, frame.AcceptVersion, "1.2", frame.Host, "/", frame.HeartBeat, "0,0")
	if opts.Login != "" {
		connect.Header.Set(frame.Login, opts.Login)
		connect.Header.Set(frame.Passcode, opts.Passcode)
	}
	send := frame.New(frame.SEND, frame.Destination, br.dest, frame.ContentLength, "0")
	_ = br.client.SetWriteDeadline(time.Now().Add(killSettle))
	w := frame.NewWriter(br.client)
	if w.Write(connect) != nil || w.Write(send) != nil {
		return
	}
	select {
	case <-br.reached:
	case <-stop:
	}
}

// close ends the barrier's connection; the server end's goroutines end
// with it. If go-stomp never accepted the server end, it is closed here.
func (br *barrier) close() {
	_ = br.client.Close()
	_ = br.server.Close()
	<-br.drained
}
