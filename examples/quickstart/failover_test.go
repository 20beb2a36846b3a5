package main

import (
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
)

func TestOrdersSurviveAFailover(t *testing.T) {
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	pair := factorytest.NewPair(t) // primary + backup sharing one store, closed with the test
	cfg, err := pair.Config("Orders", "track_messages = true")
	must(err)
	f, err := factory.New(cfg)
	must(err)
	defer f.Close()
	conn, err := f.CreateConnection("Orders")
	must(err)
	defer conn.Close()
	sub, err := conn.Subscribe("/queue/orders", stomp.AckClientIndividual, factory.DropDuplicates(0))
	must(err)

	pair.Primary.Kill() // RST on every connection, as a crashed broker
	must(conn.Send("/queue/orders", "text/plain", []byte("order 42")))
	select {
	case msg := <-sub.C:
		if msg.Err != nil || string(msg.Body) != "order 42" {
			t.Fatalf("got %q, %v", msg.Body, msg.Err)
		}
		must(conn.Ack(msg))
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
	}
	if got, want := conn.CurrentURL(), pair.Backup.URL(); got != want {
		t.Fatalf("on %s, want the backup %s", got, want)
	}
}
