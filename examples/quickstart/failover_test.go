package main

import (
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
)

func TestOrdersSurviveAFailover(t *testing.T) {
	pair := factorytest.NewPair(t) // primary + backup sharing one store, closed with the test
	cfg, err := pair.Config("Orders", "track_messages = true")
	if err != nil {
		t.Fatal(err)
	}
	f, err := factory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	conn, err := f.CreateConnection("Orders")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sub, err := conn.Subscribe("/queue/orders", stomp.AckClientIndividual, factory.DropDuplicates(0))
	if err != nil {
		t.Fatal(err)
	}

	pair.Primary.Kill() // RST on every connection, as a crashed broker
	if err := conn.Send("/queue/orders", "text/plain", []byte("order 42")); err != nil {
		t.Fatalf("send across the failover: %v", err)
	}
	var msg *factory.Message
	select {
	case msg = <-sub.C:
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
	}
	if msg.Err != nil || string(msg.Body) != "order 42" {
		t.Fatalf("got %q, %v", msg.Body, msg.Err)
	}
	if err := conn.Ack(msg); err != nil {
		t.Fatal(err)
	}
	if got, want := conn.CurrentURL(), pair.Backup.URL(); got != want {
		t.Fatalf("on %s, want the backup %s", got, want)
	}
}
