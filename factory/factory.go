package factory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
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

// Factory creates failover connections from a factories.conf. It is safe
// for concurrent use.
type Factory struct {
	path string
	id   string
	opts factoryConfig

	mu    sync.RWMutex
	cfg   *confparse.Config
	conns map[*Connection]struct{}
	added map[string][]sequential.Endpoint // AddServer, per factory name

	watch *watcher
}

// Load reads and validates a factories.conf (native EMS syntax or TOML) and
// watches it: edits apply to new connections and to the next reconnect of
// existing ones, once the file has been stable for ReloadSettle; an edit
// Reload rejects (does not parse, defines no factory, drops a factory in
// use) is logged and ignored. The file must be a regular file (symlinks are
// followed) of at most MaxConfigFileSize bytes.
// Pass WithWatch(false) to read it once.
func Load(path string, opts ...FactoryOption) (*Factory, error) {
	base := defaultFactoryConfig()
	base.watch = true
	o, err := applyFactoryOptions(base, opts)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConf(path)
	if err != nil {
		return nil, err
	}
	f := newFactory(path, cfg, o)
	for _, w := range cfg.Warnings {
		o.conn.logger.Warn(w.String())
	}
	if o.watch {
		w, err := newWatcher(f)
		if err != nil {
			return nil, fmt.Errorf("stompft: watching %s: %w", path, err)
		}
		f.watch = w
	}
	return f, nil
}

// New makes a Factory from an already parsed configuration (no file watching).
func New(cfg *confparse.Config, opts ...FactoryOption) (*Factory, error) {
	if cfg == nil {
		return nil, errors.New("stompft: New: nil config")
	}
	o, err := applyFactoryOptions(defaultFactoryConfig(), opts)
	if err != nil {
		return nil, err
	}
	return newFactory(cfg.File, cfg, o), nil
}

var factorySeq atomic.Uint64

func newFactory(path string, cfg *confparse.Config, o factoryConfig) *Factory {
	return &Factory{
		path:  path,
		id:    strconv.FormatUint(factorySeq.Add(1), 10),
		opts:  o,
		cfg:   cfg,
		conns: map[*Connection]struct{}{},
		added: map[string][]sequential.Endpoint{},
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
func (f *Factory) CreateConnection(name string, opts ...ConnectionOption) (*Connection, error) {
	return f.CreateConnectionContext(context.Background(), name, opts...)
}

// CreateConnectionContext is CreateConnection bounded by ctx: when ctx
// ends first the error wraps ctx.Err(). Options given here override the
// factory's for this connection.
func (f *Factory) CreateConnectionContext(ctx context.Context, name string, opts ...ConnectionOption) (*Connection, error) {
	def, err := f.Definition(name)
	if err != nil {
		return nil, err
	}
	o, err := applyConnectionOptions(f.opts.conn, opts)
	if err != nil {
		return nil, err
	}
	c := newConnection(f, name, def, o)
	f.mu.Lock()
	// Registered under the same lock as Reload's check, so a reload that
	// drops name either happened before (unknown factory) or sees c in use.
	if _, ok := f.cfg.Factory(name); !ok {
		err := fmt.Errorf("%w %q in %s", ErrUnknownFactory, name, f.cfgName())
		f.mu.Unlock()
		c.discard()
		return nil, err
	}
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	if err := c.start(ctx); err != nil {
		return nil, err
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
	f.added[name] = append(f.added[name], ep)
	var conns []*Connection
	for c := range f.conns {
		if c.name == name {
			conns = append(conns, c)
		}
	}
	f.mu.Unlock()
	for _, c := range conns {
		c.post(func() { _ = c.own.walker.AddServer(ep) })
	}
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
func CreateConnection(name string, opts ...ConnectionOption) (*Connection, error) {
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
//
// connectBound, when above 0, gives up the TCP connect alone after that long
// (attempts.ErrAbandoned): during the first reconnect pass an unanswered SYN
// is a storm signal, not something to wait out (see attempts.Episode).
func (c *Connection) dialOne(ctx context.Context, def *confparse.Factory, ep sequential.Endpoint, timeout, connectBound time.Duration, serveInCaller bool) (*session.Session, error) {
	// The parser applies the attempt timeout's default (one layer, shown by
	// confcheck); a definition assembled by hand without it is still
	// bounded, never left to the caller's context alone.
	if timeout <= 0 {
		timeout = DefaultAttemptTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dctx := actx
	if connectBound > 0 {
		var dcancel context.CancelFunc
		dctx, dcancel = context.WithTimeout(actx, connectBound)
		defer dcancel()
	}
	nc, err := c.opts.dial(dctx, "tcp", ep.Address())
	if err != nil {
		if connectBound > 0 && dctx.Err() != nil && actx.Err() == nil {
			return nil, fmt.Errorf("%w after %v: %w", attempts.ErrAbandoned, connectBound, err)
		}
		return nil, err
	}
	if ep.Scheme == sequential.SchemeSSL {
		cfg, err := tlsConfig(c.opts.tlsConfig, def, ep)
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
	var self atomic.Pointer[session.Session]
	scfg := session.Config{
		Host:          def.VHost,
		Login:         def.Login,
		Passcode:      def.Passcode.Reveal(),
		ClientID:      def.ClientID,
		HeartBeatSend: def.HeartBeatSend,
		HeartBeatRecv: def.HeartBeatRecv,
		Grace:         def.HeartBeatGrace,
		// A frame begun is finished within the attempt timeout.
		FrameReadTimeout: timeout,
		Limits: session.Limits{
			MaxFrameSize:    def.MaxFrameSize,
			MaxHeaderLength: def.MaxHeaderLength,
			MaxHeaders:      def.MaxHeaders,
			MaxHeaderBytes:  def.MaxHeaderBytes,
		},
		URL:           ep.String(),
		Tag:           epoch,
		ServeInCaller: serveInCaller,
	}
	cb := session.Callbacks{
		Message: func(f *frame.Frame) {
			if s := self.Load(); s != nil {
				c.deliver(epoch, s, f)
			}
		},
		Receipt: func(id string) { c.post(func() { c.onReceipt(id) }) },
		End:     func(err error) { c.post(func() { c.sessionEnded(epoch, err) }) },
	}
	sess, err := session.Connect(actx, nc, scfg, cb)
	if err != nil {
		var ce *session.ConnectError
		if errors.As(err, &ce) {
			return nil, attempts.Permanent(err)
		}
		return nil, err
	}
	self.Store(sess)
	return sess, nil
}

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
