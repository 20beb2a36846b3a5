package factory_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
)

// A connection that fails over from a crashed primary to its backup, with
// the subscription carrying on by itself. The brokers come from
// factorytest; in a test, factorytest.NewPair(t) closes them with the test.
func ExampleFactory_CreateConnection() {
	pair, err := factorytest.StartPair()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pair.Close()

	dir, _ := os.MkdirTemp("", "stompft-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "factories.conf")
	_ = os.WriteFile(path, []byte(`
[FTQueueConnectionFactory]
  type                    = queue
  url                     = `+pair.Primary.URL()+`,`+pair.Backup.URL()+`
  reconnect_attempt_delay = 20
  reconnect_spread        = 0
`), 0o600)

	f, err := factory.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	conn, err := f.CreateConnection("FTQueueConnectionFactory")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	sub, _ := conn.Subscribe("/queue/orders", stomp.AckAuto)
	_ = conn.Send("/queue/orders", "text/plain", []byte("order 1"), stomp.SendOpt.Receipt)
	msg := <-sub.C
	fmt.Println("received:", string(msg.Body))

	pair.Primary.Kill() // the primary crashes

	// The send waits for the reconnect; the subscription comes back by itself.
	_ = conn.Send("/queue/orders", "text/plain", []byte("order 2"), stomp.SendOpt.Receipt)
	msg = <-sub.C
	fmt.Println("received:", string(msg.Body))
	fmt.Println("connections on the backup:", pair.Backup.Conns())
	// Output:
	// received: order 1
	// received: order 2
	// connections on the backup: 1
}

// Events arrive in order on their own goroutine.
func ExampleWithEventHandler() {
	pair, err := factorytest.StartPair()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pair.Close()
	cfg, err := pair.Config("F")
	if err != nil {
		fmt.Println(err)
		return
	}

	reconnected := make(chan struct{})
	f, _ := factory.New(cfg, factory.WithEventHandler(func(e factory.Event) {
		switch e.Kind {
		case factory.EventDisconnected:
			fmt.Println("lost primary:", e.URL == pair.Primary.URL())
		case factory.EventReconnecting:
			fmt.Println("reconnect attempt", e.Attempt)
		case factory.EventReconnected:
			fmt.Println("reconnected to backup:", e.URL == pair.Backup.URL())
			close(reconnected)
		}
	}))
	defer f.Close()
	conn, err := f.CreateConnection("F")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	pair.Primary.Kill()
	<-reconnected
	// Output:
	// lost primary: true
	// reconnect attempt 1
	// reconnected to backup: true
}
