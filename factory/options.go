package factory

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/sequential"
)

// DefaultAttemptTimeout is confparse.DefaultAttemptTimeout, the bound on
// one attempt to one URL that the parser applies when the file's
// *_attempt_timeout is 0 or absent.
const DefaultAttemptTimeout = confparse.DefaultAttemptTimeout

// DefaultDisconnectTimeout bounds Close's wait for the DISCONNECT receipt.
const DefaultDisconnectTimeout = 5 * time.Second

// DefaultSubscriptionBuffer is the capacity of Subscription.C. Messages
// beyond it wait in the subscription's delivery queue (see QueueLimits).
const DefaultSubscriptionBuffer = 64

// DialFunc opens the TCP connection for one attempt. It must honour ctx.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// FactoryOption configures a Factory: it is accepted by Load and New only.
// Options that also configure a single connection are of type Option,
// which implements both FactoryOption and ConnectionOption.
type FactoryOption interface {
	applyFactory(*factoryConfig) error
}

// ConnectionOption configures one connection: it is accepted by
// CreateConnection and CreateConnectionContext. Option implements it too.
type ConnectionOption interface {
	applyConnection(*connConfig) error
}

// Option applies to both levels: given to Load or New it is the default of
// every connection the factory creates; given to CreateConnection it
// overrides that default for one connection. It implements FactoryOption
// and ConnectionOption.
type Option struct {
	set func(*connConfig) error
}

func (o Option) applyFactory(f *factoryConfig) error { return o.applyConnection(&f.conn) }

func (o Option) applyConnection(c *connConfig) error {
	if o.set == nil {
		return nil
	}
	return o.set(c)
}

// factoryOnly is a FactoryOption with no meaning for a single connection.
type factoryOnly func(*factoryConfig) error

func (o factoryOnly) applyFactory(f *factoryConfig) error { return o(f) }

// factoryConfig is what FactoryOptions set.
type factoryConfig struct {
	conn     connConfig // defaults of every connection
	watch    bool
	observer Observer
}

// connConfig is what Options set for one connection.
type connConfig struct {
	logger            logrus.FieldLogger
	clock             attempts.Clock
	rand              attempts.Rand
	dial              DialFunc
	tlsConfig         *tls.Config
	eventHandler      func(Event)
	exceptionListener func(error)
	scheduler         *attempts.Scheduler
	chooser           sequential.Chooser
	tracker           *sequential.Tracker
	subBuffer         int
	disconnectTimeout time.Duration
}

func defaultFactoryConfig() factoryConfig {
	return factoryConfig{conn: connConfig{
		logger:            silentLogger(),
		clock:             attempts.SystemClock,
		rand:              attempts.DefaultRand,
		dial:              (&net.Dialer{KeepAlive: 15 * time.Second}).DialContext,
		tracker:           sequential.DefaultTracker,
		subBuffer:         DefaultSubscriptionBuffer,
		disconnectTimeout: DefaultDisconnectTimeout,
	}}
}

func silentLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.PanicLevel)
	return l
}

func applyFactoryOptions(base factoryConfig, opts []FactoryOption) (factoryConfig, error) {
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.applyFactory(&base); err != nil {
			return factoryConfig{}, err
		}
	}
	return base, nil
}

func applyConnectionOptions(base connConfig, opts []ConnectionOption) (connConfig, error) {
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.applyConnection(&base); err != nil {
			return connConfig{}, err
		}
	}
	return base, nil
}

// WithLogger logs through l, with fields factory, url, attempt and delay.
// Defaults to silent: a library does not write to your logs unasked.
// Applies to a factory (all its connections) or to one connection.
func WithLogger(l logrus.FieldLogger) Option {
	return Option{func(o *connConfig) error {
		if l == nil {
			return errors.New("stompft: WithLogger: nil logger")
		}
		o.logger = l
		return nil
	}}
}

// WithClock injects the clock used for reconnect delays and downtime.
// Defaults to attempts.SystemClock. Given to Load or New it also drives the
// reconnect scheduler the factory's connections share; given to one
// connection it drives only that connection's delays, never a shared
// scheduler.
func WithClock(c attempts.Clock) Option {
	return Option{func(o *connConfig) error {
		if c == nil {
			return errors.New("stompft: WithClock: nil clock")
		}
		o.clock = c
		return nil
	}}
}

// WithRand injects the randomness used for jitter. Defaults to
// attempts.DefaultRand. Applies to a factory or to one connection.
func WithRand(r attempts.Rand) Option {
	return Option{func(o *connConfig) error {
		if r == nil {
			return errors.New("stompft: WithRand: nil source")
		}
		o.rand = r
		return nil
	}}
}

// WithDialer replaces the TCP dialer (a net.Dialer with 15 s keep-alive).
// TLS, when the URL is ssl://, is layered on top of what it returns.
// Applies to a factory or to one connection.
func WithDialer(d DialFunc) Option {
	return Option{func(o *connConfig) error {
		if d == nil {
			return errors.New("stompft: WithDialer: nil dialer")
		}
		o.dial = d
		return nil
	}}
}

// WithTLSConfig sets the base TLS configuration for ssl:// URLs; the factory's
// ssl_* keys are applied on a clone of it. Defaults to Go's defaults.
// Applies to a factory or to one connection.
func WithTLSConfig(c *tls.Config) Option {
	return Option{func(o *connConfig) error {
		o.tlsConfig = c
		return nil
	}}
}

// WithEventHandler receives every Event, in order, on one goroutine that is
// not the connection's: a slow handler never stalls the connection, and the
// handler may call any method of the connection, Close included. Defaults
// to none. Applies to a factory (every connection) or to one connection.
func WithEventHandler(h func(Event)) Option {
	return Option{func(o *connConfig) error {
		o.eventHandler = h
		return nil
	}}
}

// WithExceptionListener is EMS's ExceptionListener: one callback with the
// cause of every connection loss and the final error when reconnecting gives
// up. Delivered like events (it may call Close). Defaults to none. Applies
// to a factory or to one connection.
func WithExceptionListener(h func(error)) Option {
	return Option{func(o *connConfig) error {
		o.exceptionListener = h
		return nil
	}}
}

// WithScheduler makes reconnect attempts go through s. Defaults to the
// process-wide scheduler of the connection's broker set (see the package
// documentation, "Reconnect scheduler"). Applies to a factory or to one
// connection.
func WithScheduler(s *attempts.Scheduler) Option {
	return Option{func(o *connConfig) error {
		o.scheduler = s
		return nil
	}}
}

// WithChooser replaces the URL walk with c (AMQ JavaScript's
// connection_details, stompit's connectFunction). Defaults to the EMS walk.
// Applies to a factory or to one connection.
func WithChooser(c sequential.Chooser) Option {
	return Option{func(o *connConfig) error {
		o.chooser = c
		return nil
	}}
}

// WithSubscriptionBuffer sets the capacity of Subscription.C. Defaults to
// 64. The delivery queue behind it is bounded separately (QueueLimits).
// Applies to a factory or to one connection.
func WithSubscriptionBuffer(n int) Option {
	return Option{func(o *connConfig) error {
		if n < 0 {
			return errors.New("stompft: WithSubscriptionBuffer: negative capacity")
		}
		o.subBuffer = n
		return nil
	}}
}

// WithDisconnectTimeout bounds Close's wait for tracked sends and for the
// broker's DISCONNECT receipt. Defaults to 5 s. Applies to a factory or to
// one connection.
func WithDisconnectTimeout(d time.Duration) Option {
	return Option{func(o *connConfig) error {
		if d <= 0 {
			return errors.New("stompft: WithDisconnectTimeout: must be positive")
		}
		o.disconnectTimeout = d
		return nil
	}}
}

// WithWatch makes Load watch the factories file and reload it on change.
// Load enables it by default; pass WithWatch(false) to turn it off. New
// never watches. A factory option only.
func WithWatch(on bool) FactoryOption {
	return factoryOnly(func(o *factoryConfig) error {
		o.watch = on
		return nil
	})
}

// WithObserver reports connection figures of every connection of the
// factory to o (the metrics subpackage implements it). Defaults to none.
// A factory option only.
func WithObserver(o Observer) FactoryOption {
	return factoryOnly(func(c *factoryConfig) error {
		c.observer = o
		return nil
	})
}
