package factorytest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/embedded"
)

// ErrClosed is returned by Restart and Heal once the broker is closed.
var ErrClosed = errors.New("factorytest: broker closed")

// Option configures a broker made by NewBroker or NewPair.
type Option func(*options) error

type options struct {
	heartBeat        time.Duration
	login, passcode  string
	credentialsGiven bool
}

// WithHeartBeat sets the broker's heart-beat, in both directions: the
// broker sends no more often than this and asks the client for no more
// often than this (it takes the larger of its value and the client's, as
// ActiveMQ and RabbitMQ do). It is a minimum of 1 ms. Defaults to 1 minute:
// heart-beats are negotiated but, within a test, seldom sent. Use a short
// value (with a matching heartbeat key in the conf) to rehearse Freeze,
// which only heart-beats or timeouts can detect.
func WithHeartBeat(d time.Duration) Option {
	return func(o *options) error {
		if d < time.Millisecond {
			return fmt.Errorf("factorytest: WithHeartBeat(%v): the minimum is 1ms", d)
		}
		o.heartBeat = d
		return nil
	}
}

// WithCredentials makes the broker accept only this login and passcode
// (anything else gets an ERROR "Bad CONNECT" and the connection closes). The
// conf text from Conf then carries them. By default any login is accepted.
func WithCredentials(login, passcode string) Option {
	return func(o *options) error {
		if login == "" {
			return errors.New("factorytest: WithCredentials: the login is empty")
		}
		o.login, o.passcode, o.credentialsGiven = login, passcode, true
		return nil
	}
}

func buildOptions(opts []Option) (options, error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// Broker is an in-process STOMP 1.2 (and 1.1) broker listening on a free
// loopback port, with faults to inject. Its methods are safe for
// concurrent use. Make one with NewBroker or NewPair.
type Broker struct {
	eb   *embedded.Broker
	opts options

	mu     sync.Mutex
	closed bool
}

// NewBroker starts a broker on 127.0.0.1 at a free port and registers its
// Close with t.Cleanup. Its queues live in memory and survive Kill and
// Restart, like a persistent broker's. It fails the test if the broker
// cannot start or an option is invalid.
func NewBroker(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	b, err := StartBroker(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// StartBroker is NewBroker without a test: the caller must Close the
// broker (for Examples and TestMain).
func StartBroker(opts ...Option) (*Broker, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	return start(o, nil)
}

func start(o options, store *embedded.SharedStorage) (*Broker, error) {
	eb, err := embedded.New(embedded.Options{
		Engine:    embedded.EngineMini,
		Storage:   store,
		HeartBeat: o.heartBeat,
		Login:     o.login,
		Passcode:  o.passcode,
	})
	if err != nil {
		return nil, fmt.Errorf("factorytest: start broker: %w", err)
	}
	return &Broker{eb: eb, opts: o}, nil
}

// Addr returns the broker's "127.0.0.1:port". It stays the same across
// Kill and Restart.
func (b *Broker) Addr() string { return b.eb.Addr() }

// URL returns "tcp://127.0.0.1:port", for a factories.conf url.
func (b *Broker) URL() string { return b.eb.URL() }

// Close stops the broker for good as Kill does, and waits for its
// goroutines. It is idempotent; NewBroker and NewPair register it with
// t.Cleanup.
func (b *Broker) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.eb.Kill()
}

// Kill crashes the broker: every open connection is reset (the client
// reads ECONNRESET at once, as when a broker process dies) and new dials
// are refused. Messages the broker had stored stay stored, and deliveries a
// consumer had not acknowledged are put back in their queue, marked
// redelivered:true, for the next consumer (on this broker after Restart,
// or on the other broker of a Pair at once). Kill returns once that is
// done. Restart brings the broker back. A no-op on a killed broker.
func (b *Broker) Kill() { b.eb.Kill() }

// Restart kills the broker if it is running, clears every fault (Refuse,
// Blackhole, Freeze, MuteReceipts, a pending CutMidFrame), and starts it
// again on the same address with the same stored messages, as a broker
// process restarted by its supervisor. Clients reconnect to it as to any
// broker that came back.
func (b *Broker) Restart() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.eb.Kill()
	b.clearFaults()
	if err := b.eb.Start(); err != nil {
		return fmt.Errorf("factorytest: restart %s: %w", b.URL(), err)
	}
	return nil
}

// clearFaults ends every fault a running broker can have.
func (b *Broker) clearFaults() {
	b.eb.Thaw()
	b.eb.SetBlackhole(false)
	b.eb.SetMuteReceipts(false)
	b.eb.CancelCut()
}

// Heal ends every fault set on the running broker: Refuse (it listens
// again on the same address), Blackhole (the connections it held are
// reset), Freeze (as Thaw), MuteReceipts and a CutMidFrame that has not
// happened yet. It does not bring back a killed broker: that is Restart.
func (b *Broker) Heal() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.clearFaults()
	if err := b.eb.Listen(); err != nil {
		return fmt.Errorf("factorytest: heal %s: %w", b.URL(), err)
	}
	return nil
}

// Refuse stops the broker listening, as a broker process that is gone or
// not yet up: new dials fail at once with "connection refused", while open
// connections carry on working. Heal (or Restart) listens again on the
// same address.
func (b *Broker) Refuse() { b.eb.Refuse() }

// Blackhole makes the broker accept new TCP connections and never answer
// them: the client's dial succeeds, then its CONNECT waits for CONNECTED
// until the client's own attempt timeout (connect_attempt_timeout,
// reconnect_attempt_timeout). Nothing is read from those connections,
// nothing written, nothing closed. Open connections carry on working (to
// silence them too, use Freeze). Heal (or Kill) ends it and resets (RST)
// the connections it held.
func (b *Broker) Blackhole() { b.eb.SetBlackhole(true) }

// Freeze stops the broker as a SIGSTOP would: open connections stay open,
// no RST, no FIN, but nothing more is read or written on them, heart-beats
// included; new dials succeed (the kernel accepts them) and are never
// answered. A client notices only by its heart-beat check or its timeouts
// (send_timeout, receipt waits, attempt timeouts). Thaw (or Heal) resumes
// the broker: what clients sent meanwhile is then read and served, as when
// a stopped process continues. Kill ends a freeze.
func (b *Broker) Freeze() { b.eb.Freeze() }

// Thaw ends a Freeze. A no-op when the broker is not frozen.
func (b *Broker) Thaw() { b.eb.Thaw() }

// MuteReceipts makes the broker swallow every RECEIPT frame from now on,
// while still doing what the frames asked (a SEND with a receipt header is
// stored, a DISCONNECT is honoured): a client waiting for a receipt waits
// until its own timeout. Heal (or Restart) ends it.
func (b *Broker) MuteReceipts() { b.eb.SetMuteReceipts(true) }

// CutMidFrame makes the broker cut the next frame it sends to any client
// (CONNECTED, MESSAGE, RECEIPT or ERROR; heart-beats do not count): the
// client reads the first half of the frame, then the connection closes
// (EOF, not RST), as when a broker dies in the middle of a write. The
// broker goes on running; a message cut that way was not acknowledged, so
// it is redelivered (a client-ack subscription gets it again,
// redelivered:true; with ack:auto the broker counts it as delivered, as
// real brokers do). Heal (or Restart) withdraws a cut that has not
// happened yet.
func (b *Broker) CutMidFrame() { b.eb.CutNextFrame() }

// Running reports whether the broker is up: false after Kill or Close,
// true again after Restart. A refused, blackholed or frozen broker is
// running.
func (b *Broker) Running() bool { return b.eb.Running() }

// Conns returns the number of client connections the broker is serving
// (connections held by Blackhole are not counted).
func (b *Broker) Conns() int { return b.eb.Conns() }

// Accepted returns the number of TCP connections the broker has accepted
// since it was made, across restarts. A connection held by Blackhole is
// counted once it is held.
func (b *Broker) Accepted() int64 { return b.eb.Accepted() }

// Queued returns how many messages a queue destination ("/queue/orders")
// holds, waiting for a consumer: neither delivered nor delivered and then
// put back. Messages delivered and not yet acknowledged are not counted.
// The two brokers of a Pair share their queues, so both report the same.
func (b *Broker) Queued(queue string) int { return b.eb.Queued(queue) }

// Conf returns a factories.conf section named name whose url is this
// broker; see Pair.Conf for the keys it sets and how extra lines work.
func (b *Broker) Conf(name string, extra ...string) string {
	return confText(name, b.URL(), b.opts, extra)
}

// Config parses Conf(name, extra...) into a *confparse.Config ready for
// factory.New. The only errors come from extra lines the parser rejects.
func (b *Broker) Config(name string, extra ...string) (*confparse.Config, error) {
	return parse(b.Conf(name, extra...))
}

// Pair is a primary and a backup broker sharing one store, as an ActiveMQ
// shared-store master/slave pair: what the primary held when it failed
// (queued, or delivered and not acknowledged) is served by the backup. Both
// listen from the start; clients given "url = primary,backup" use the
// primary while it answers.
type Pair struct {
	Primary *Broker
	Backup  *Broker
}

// NewPair starts a primary and a backup sharing their queues, each as
// NewBroker does, with the same options; both are closed by t.Cleanup. It
// fails the test if either cannot start or an option is invalid.
func NewPair(t testing.TB, opts ...Option) *Pair {
	t.Helper()
	p, err := StartPair(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// StartPair is NewPair without a test: the caller must Close the pair.
func StartPair(opts ...Option) (*Pair, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	store := embedded.NewSharedStorage()
	primary, err := start(o, store)
	if err != nil {
		return nil, err
	}
	backup, err := start(o, store)
	if err != nil {
		primary.Close()
		return nil, err
	}
	return &Pair{Primary: primary, Backup: backup}, nil
}

// Close closes both brokers. It is idempotent.
func (p *Pair) Close() {
	p.Primary.Close()
	p.Backup.Close()
}

// URL returns the pair's url value, primary first:
// "tcp://127.0.0.1:p1,tcp://127.0.0.1:p2".
func (p *Pair) URL() string { return p.Primary.URL() + "," + p.Backup.URL() }

// Conf returns the text of a factories.conf section named name for the
// pair (url = primary,backup), with test-friendly settings:
//
//	type                      = queue
//	url                       = tcp://127.0.0.1:p1,tcp://127.0.0.1:p2
//	connect_attempt_delay     = 20
//	connect_attempt_timeout   = 1000
//	reconnect_attempt_count   = 100
//	reconnect_attempt_delay   = 20
//	reconnect_attempt_timeout = 1000
//	reconnect_jitter          = none
//	reconnect_spread          = 0
//
// plus login and passcode when the brokers were made WithCredentials. Each
// extra argument is one "key = value" line; one whose key is already there
// replaces that line, others are appended in order. Concatenate several
// sections for a file with more than one factory.
func (p *Pair) Conf(name string, extra ...string) string {
	return confText(name, p.URL(), p.Primary.opts, extra)
}

// Config parses Conf(name, extra...) into a *confparse.Config ready for
// factory.New. The only errors come from extra lines the parser rejects.
func (p *Pair) Config(name string, extra ...string) (*confparse.Config, error) {
	return parse(p.Conf(name, extra...))
}

// confDefaults are Conf's settings: failover within milliseconds, and an
// attempt on a silent broker bounded to a second.
var confDefaults = []string{
	"type = queue",
	"url = ",
	"connect_attempt_delay = 20",
	"connect_attempt_timeout = 1000",
	"reconnect_attempt_count = 100",
	"reconnect_attempt_delay = 20",
	"reconnect_attempt_timeout = 1000",
	"reconnect_jitter = none",
	"reconnect_spread = 0",
}

func confText(name, url string, o options, extra []string) string {
	lines := append([]string(nil), confDefaults...)
	lines[1] = "url = " + url
	if o.credentialsGiven {
		lines = append(lines, "login = "+o.login, "passcode = "+o.passcode)
	}
	for _, e := range extra {
		k := confKey(e)
		replaced := false
		for i, l := range lines {
			if k != "" && confKey(l) == k {
				lines[i], replaced = strings.TrimSpace(e), true
				break
			}
		}
		if !replaced {
			lines = append(lines, strings.TrimSpace(e))
		}
	}
	var sb strings.Builder
	sb.WriteString("[" + name + "]\n")
	for _, l := range lines {
		sb.WriteString("  " + l + "\n")
	}
	return sb.String()
}

func confKey(line string) string {
	k, _, ok := strings.Cut(line, "=")
	if !ok {
		return ""
	}
	return strings.TrimSpace(k)
}

func parse(text string) (*confparse.Config, error) {
	cfg, err := confparse.Parse("factorytest.conf", []byte(text))
	if err != nil {
		return nil, fmt.Errorf("factorytest: %w", err)
	}
	return cfg, nil
}
