package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/sirupsen/logrus"

	"github.com/stompft/stompft/factory"
)

type options struct {
	conf, factory, dest string
	count               int
	rate                float64
	body                string
	onSent              func(n int) // test hook: called after each successful send
}

func main() {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	// Stop cleanly on Ctrl-C or a service manager's SIGTERM.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, log); err != nil {
		log.WithError(err).Error("producer failed")
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("producer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.conf, "conf", "conf/factories.conf", "factories.conf to load")
	fs.StringVar(&o.factory, "factory", "FTQueueConnectionFactory", "connection factory to use")
	fs.StringVar(&o.dest, "dest", "/queue/orders", "destination to send to")
	fs.IntVar(&o.count, "count", 10, "messages to send (0 = until interrupted)")
	fs.Float64Var(&o.rate, "rate", 10, "messages per second (0 = no limit)")
	fs.StringVar(&o.body, "body", "order", "message body prefix; the message number is appended")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 || o.count < 0 || o.rate < 0 {
		fs.Usage()
		return o, errors.New("bad arguments")
	}
	return o, nil
}

// run sends until done or ctx ends, then closes the connection.
func run(ctx context.Context, o options, log logrus.FieldLogger) (err error) {
	f, err := factory.Load(o.conf, factory.WithLogger(log))
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	conn, err := f.CreateConnectionContext(ctx, o.factory,
		factory.WithExceptionListener(func(err error) { log.WithError(err).Warn("connection problem") }))
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"factory": o.factory, "url": conn.CurrentURL()}).Info("connected")
	// Close waits (bounded) until tracked sends are confirmed; report what was not.
	defer func() {
		if cerr := conn.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	var tick <-chan time.Time
	if o.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
		defer t.Stop()
		tick = t.C
	}
	sent, failed := 0, 0
	for n := 1; o.count == 0 || n <= o.count; n++ {
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			log.Info("interrupted: stopping")
			break
		}
		body := o.body + " " + strconv.Itoa(n)
		if err := conn.SendContext(ctx, o.dest, "text/plain", []byte(body), stomp.SendOpt.Header("seq", strconv.Itoa(n))); err != nil {
			// ErrInDoubt: the broker may have it. ErrTimeout: no broker within
			// send_timeout. Either way, the application decides; here we log.
			failed++
			log.WithError(err).WithField("seq", n).Error("send failed")
			continue
		}
		sent++
		if o.onSent != nil {
			o.onSent(n)
		}
		log.WithFields(logrus.Fields{"seq": n, "dest": o.dest}).Debug("sent")
	}
	log.WithFields(logrus.Fields{"sent": sent, "failed": failed}).Info("done")
	if failed > 0 {
		return fmt.Errorf("%d send(s) failed", failed)
	}
	return nil
}
