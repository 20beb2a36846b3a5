package factorytest_test

import (
	"fmt"
	"net"
	"strings"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
)

// A producer whose primary broker dies: the send carries on on the
// backup, and the message sent before the crash is still there. In a test,
// use NewPair(t), which closes the pair with the test.
func ExampleNewPair() {
	pair, err := factorytest.StartPair()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pair.Close()

	cfg, err := pair.Config("Orders") // url = primary,backup
	if err != nil {
		fmt.Println(err)
		return
	}
	reconnected := make(chan string, 1) // events come on their own goroutine
	f, err := factory.New(cfg, factory.WithEventHandler(func(e factory.Event) {
		if e.Kind == factory.EventReconnected {
			select {
			case reconnected <- e.URL:
			default:
			}
		}
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	conn, err := f.CreateConnection("Orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	_ = conn.Send("/queue/orders", "text/plain", []byte("order 1"), stomp.SendOpt.Receipt)
	pair.Primary.Kill() // the primary crashes
	err = conn.Send("/queue/orders", "text/plain", []byte("order 2"), stomp.SendOpt.Receipt)
	fmt.Println("send after the crash:", err)
	fmt.Println("reconnected to the backup:", <-reconnected == pair.Backup.URL())
	fmt.Println("queued on the backup:", pair.Backup.Queued("/queue/orders"))
	// Output:
	// send after the crash: <nil>
	// reconnected to the backup: true
	// queued on the backup: 2
}

// The conf text a broker gives for a factory, with extra keys.
func ExampleBroker_Conf() {
	b, err := factorytest.StartBroker(factorytest.WithCredentials("app", "secret"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	conf := b.Conf("Orders", "send_timeout = 2000", "reconnect_attempt_count = 5")
	_, port, _ := net.SplitHostPort(b.Addr())
	// Print it with the port, which changes every run, hidden.
	fmt.Print(strings.ReplaceAll(conf, port, "PORT"))
	// Output:
	// [Orders]
	//   type = queue
	//   url = tcp://127.0.0.1:PORT
	//   connect_attempt_delay = 20
	//   connect_attempt_timeout = 1000
	//   reconnect_attempt_count = 5
	//   reconnect_attempt_delay = 20
	//   reconnect_attempt_timeout = 1000
	//   reconnect_jitter = none
	//   reconnect_spread = 0
	//   login = app
	//   passcode = secret
	//   send_timeout = 2000
}

// A broker that crashes and comes back on the same address: the
// connection waits for it, and what was queued before the crash is still
// there.
func ExampleBroker_Restart() {
	b, err := factorytest.StartBroker()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	cfg, _ := b.Config("Orders")
	f, _ := factory.New(cfg)
	defer f.Close()
	conn, err := f.CreateConnection("Orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	_ = conn.Send("/queue/orders", "text/plain", []byte("order 1"), stomp.SendOpt.Receipt)
	b.Kill()
	if err := b.Restart(); err != nil {
		fmt.Println(err)
		return
	}
	err = conn.Send("/queue/orders", "text/plain", []byte("order 2"), stomp.SendOpt.Receipt)
	fmt.Println("send after the restart:", err)
	fmt.Println("queued:", b.Queued("/queue/orders"))
	// Output:
	// send after the restart: <nil>
	// queued: 2
}

// A primary that accepts connections and never answers: the connection
// gives up on it after connect_attempt_timeout and takes the backup.
func ExampleBroker_Blackhole() {
	pair, err := factorytest.StartPair()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pair.Close()
	pair.Primary.Blackhole()

	cfg, _ := pair.Config("Orders", "connect_attempt_timeout = 200")
	f, _ := factory.New(cfg)
	defer f.Close()
	conn, err := f.CreateConnection("Orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	fmt.Println("connections on the primary:", pair.Primary.Conns())
	fmt.Println("connections on the backup:", pair.Backup.Conns())
	// Output:
	// connections on the primary: 0
	// connections on the backup: 1
}
