package main

import (
	"fmt"
	"log"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
)

func main() {
	if err := run("conf/factories.conf", "FTQueueConnectionFactory"); err != nil {
		log.Fatal(err)
	}
}

func run(conf, name string) error {
	f, err := factory.Load(conf) // every error in the file, as file:line:col; later edits apply live
	if err != nil {
		return err
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
	if err := conn.Send("/queue/orders", "text/plain", []byte("order 42")); err != nil {
		return err
	}
	select {
	case msg := <-sub.C: // the same channel before and after a failover
		if msg.Err != nil {
			return msg.Err // reconnecting gave up for good
		}
		fmt.Printf("received %q from %s\n", msg.Body, conn.CurrentURL())
		return conn.Ack(msg) // ErrStaleAck after a failover: the broker redelivers
	case <-time.After(10 * time.Second):
		return fmt.Errorf("no message within 10 s")
	}
}
