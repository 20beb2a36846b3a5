package confparse_test

import (
	"fmt"
	"time"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
)

// A definition built in Go, from a pasted ActiveMQ failover URI plus typed
// settings, goes to factory.New exactly as a parsed file does.
func ExampleDefine() {
	cfg, err := confparse.NewConfig(
		confparse.Define("Orders", "failover:(tcp://127.0.0.1:61616,tcp://127.0.0.1:61617)?randomize=true",
			confparse.Credentials("app", confparse.Secret("s3cret")),
			confparse.ReconnectAttempts(-1, time.Second, 5*time.Second),
			confparse.Heartbeat(5*time.Second, 5*time.Second),
			confparse.Set("track_messages", "true"),
		),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := factory.New(cfg) // then f.CreateConnection("Orders"), as with a file
	if err != nil {
		fmt.Println(err)
		return
	}
	def, _ := f.Definition("Orders")
	fmt.Println(def)
	for _, s := range def.Settings() {
		switch s.Key {
		case "reconnect_attempt_count", "reconnect_attempt_delay", "connect_attempt_timeout", "heartbeat", "randomize", "track_messages":
			fmt.Printf("%s = %s\n", s.Key, s.Value)
		}
	}
	// Output:
	// [Orders] type=generic url=failover:(tcp://127.0.0.1:61616,tcp://127.0.0.1:61617)?randomize=true login="app" passcode=******
	// connect_attempt_timeout = 10s
	// reconnect_attempt_count = -1 (forever)
	// reconnect_attempt_delay = 1s
	// heartbeat = 5000,5000
	// randomize = true
	// track_messages = true
}

// Errors are the file's, naming the factory and the key; every problem of
// every definition is reported at once.
func ExampleNewConfig_errors() {
	_, err := confparse.NewConfig(
		confparse.Define("Orders", "tcp://127.0.0.1:61613",
			confparse.ReconnectAttempts(-2, 500*time.Millisecond, 0),
			confparse.Set("send_timeout", "5x")),
		confparse.Define("Audit", "tcp://127.0.0.1:61613,"),
	)
	fmt.Println(err)
	// Output:
	// Define("Orders"): reconnect_attempt_count: -2 is not a count: use 1 or more, or -1 for forever
	// Define("Orders"): send_timeout: "5x" is not a duration (milliseconds, or a Go duration such as 500ms)
	// Define("Audit"): url: empty URL (stray ',' or '|', or nothing between them)
}
