package metrics

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stompft/stompft/factory"
)

// Namespace prefixes every metric name.
const Namespace = "stompft"

// DowntimeBuckets are the downtime histogram's upper bounds, in seconds:
// from a sub-millisecond swap to a hot standby to a two-minute outage.
var DowntimeBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// states are the connection states reported for every watched factory
// definition, zero included, so a dashboard sees 0 rather than no series.
var states = []string{factory.StateConnecting, factory.StateConnected, factory.StateReconnecting}

// Metrics holds stompft's Prometheus metrics. It is a prometheus.Collector;
// New registers it. Safe for concurrent use.
type Metrics struct {
	sessions    *prometheus.CounterVec
	reconnects  *prometheus.CounterVec
	failed      *prometheus.CounterVec
	disconnects *prometheus.CounterVec
	downtime    *prometheus.HistogramVec

	connectionsDesc *prometheus.Desc
	inFlightDesc    *prometheus.Desc
	cacheBytesDesc  *prometheus.Desc
	currentURLDesc  *prometheus.Desc

	mu      sync.Mutex
	watched []*factory.Factory
}

// New creates the metrics and registers them with reg (for example
// prometheus.DefaultRegisterer, or a prometheus.NewRegistry()). With a nil
// reg nothing is registered: register the returned Metrics yourself.
func New(reg prometheus.Registerer) (*Metrics, error) {
	fu := []string{"factory", "url"}
	m := &Metrics{
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "sessions_total",
			Help: "STOMP sessions established (first connects, reconnects and planned switches), by factory and URL.",
		}, fu),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "reconnects_total",
			Help: "Completed reconnects after a connection loss, by factory and the URL reconnected to.",
		}, fu),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "failed_attempts_total",
			Help: "Connect or reconnect attempts to one URL that failed, by factory and URL.",
		}, fu),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "disconnects_total",
			Help: "Connection losses, by factory and the URL lost.",
		}, fu),
		downtime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "downtime_seconds",
			Help:    "Time from a connection loss to the completed reconnect, by factory.",
			Buckets: DowntimeBuckets,
		}, []string{"factory"}),
		connectionsDesc: prometheus.NewDesc(Namespace+"_connections",
			"Open connections of the watched factories, by factory and state.", []string{"factory", "state"}, nil),
		inFlightDesc: prometheus.NewDesc(Namespace+"_tracked_sends_in_flight",
			"Tracked sends awaiting their receipt (track_messages), by factory.", []string{"factory"}, nil),
		cacheBytesDesc: prometheus.NewDesc(Namespace+"_tracked_send_cache_bytes",
			"Bytes held by tracked sends awaiting their receipt (bounded by max_cache_size per connection), by factory.", []string{"factory"}, nil),
		currentURLDesc: prometheus.NewDesc(Namespace+"_current_url",
			"Connections currently connected to each URL, by factory (an info-style gauge: one series per URL in use).", []string{"factory", "url"}, nil),
	}
	if reg != nil {
		if err := reg.Register(m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Observer returns the factory.Observer that feeds the counters and the
// downtime histogram. Pass it with factory.WithObserver.
func (m *Metrics) Observer() factory.Observer { return observer{m} }

// Watch makes every scrape read conn.Stats() of f's open connections for
// the gauges (connections by state, tracked sends, current URL). Watching
// the same factory twice counts it once.
func (m *Metrics) Watch(f *factory.Factory) error {
	if f == nil {
		return errors.New("stompft/metrics: Watch: nil factory")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.watched {
		if w == f {
			return nil
		}
	}
	m.watched = append(m.watched, f)
	return nil
}

// Unwatch stops reading f's connections.
func (m *Metrics) Unwatch(f *factory.Factory) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, w := range m.watched {
		if w == f {
			m.watched = append(m.watched[:i:i], m.watched[i+1:]...)
			return
		}
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.sessions.Describe(ch)
	m.reconnects.Describe(ch)
	m.failed.Describe(ch)
	m.disconnects.Describe(ch)
	m.downtime.Describe(ch)
	ch <- m.connectionsDesc
	ch <- m.inFlightDesc
	ch <- m.cacheBytesDesc
	ch <- m.currentURLDesc
}

// Collect implements prometheus.Collector: the counters as observed, and
// the gauges from a Stats snapshot of every watched connection, summed by
// factory name (two Factory values may define the same name).
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.sessions.Collect(ch)
	m.reconnects.Collect(ch)
	m.failed.Collect(ch)
	m.disconnects.Collect(ch)
	m.downtime.Collect(ch)

	m.mu.Lock()
	watched := append([]*factory.Factory(nil), m.watched...)
	m.mu.Unlock()

	type key struct{ a, b string }
	conns := map[key]int{}
	inFlight := map[string]int{}
	cacheBytes := map[string]int64{}
	urls := map[key]int{}
	for _, f := range watched {
		for _, d := range f.Config().Factories {
			for _, s := range states {
				conns[key{d.Name, s}] += 0
			}
			inFlight[d.Name] += 0
			cacheBytes[d.Name] += 0
		}
		for _, c := range f.Connections() {
			st := c.Stats()
			if st.State == factory.StateClosed {
				continue
			}
			conns[key{st.Factory, st.State}]++
			inFlight[st.Factory] += st.InFlight
			cacheBytes[st.Factory] += st.CacheBytes
			if st.URL != "" {
				urls[key{st.Factory, st.URL}]++
			}
		}
	}
	for k, n := range conns {
		ch <- prometheus.MustNewConstMetric(m.connectionsDesc, prometheus.GaugeValue, float64(n), k.a, k.b)
	}
	for name, n := range inFlight {
		ch <- prometheus.MustNewConstMetric(m.inFlightDesc, prometheus.GaugeValue, float64(n), name)
	}
	for name, n := range cacheBytes {
		ch <- prometheus.MustNewConstMetric(m.cacheBytesDesc, prometheus.GaugeValue, float64(n), name)
	}
	for k, n := range urls {
		ch <- prometheus.MustNewConstMetric(m.currentURLDesc, prometheus.GaugeValue, float64(n), k.a, k.b)
	}
}

// observer adapts Metrics to factory.Observer. Every method only bumps
// in-memory counters: fast and non-blocking, as the factory requires.
type observer struct{ m *Metrics }

func (o observer) Connected(name, url string) {
	o.m.sessions.WithLabelValues(name, url).Inc()
}

func (o observer) Disconnected(name, url string) {
	o.m.disconnects.WithLabelValues(name, url).Inc()
}

func (o observer) AttemptFailed(name, url string) {
	o.m.failed.WithLabelValues(name, url).Inc()
}

// Reconnected is called once per completed reconnect, with the new URL.
func (o observer) Reconnected(name, url string, d time.Duration) {
	o.m.reconnects.WithLabelValues(name, url).Inc()
	o.m.downtime.WithLabelValues(name).Observe(d.Seconds())
}
