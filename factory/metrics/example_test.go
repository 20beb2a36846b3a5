package metrics_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
	"github.com/stompft/stompft/factory/metrics"
)

// Metrics for a factory: pass the observer when making the factory, watch
// it, and scrape the registry (here read directly; in an application serve
// it with promhttp.HandlerFor).
func Example() {
	broker, err := factorytest.StartBroker() // an in-process broker for the example
	if err != nil {
		fmt.Println(err)
		return
	}
	defer broker.Close()
	cfg, err := confparse.Parse("example.conf", []byte("[Orders]\n  type = queue\n  url = "+broker.URL()+"\n"))
	if err != nil {
		fmt.Println(err)
		return
	}

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := factory.New(cfg, factory.WithObserver(m.Observer()))
	_ = m.Watch(f)

	conn, err := f.CreateConnection("Orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	n, _ := testutil.GatherAndCount(reg, "stompft_connections", "stompft_sessions_total", "stompft_current_url")
	fmt.Println("series:", n)
	fmt.Println("connected:", conn.Stats().State)
	// Output:
	// series: 5
	// connected: connected
}
