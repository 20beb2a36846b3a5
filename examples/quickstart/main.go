package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
)

func main() {
	conf := "conf/factories.conf"
	if len(os.Args) > 1 {
		conf = os.Args[1]
	}
	if err := run(conf, "FTQueueConnectionFactory"); err != nil {
		log.Fatal(err)
	}
}

func run(conf, name string) error {
	f, err := factory.Load(conf) // parses and validates; later edits apply while running
	if err != nil {
		return err // every error in the file, as file:line:col
	}
	defer f.Close()

	conn, err := f.CreateConnection(name) // walks the URL list in order
	if err != nil {
		return err // *factory.ConnectError: every URL tried, and why it failed
	}
	defer conn.Close()

	sub, err := conn.Subscribe("/queue/orders", stomp.AckClientIndividual, factory.DropDuplicates(0))
	if err != nil {
		return err
	}
	// A send waits through a failover (within send_timeout), never for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.SendContext(ctx, "/queue/orders", "text/plain", []byte("order 42")); err != nil {
		return err
	}

	select {
	case msg := <-sub.C: // the same channel before and after a failover
		if msg.Err != nil {
			return msg.Err // reconnecting gave up for good
		}
		fmt.Printf("received %q from %s\n", msg.Body, conn.CurrentURL())
		return conn.Ack(msg) // ErrStaleAck after a failover: the broker redelivers
	case <-ctx.Done():
		return ctx.Err()
	}
}
