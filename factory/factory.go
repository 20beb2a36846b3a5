package factory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/session"
	"github.com/stompft/stompft/sequential"
)

// Observer receives connection figures as they happen (the metrics
// subpackage implements it). Its methods must be fast and must not block.
type Observer interface {
	Connected(factory, url string)
	Disconnected(factory, url string)
	AttemptFailed(factory, url string)
	Reconnected(factory, url string, downtime time.Duration)
}

// WithObserver reports connection figures to o. Defaults to none.
func WithObserver(o Observer) Option {
	return func(opts *Options) error {
		opts.observer = o
		return nil
	}
}

// Factory creates failover connections from a factories.conf. It is safe
// for concurrent use.
type Factory struct {
	path string
	opts Options

	mu     sync.RWMutex
	cfg    *confparse.Config
	scheds map[string]*attempts.Scheduler
	conns  map[*Connection]struct{}
	added  map[string][]sequential.Endpoint // AddServer, per factory name

	watch *watcher
}

// Load reads and validates a factories.conf (native EMS syntax or TOML) and
// watches it: edits apply to new connections and to the next reconnect of
// existing ones; an edit that does not parse is logged and ignored.
// Pass WithWatch(false) to read it once.
func Load(path string, opts ...Option) (*Factory, error) {
	base := GetDefaultOptions()
	base.Watch = true
	o, err := applyOptions(base, opts)
	if err != nil {
		return nil, err
	}
	cfg, err := confparse.ParseFile(path)
	if err != nil {
		return nil, err
	}
	f := newFactory(path, cfg, o)
	for _, w := range cfg.Warnings {
		o.Logger.Warn(w.String())
	}
	if o.Watch {
		w, err := newWatcher(f)
		if err != nil {
			return nil, fmt.Errorf("stompft: watching %s: %w", path, err)
		}
		f.watch = w
	}
	return f, nil
}

// New makes a Factory from an already parsed configuration (no file watching).
func New(cfg *confparse.Config, opts ...Option) (*Factory, error) {
	if cfg == nil {
		return nil, errors.New("stompft: New: nil config")
	}
	o, err := applyOptions(GetDefaultOptions(), opts)
	if err != nil {
		return nil, err
	}
	return newFactory(cfg.File, cfg, o), nil
}

func newFactory(path string, cfg *confparse.Config, o Options) *Factory {
	return &Factory{
		path:   path,
		opts:   o,
		cfg:    cfg,
		scheds: map[string]*attempts.Scheduler{},
		conns:  map[*Connection]struct{}{},
		added:  map[string][]sequential.Endpoint{},
	}
}

// Config returns the configuration in force (it changes on reload).
func (f *Factory) Config() *confparse.Config {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cfg
}

// Definition returns the named factory's current definition.
func (f *Factory) Definition(name string) (*confparse.Factory, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, ok := f.cfg.Factory(name)
	if !ok {
		return nil, fmt.Errorf("%w %q in %s", ErrUnknownFactory, name, f.cfgName())
	}
	return d, nil
}

func (f *Factory) cfgName() string {
	if f.cfg.File != "" {
		return f.cfg.File
	}
	return "the configuration"
}

// definition is Definition for a name known to exist (a factory removed by a
// reload keeps its last definition for connections already open).
func (f *Factory) definition(name string) *confparse.Factory {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if d, ok := f.cfg.Factory(name); ok {
		return d
	}
	return nil
}

// CreateConnection connects to the named factory's brokers with its connect
// policy and returns a connection that survives failover.
func (f *Factory) CreateConnection(name string, opts ...Option) (*Connection, error) {
	return f.CreateConnectionContext(context.Background(), name, opts...)
}

// CreateConnectionContext is CreateConnection bounded by ctx. Options given
// here override the factory's for this connection.
func (f *Factory) CreateConnectionContext(ctx context.Context, name string, opts ...Option) (*Connection, error) {
	def, err := f.Definition(name)
	if err != nil {
		return nil, err
	}
	o, err := applyOptions(f.opts, opts)
	if err != nil {
		return nil, err
	}
	c := newConnection(f, name, def, o)
	c.lastDef = def
	f.mu.Lock()
	for _, ep := range f.added[name] {
		_ = c.walker.AddServer(ep)
	}
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	if err := c.connect(ctx); err != nil {
		c.shutdown(err)
		return nil, err
	}
	if def.PriorityBackup || def.Backup {
		c.startExtras()
	}
	return c, nil
}

// AddServer adds a URL to the named factory's list at run time (stompit's
// addServer): existing connections and new ones walk it too. It does not
// change the file.
func (f *Factory) AddServer(name, url string) error {
	if _, err := f.Definition(name); err != nil {
		return err
	}
	ep, err := sequential.ParseEndpoint(url)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		if c.name == name {
			if err := c.walker.AddServer(ep); err != nil {
				return err
			}
		}
	}
	f.added[name] = append(f.added[name], ep)
	return nil
}

// Connections returns the open connections (for metrics and tooling).
func (f *Factory) Connections() []*Connection {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*Connection, 0, len(f.conns))
	for c := range f.conns {
		out = append(out, c)
	}
	return out
}

// Close stops watching the file. Connections stay open; close them yourself.
func (f *Factory) Close() error {
	if f.watch != nil {
		f.watch.close()
	}
	return nil
}

func (f *Factory) forget(c *Connection) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// scheduler returns the reconnect scheduler for a factory: the one given by
// WithScheduler, else one per factory name with its scheduler_* limits.
func (f *Factory) scheduler(name string, o Options) *attempts.Scheduler {
	if o.Scheduler != nil {
		return o.Scheduler
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.scheds[name]; ok {
		return s
	}
	d, ok := f.cfg.Factory(name)
	if !ok {
		return attempts.DefaultScheduler()
	}
	s := attempts.NewScheduler(d.SchedulerConfig(), o.Clock)
	f.scheds[name] = s
	return s
}

func (f *Factory) metricsConnected(name, url string) {
	if o := f.opts.observer; o != nil {
		o.Connected(name, url)
	}
}
func (f *Factory) metricsDisconnected(name, url string) {
	if o := f.opts.observer; o != nil {
		o.Disconnected(name, url)
	}
}
func (f *Factory) metricsAttemptFailed(name, url string) {
	if o := f.opts.observer; o != nil {
		o.AttemptFailed(name, url)
	}
}
func (f *Factory) metricsReconnected(name, url string, d time.Duration) {
	if o := f.opts.observer; o != nil {
		o.Reconnected(name, url, d)
	}
}

// ---------------------------------------------------------------- default factory

var (
	defaultMu      sync.Mutex
	defaultFactory *Factory
)

// DefaultConfigPath is where the default factory reads from: $FACTORIES_CONF,
// else ./factories.conf.
func DefaultConfigPath() string {
	if p := os.Getenv("FACTORIES_CONF"); p != "" {
		return p
	}
	return "factories.conf"
}

// Default returns the process-wide factory, loading (and watching)
// DefaultConfigPath on first use. A failed load is not cached.
func Default() (*Factory, error) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultFactory != nil {
		return defaultFactory, nil
	}
	f, err := Load(DefaultConfigPath())
	if err != nil {
		return nil, err
	}
	defaultFactory = f
	return f, nil
}

// CreateConnection creates a connection from the default factory.
func CreateConnection(name string, opts ...Option) (*Connection, error) {
	f, err := Default()
	if err != nil {
		return nil, err
	}
	return f.CreateConnection(name, opts...)
}

// ---------------------------------------------------------------- dialing

var sessSeq atomic.Uint64

// dialOne is one attempt to one URL: TCP dial, TLS handshake and
// CONNECT→CONNECTED, all within the attempt timeout.
func (c *Connection) dialOne(ctx context.Context, ep sequential.Endpoint, timeout, connectBound time.Duration) (*session.Session, error) {
	if timeout <= 0 {
		timeout = DefaultAttemptTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	def := c.def()
	dctx := actx
	if connectBound > 0 {
		var dcancel context.CancelFunc
		dctx, dcancel = context.WithTimeout(actx, connectBound)
		defer dcancel()
	}
	nc, err := c.opts.Dial(dctx, "tcp", ep.Address())
	if err != nil {
		if connectBound > 0 && dctx.Err() != nil && actx.Err() == nil {
			return nil, fmt.Errorf("%w after %v: %w", attempts.ErrAbandoned, connectBound, err)
		}
		return nil, err
	}
	if ep.Scheme == sequential.SchemeSSL {
		cfg, err := tlsConfig(c.opts.TLSConfig, def, ep)
		if err != nil {
			_ = nc.Close()
			return nil, attempts.Permanent(err)
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(actx); err != nil {
			_ = nc.Close()
			if IsCertificateError(err) {
				return nil, attempts.Permanent(fmt.Errorf("TLS: %w", err))
			}
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	epoch := sessSeq.Add(1)
	var done atomic.Pointer[session.Session]
	scfg := session.Config{
		Host:          def.VHost,
		Login:         def.Login,
		Passcode:      def.Passcode.Reveal(),
		ClientID:      def.ClientID,
		HeartBeatSend: def.HeartBeatSend,
		HeartBeatRecv: def.HeartBeatRecv,
		Grace:         def.HeartBeatGrace,
		Tag:           epoch,
	}
	cb := session.Callbacks{
		Message: func(f *frame.Frame) {
			s := done.Load()
			if s == nil {
				return
			}
			c.onMessage(epoch, s.Done(), f)
		},
		Receipt: c.onReceipt,
		End:     func(err error) { c.sessionEnded(epoch, err) },
	}
	sess, err := session.Connect(actx, nc, scfg, cb)
	if err != nil {
		var ce *session.ConnectError
		if errors.As(err, &ce) {
			return nil, attempts.Permanent(err)
		}
		return nil, err
	}
	done.Store(sess)
	return sess, nil
}

func sessEpoch(s *session.Session) uint64 { return s.Tag() }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// IsCertificateError reports whether err is a TLS certificate rejection
// (unknown authority, wrong host name, invalid or expired certificate): the
// failures that make an ssl:// attempt permanent.
func IsCertificateError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
	)
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &cve)
}
