package embedded

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/server"
	"github.com/go-stomp/stomp/v3/server/queue"
)

// Options configure a Broker.
type Options struct {
	// Addr to listen on; "" = 127.0.0.1:0 (a random port, kept across restarts).
	Addr string
	// HeartBeat is the server's heart-beat preference (go-stomp treats it as a
	// minimum); 0 = 1 minute, go-stomp's default.
	HeartBeat time.Duration
	// Login and Passcode, when Login is non-empty, are the only credentials accepted.
	Login, Passcode string
	// Deaf makes the broker accept TCP connections and never answer.
	Deaf bool
	// Storage, when set, holds the queues (share one SharedStorage between a
	// primary and a backup for a shared-store pair). nil = private, in memory.
	Storage *SharedStorage
	// Engine is the STOMP implementation; the zero value is EngineGoStomp.
	Engine Engine
}

// Broker is a killable in-process STOMP broker.
type Broker struct {
	opts Options

	mu       sync.Mutex
	addr     string
	ln       *trackingListener
	conns    map[*trackedConn]struct{}
	frozen   chan struct{} // non-nil while frozen; closed by Thaw
	parked   []net.Conn    // accepted while blackholed, never answered
	running  bool
	accepted atomic.Int64

	blackholed   atomic.Bool
	muteReceipts atomic.Bool
	cutNext      atomic.Bool
	mini         *miniBroker    // the running EngineMini, if any
	ownStore     *SharedStorage // EngineMini's store when Options.Storage is nil
	gs           *gostompRun    // the running EngineGoStomp, if any
}

// New starts a broker.
func New(opts Options) (*Broker, error) {
	b := &Broker{opts: opts, addr: opts.Addr, conns: map[*trackedConn]struct{}{}}
	if b.addr == "" {
		b.addr = "127.0.0.1:0"
	}
	if err := b.Start(); err != nil {
		return nil, err
	}
	return b, nil
}

// Addr returns host:port.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// URL returns tcp://host:port.
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// Accepted returns how many TCP connections the broker has accepted in all.
func (b *Broker) Accepted() int64 { return b.accepted.Load() }

// Running reports whether the broker is listening.
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

// Start listens again (on the same port after a Kill). It is a no-op when running.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running {
		return nil
	}
	if b.opts.Engine != EngineGoStomp && b.opts.Engine != EngineMini {
		return fmt.Errorf("embedded broker: unknown engine %v", b.opts.Engine)
	}
	// The port was ours a moment ago; a just-closed listener can take a
	// moment to release it: listenOn retries briefly.
	ln, err := listenOn(b.addr)
	if err != nil {
		return err
	}
	b.addr = ln.Addr().String()
	tl := &trackingListener{ln: ln, addr: ln.Addr(), b: b}
	b.ln = tl
	b.running = true
	if b.opts.Deaf {
		go tl.serveDeaf()
		return nil
	}
	if b.opts.Engine == EngineMini {
		st := b.opts.Storage
		if st == nil {
			if b.ownStore == nil {
				b.ownStore = NewSharedStorage()
			}
			st = b.ownStore
		}
		b.mini = startMini(b, tl, st)
		return nil
	}
	var inner server.QueueStorage = queue.NewMemoryQueueStorage()
	if b.opts.Storage != nil {
		inner = b.opts.Storage
	}
	b.gs = &gostompRun{store: &barrierStorage{QueueStorage: inner}, ln: tl}
	srv := &server.Server{HeartBeat: b.opts.HeartBeat, Log: quietLogger{}, QueueStorage: b.gs.store}
	if b.opts.Login != "" {
		srv.Authenticator = auth{b.opts.Login, b.opts.Passcode}
	}
	go func() { _ = srv.Serve(tl) }()
	return nil
}

// killSettle bounds Kill's wait for the server to let go of its connections.
const killSettle = 5 * time.Second

// Kill simulates a crash: the listener closes and every open connection is
// reset. It returns once the server has cleaned up each connection, so that
// with a SharedStorage everything the broker acknowledged with a RECEIPT is
// in the store and everything unacknowledged is back in it (as it is in a
// real shared store when the backup takes over). It is a no-op when the
// broker is not running. It waits at most a few seconds in all.
//
// With EngineGoStomp that takes a barrier: go-stomp's server sends a SEND's
// RECEIPT before it hands the message to its request processor, and a
// closing connection hands over its requeues without waiting for them, so
// a message can still be on its way to the store when the connection is
// gone. Kill therefore pushes one more request through the processor (a
// SEND on an in-memory connection) and waits until the store sees it:
// requests are processed in order, so everything before it is stored.
func (b *Broker) Kill() {
	b.mu.Lock()
	if !b.running {
		b.mu.Unlock()
		return
	}
	b.running = false
	mini := b.mini
	b.mini = nil
	if mini != nil {
		defer mini.stop() // after the connections are released
	}
	var bar *barrier
	if b.gs != nil {
		// Set before the listener closes: go-stomp's accept loop then
		// takes this in-memory connection as its last one.
		bar = b.gs.newBarrier()
		b.gs = nil
	}
	_ = b.ln.Close()
	conns := make([]*trackedConn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.thawLocked() // a crash ends a freeze
	parked := b.parked
	b.parked = nil
	b.mu.Unlock()
	for _, c := range parked {
		rst(c)
	}
	for _, c := range conns {
		c.kill()
	}
	deadline := time.NewTimer(killSettle)
	defer deadline.Stop()
	if bar != nil {
		defer bar.close()
	}
	for _, c := range conns {
		select {
		case <-c.released:
		case <-deadline.C:
			return
		}
	}
	if bar != nil {
		bar.wait(b.opts, deadline.C)
	}
}

// Close kills the broker for good.
func (b *Broker) Close() error {
	b.Kill()
	return nil
}

// Conns returns the number of open client connections.
func (b *Broker) Conns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// serveDeaf accepts connections and never answers them.
func (l *trackingListener) serveDeaf() {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					_ = c.Close()
					return
				}
			}
		}()
	}
}

type auth struct{ login, passcode string }

func (a auth) Authenticate(login, passcode string) bool {
	return login == a.login && passcode == a.passcode
}

// quietLogger silences go-stomp's server, which logs every connection.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...interface{})   {}
func (quietLogger) Debug(string)                    {}
func (quietLogger) Infof(string, ...interface{})    {}
func (quietLogger) Info(string)                     {}
func (quietLogger) Warningf(string, ...interface{}) {}
func (quietLogger) Warning(string)                  {}
func (quietLogger) Errorf(string, ...interface{})   {}
func (quietLogger) Error(string)                    {}
