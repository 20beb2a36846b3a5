package factory_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
)

// A connection that fails over from a crashed primary to its backup, with
// the subscription carrying on by itself.
func ExampleFactory_CreateConnection() {
	store := embedded.NewSharedStorage()
	primary, _ := embedded.New(embedded.Options{Storage: store})
	backup, _ := embedded.New(embedded.Options{Storage: store})
	defer primary.Close()
	defer backup.Close()

	dir, _ := os.MkdirTemp("", "stompft-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "factories.conf")
	_ = os.WriteFile(path, []byte(`
[FTQueueConnectionFactory]
  type                    = queue
  url                     = `+primary.URL()+`,`+backup.URL()+`
  reconnect_attempt_delay = 20
  reconnect_spread        = 0
`), 0o600)

	f, err := factory.Load(path, factory.WithWatch(false))
	if err != nil {
		fmt.Println(err)
		return
	}
	conn, err := f.CreateConnection("FTQueueConnectionFactory")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	sub, _ := conn.Subscribe("/queue/orders", stomp.AckAuto)
	_ = conn.Send("/queue/orders", "text/plain", []byte("order 1"), stomp.SendOpt.Receipt)
	msg := <-sub.C
	fmt.Println("received:", string(msg.Body), "on primary:", conn.CurrentURL() == primary.URL())

	primary.Kill() // the primary crashes

	// The send waits for the reconnect; the subscription comes back by itself.
	_ = conn.Send("/queue/orders", "text/plain", []byte("order 2"), stomp.SendOpt.Receipt)
	msg = <-sub.C
	fmt.Println("received:", string(msg.Body), "on backup:", conn.CurrentURL() == backup.URL())
	fmt.Println("reconnects:", conn.Stats().Reconnects)
	// Output:
	// received: order 1 on primary: true
	// received: order 2 on backup: true
	// reconnects: 1
}

// Events arrive in order on their own goroutine.
func ExampleWithEventHandler() {
	primary, _ := embedded.New(embedded.Options{})
	backup, _ := embedded.New(embedded.Options{})
	defer primary.Close()
	defer backup.Close()

	dir, _ := os.MkdirTemp("", "stompft-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "factories.conf")
	_ = os.WriteFile(path, []byte("[F]\ntype = queue\nurl = "+primary.URL()+","+backup.URL()+
		"\nreconnect_attempt_delay = 20\nreconnect_spread = 0\nreconnect_jitter = none\n"), 0o600)

	reconnected := make(chan struct{})
	f, _ := factory.Load(path, factory.WithWatch(false), factory.WithEventHandler(func(e factory.Event) {
		switch e.Kind {
		case factory.EventDisconnected:
			fmt.Println("lost primary:", e.URL == primary.URL())
		case factory.EventReconnecting:
			fmt.Println("reconnect attempt", e.Attempt)
		case factory.EventReconnected:
			fmt.Println("reconnected to backup:", e.URL == backup.URL())
			close(reconnected)
		}
	}))
	conn, err := f.CreateConnection("F")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	primary.Kill()
	<-reconnected
	// Output:
	// lost primary: true
	// reconnect attempt 1
	// reconnected to backup: true
}
