package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/metrics"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/internal/embedded/embeddedtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitLimit = 20 * time.Second

// scrape fetches /metrics from a promhttp handler over HTTP and parses it.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the series of fam whose labels include want,
// and whether there is one.
func value(fams map[string]*dto.MetricFamily, fam string, want map[string]string) (float64, bool) {
	f, ok := fams[fam]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// waitFor polls cond until it holds or waitLimit passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestScrapeThroughFailover(t *testing.T) {
	primary, backup := embeddedtest.Pair(t)
	// A dead URL first: the first connect fails once there.
	dead, err := embedded.New(embedded.Options{Engine: embedded.EngineMini})
	if err != nil {
		t.Fatal(err)
	}
	deadURL := dead.URL()
	dead.Kill()

	cfg, err := confparse.Parse("t.conf", []byte(`[FT]
  type                    = queue
  url                     = `+deadURL+`,`+primary.URL()+`,`+backup.URL()+`
  reconnect_attempt_delay = 250
  reconnect_spread        = 0
  track_messages          = true
[Unused]
  type = queue
  url  = tcp://127.0.0.1:1
`))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := factory.New(cfg, factory.WithObserver(m.Observer()))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Watch(f); err != nil {
		t.Fatal(err)
	}
	if err := m.Watch(f); err != nil { // twice counts once
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, err := f.CreateConnectionContext(ctx, "FT")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	fams := scrape(t, reg)
	checks := []struct {
		fam    string
		labels map[string]string
		want   float64
	}{
		{"stompft_failed_attempts_total", map[string]string{"factory": "FT", "url": deadURL}, 1},
		{"stompft_sessions_total", map[string]string{"factory": "FT", "url": primary.URL()}, 1},
		{"stompft_connections", map[string]string{"factory": "FT", "state": "connected"}, 1},
		{"stompft_connections", map[string]string{"factory": "FT", "state": "reconnecting"}, 0},
		{"stompft_connections", map[string]string{"factory": "Unused", "state": "connected"}, 0},
		{"stompft_current_url", map[string]string{"factory": "FT", "url": primary.URL()}, 1},
		{"stompft_tracked_sends_in_flight", map[string]string{"factory": "FT"}, 0},
		{"stompft_tracked_send_cache_bytes", map[string]string{"factory": "FT"}, 0},
	}
	for _, c := range checks {
		got, ok := value(fams, c.fam, c.labels)
		if !ok || got != c.want {
			t.Errorf("before failover: %s%v = %v (present %v), want %v", c.fam, c.labels, got, ok, c.want)
		}
	}
	if _, ok := value(fams, "stompft_reconnects_total", nil); ok {
		t.Errorf("a reconnect counted before any failover")
	}

	// Kill the primary: the connection reconnects, to the backup (the URL
	// after the lost one).
	primary.Kill()
	waitFor(t, "the reconnect to the backup", func() bool { return conn.CurrentURL() == backup.URL() })
	if err := conn.Send("/queue/m", "text/plain", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := conn.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Observer calls and Stats are both done once the reconnect completes;
	// wait for the counter rather than assume.
	waitFor(t, "the reconnect counter", func() bool {
		v, _ := value(scrape(t, reg), "stompft_reconnects_total", map[string]string{"factory": "FT", "url": backup.URL()})
		return v == 1
	})
	fams = scrape(t, reg)
	checks = []struct {
		fam    string
		labels map[string]string
		want   float64
	}{
		{"stompft_disconnects_total", map[string]string{"factory": "FT", "url": primary.URL()}, 1},
		{"stompft_sessions_total", map[string]string{"factory": "FT", "url": backup.URL()}, 1},
		{"stompft_downtime_seconds", map[string]string{"factory": "FT"}, 1}, // sample count
		{"stompft_current_url", map[string]string{"factory": "FT", "url": backup.URL()}, 1},
		{"stompft_connections", map[string]string{"factory": "FT", "state": "connected"}, 1},
	}
	for _, c := range checks {
		got, ok := value(fams, c.fam, c.labels)
		if !ok || got != c.want {
			t.Errorf("after failover: %s%v = %v (present %v), want %v", c.fam, c.labels, got, ok, c.want)
		}
	}
	if _, ok := value(fams, "stompft_current_url", map[string]string{"url": primary.URL()}); ok {
		t.Errorf("current_url still shows the lost primary")
	}
	// The figures agree with conn.Stats().
	st := conn.Stats()
	if st.Reconnects != 1 || st.FailedAttempts < 1 || st.URL != backup.URL() {
		t.Errorf("Stats = %+v", st)
	}

	// Closed connections leave the gauges.
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	fams = scrape(t, reg)
	if got, _ := value(fams, "stompft_connections", map[string]string{"factory": "FT", "state": "connected"}); got != 0 {
		t.Errorf("after Close: connected = %v, want 0", got)
	}
	m.Unwatch(f)
	if _, ok := value(scrape(t, reg), "stompft_connections", nil); ok {
		t.Errorf("an unwatched factory still reports connections")
	}
}

func TestNewRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg); err != nil {
		t.Fatal(err)
	}
	// The same names twice in one registry is an error, not a panic.
	if _, err := metrics.New(reg); err == nil {
		t.Error("second New on the same registry succeeded")
	}
	// nil: nothing registered; the caller registers it.
	m, err := metrics.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	reg2 := prometheus.NewRegistry()
	if err := reg2.Register(m); err != nil {
		t.Fatal(err)
	}
	if err := m.Watch(nil); err == nil {
		t.Error("Watch(nil) succeeded")
	}
}
