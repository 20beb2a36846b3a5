// Package metrics exports stompft's connection figures to Prometheus,
// through the official client library. It is its own package so that
// applications that do not want Prometheus do not import it.
//
//	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
//	m, err := metrics.New(reg)
//	f, err := factory.Load("factories.conf", factory.WithObserver(m.Observer()))
//	err = m.Watch(f)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Metrics
//
// Counters, fed as things happen by the factory.Observer from Observer:
//
//	stompft_sessions_total{factory,url}         sessions established (connects, reconnects, switches)
//	stompft_reconnects_total{factory,url}       completed reconnects, by the URL reconnected to
//	stompft_failed_attempts_total{factory,url}  failed attempts to one URL
//	stompft_disconnects_total{factory,url}      connection losses, by the URL lost
//	stompft_downtime_seconds{factory}           histogram: loss to completed reconnect
//
// Gauges, read at scrape time from conn.Stats() of every open connection of
// the factories given to Watch:
//
//	stompft_connections{factory,state}          connecting, connected, reconnecting
//	stompft_tracked_sends_in_flight{factory}    tracked sends awaiting a receipt
//	stompft_tracked_send_cache_bytes{factory}   bytes they hold
//	stompft_current_url{factory,url}            connections on each URL (info-style)
//
// # Without Prometheus
//
// conn.Stats() returns the same figures per connection (Reconnects,
// FailedAttempts, LastDowntime, TotalDowntime, InFlight, CacheBytes, URL,
// State) with no dependency beyond package factory.
package metrics
