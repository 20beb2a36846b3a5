package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-stomp/stomp/v3"
	"github.com/sirupsen/logrus"

	"github.com/stompft/stompft/factory"
)

type options struct {
	conf, factory, dest string
	count               int
}

func main() {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, opts, log, nil); err != nil {
		log.WithError(err).Error("consumer failed")
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("consumer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.conf, "conf", "conf/factories.conf", "factories.conf to load")
	fs.StringVar(&o.factory, "factory", "FTQueueConnectionFactory", "connection factory to use")
	fs.StringVar(&o.dest, "dest", "/queue/orders", "destination to consume from")
	fs.IntVar(&o.count, "count", 0, "stop after this many messages (0 = until interrupted)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 || o.count < 0 {
		fs.Usage()
		return o, errors.New("bad arguments")
	}
	return o, nil
}

// run consumes until count messages were handled or ctx ends. ready, when
// not nil, is closed once the subscription is in place.
func run(ctx context.Context, o options, log logrus.FieldLogger, ready chan<- struct{}) (handled int, err error) {
	f, err := factory.Load(o.conf, factory.WithLogger(log))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	conn, err := f.CreateConnectionContext(ctx, o.factory)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close() }()
	sub, err := conn.SubscribeContext(ctx, o.dest, stomp.AckClientIndividual, factory.DropDuplicates(0))
	if err != nil {
		return 0, err
	}
	log.WithFields(logrus.Fields{"factory": o.factory, "url": conn.CurrentURL(), "dest": o.dest}).Info("subscribed")
	if ready != nil {
		close(ready)
	}
	for o.count == 0 || handled < o.count {
		select {
		case <-ctx.Done():
			log.Info("interrupted: stopping")
			return handled, nil
		case m, ok := <-sub.C:
			if !ok {
				return handled, nil
			}
			if m.Err != nil {
				return handled, m.Err // reconnecting gave up
			}
			log.WithFields(logrus.Fields{"dest": m.Destination, "body": string(m.Body)}).Info("received")
			// Ack after handling. A stale ack (the message arrived on a
			// connection since lost) cannot take effect: the broker
			// redelivers the message. DropDuplicates drops that copy only
			// for tracked stompft producers (stompft-msg-id); handle
			// messages of other producers idempotently.
			if err := conn.Ack(m); err != nil && !errors.Is(err, factory.ErrStaleAck) {
				log.WithError(err).Warn("ack failed")
			}
			handled++
		}
	}
	log.WithField("handled", handled).Info("done")
	return handled, nil
}
