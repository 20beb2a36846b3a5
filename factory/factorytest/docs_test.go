package factorytest_test

import (
	"testing"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
)

func TestOrdersSurviveAPrimaryCrash(t *testing.T) {
	pair := factorytest.NewPair(t)    // a primary and a backup sharing one store
	cfg, err := pair.Config("Orders") // [Orders] with url = primary,backup
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

	pair.Primary.Kill() // every connection reset, new dials refused

	err = conn.Send("/queue/orders", "text/plain", []byte("order 1"), stomp.SendOpt.Receipt)
	if err != nil {
		t.Fatalf("send after the primary died: %v", err)
	}
	if n := pair.Backup.Queued("/queue/orders"); n != 1 {
		t.Fatalf("the backup holds %d orders, want 1", n)
	}
}
