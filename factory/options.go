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

// DefaultSubscriptionBuffer is the capacity of Subscription.C.
const DefaultSubscriptionBuffer = 64

// DialFunc opens the TCP connection for one attempt. It must honour ctx.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options configure a Factory and the connections it creates. Build them with
// Option functions; the zero value of a field means its documented default.
type Options struct {
	Logger             logrus.FieldLogger
	Clock              attempts.Clock
	Rand               attempts.Rand
	Dial               DialFunc
	TLSConfig          *tls.Config
	EventHandler       func(Event)
	ExceptionListener  func(error)
	Scheduler          *attempts.Scheduler
	Chooser            sequential.Chooser
	Tracker            *sequential.Tracker
	SubscriptionBuffer int
	DisconnectTimeout  time.Duration
	Watch              bool

	observer Observer
}

// Option sets one field of Options; it may reject a bad value.
type Option func(*Options) error

// GetDefaultOptions returns the options a Factory starts from.
func GetDefaultOptions() Options {
	return Options{
		Logger:             silentLogger(),
		Clock:              attempts.SystemClock,
		Rand:               attempts.DefaultRand,
		Dial:               (&net.Dialer{KeepAlive: 15 * time.Second}).DialContext,
		Tracker:            sequential.DefaultTracker,
		SubscriptionBuffer: DefaultSubscriptionBuffer,
		DisconnectTimeout:  DefaultDisconnectTimeout,
	}
}

func silentLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.PanicLevel)
	return l
}

func applyOptions(base Options, opts []Option) (Options, error) {
	o := base
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return Options{}, err
		}
	}
	return o, nil
}

// WithLogger logs through l, with fields factory, url, attempt and delay.
// Defaults to silent: a library does not write to your logs unasked.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *Options) error {
		if l == nil {
			return errors.New("stompft: WithLogger: nil logger")
		}
		o.Logger = l
		return nil
	}
}

// WithClock injects the clock used for reconnect delays and downtime.
// Defaults to attempts.SystemClock.
func WithClock(c attempts.Clock) Option {
	return func(o *Options) error {
		if c == nil {
			return errors.New("stompft: WithClock: nil clock")
		}
		o.Clock = c
		return nil
	}
}

// WithRand injects the randomness used for jitter. Defaults to attempts.DefaultRand.
func WithRand(r attempts.Rand) Option {
	return func(o *Options) error {
		if r == nil {
			return errors.New("stompft: WithRand: nil source")
		}
		o.Rand = r
		return nil
	}
}

// WithDialer replaces the TCP dialer (a net.Dialer with 15 s keep-alive).
// TLS, when the URL is ssl://, is layered on top of what it returns.
func WithDialer(d DialFunc) Option {
	return func(o *Options) error {
		if d == nil {
			return errors.New("stompft: WithDialer: nil dialer")
		}
		o.Dial = d
		return nil
	}
}

// WithTLSConfig sets the base TLS configuration for ssl:// URLs; the factory's
// ssl_* keys are applied on a clone of it. Defaults to Go's defaults.
func WithTLSConfig(c *tls.Config) Option {
	return func(o *Options) error {
		o.TLSConfig = c
		return nil
	}
}

// WithEventHandler receives every Event, in order, on one goroutine that is
// not the connection's: a slow handler never stalls the connection.
func WithEventHandler(h func(Event)) Option {
	return func(o *Options) error {
		o.EventHandler = h
		return nil
	}
}

// WithExceptionListener is EMS's ExceptionListener: one callback with the
// cause of every connection loss and the final error when reconnecting gives
// up. Delivered like events.
func WithExceptionListener(h func(error)) Option {
	return func(o *Options) error {
		o.ExceptionListener = h
		return nil
	}
}

// WithScheduler makes reconnect attempts go through s. Defaults to one
// scheduler per factory definition with its scheduler_* limits.
func WithScheduler(s *attempts.Scheduler) Option {
	return func(o *Options) error {
		o.Scheduler = s
		return nil
	}
}

// WithChooser replaces the URL walk with c (AMQ JavaScript's
// connection_details, stompit's connectFunction). Defaults to the EMS walk.
func WithChooser(c sequential.Chooser) Option {
	return func(o *Options) error {
		o.Chooser = c
		return nil
	}
}

// WithSubscriptionBuffer sets the capacity of Subscription.C. Defaults to 64.
func WithSubscriptionBuffer(n int) Option {
	return func(o *Options) error {
		if n < 0 {
			return errors.New("stompft: WithSubscriptionBuffer: negative capacity")
		}
		o.SubscriptionBuffer = n
		return nil
	}
}

// WithDisconnectTimeout bounds Close's wait for the broker's DISCONNECT
// receipt. Defaults to 5 s.
func WithDisconnectTimeout(d time.Duration) Option {
	return func(o *Options) error {
		if d <= 0 {
			return errors.New("stompft: WithDisconnectTimeout: must be positive")
		}
		o.DisconnectTimeout = d
		return nil
	}
}

// WithWatch makes Load watch the factories file and reload it on change.
// Load enables it by default; pass WithWatch(false) to turn it off.
func WithWatch(on bool) Option {
	return func(o *Options) error {
		o.Watch = on
		return nil
	}
}
