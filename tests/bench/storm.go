package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/factory"
)

// stormPolicy is one reconnect policy of the storm comparison.
type stormPolicy struct {
	name string
	kv   []string
	// unthrottled replaces the factory's reconnect scheduler by one with
	// no limits: the no-delay and EMS policies model clients that have no
	// such thing (a go-stomp loop, the EMS client library).
	unthrottled bool
}

// The three policies of the issue. Every one retries for ever and bounds
// one attempt to one URL (dial, TLS, CONNECT) at stormAttemptTimeout.
var stormPolicies = []stormPolicy{
	{"no delay", []string{"reconnect_attempt_delay = 0", "reconnect_spread = 0", "reconnect_jitter = none", "reconnect_backoff_multiplier = 1"}, true},
	{"EMS fixed 500 ms", []string{"reconnect_attempt_delay = 500", "reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0"}, true},
	{"stompft default", nil, false},
}

// stormWhatIf are extra, informative runs (-storm-whatif): the default
// with the reconnect scheduler's caps raised, to show what they cost.
var stormWhatIf = []stormPolicy{
	{"default, scheduler caps raised", []string{"scheduler_max_rate = 5000", "scheduler_max_concurrency = 256"}, false},
	{"default, caps raised, spread 0", []string{"scheduler_max_rate = 5000", "scheduler_max_concurrency = 256", "reconnect_spread = 0"}, false},
}

// unlimited is a scheduler that admits every attempt at once.
func unlimited() *attempts.Scheduler {
	return attempts.NewScheduler(attempts.SchedulerConfig{
		MaxConcurrency: 1 << 30, InitialConcurrency: 1 << 30, Burst: 1 << 30,
		MaxRate: 1e12, MinRate: 1e12, InitialRate: 1e12,
	}, attempts.SystemClock)
}

const stormAttemptTimeout = 2 * time.Second

// stormBin is the width of the accept histogram.
const stormBin = 50 * time.Millisecond

// stormResult is one storm run.
type stormResult struct {
	transport string // tcp or tls
	backlog   int    // 0 = system default
	policy    string
	n         int

	done                  time.Duration // kill → every connection reconnected
	reconnected           int
	failed                int64 // failed attempts, all kinds
	refused, dialTimeouts int64 // of which: dial refused, dial timed out
	otherDial             int64 // other dial errors
	overflows             int64 // TcpExtListenOverflows delta
	peak                  int   // most accepts in one stormBin
	clientCPU, brokerCPU  time.Duration
	accepts               []time.Duration
}

func (r stormResult) connectTimeouts() int64 {
	return r.failed - r.refused - r.dialTimeouts - r.otherDial
}

func benchStorm(cfg config, rep *report) error {
	n := 2000
	if cfg.quick {
		n = 200
	}
	dir, err := os.MkdirTemp("", "stompft-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certFile, keyFile, err := writeCert(dir)
	if err != nil {
		return err
	}
	h, err := startHost(certFile, keyFile)
	if err != nil {
		return err
	}
	defer h.close()

	somax := readInt("/proc/sys/net/core/somaxconn")
	floors := map[string]time.Duration{}
	perConn := map[string]time.Duration{}
	for _, tr := range []string{"tcp", "tls"} {
		pc, err := calibrate(h, tr, certFile, 200)
		if err != nil {
			return fmt.Errorf("calibrating %s: %w", tr, err)
		}
		perConn[tr] = pc
		floors[tr] = time.Duration(float64(pc) * float64(n) / float64(runtime.NumCPU()))
		cfg.progressf("%s: %v CPU per connection (client + broker): floor for %d = %v on %d cores", tr, pc, n, floors[tr], runtime.NumCPU())
	}

	var results []stormResult
	run := 0
	for _, tr := range []string{"tcp", "tls"} {
		for _, backlog := range []int{0, 128} {
			pols := stormPolicies
			if cfg.stormWhatIf {
				pols = append(append([]stormPolicy(nil), pols...), stormWhatIf...)
			}
			for _, pol := range pols {
				run++
				if label := fmt.Sprintf("%s backlog %d %s", tr, backlog, pol.name); !strings.Contains(label, cfg.stormCase) {
					continue
				}
				r, err := stormRun(cfg, h, run, tr, backlog, pol, n, certFile)
				if err != nil {
					return fmt.Errorf("%s backlog %d %s: %w", tr, backlog, pol.name, err)
				}
				cfg.progressf("%s backlog %s %-17s done %v, failed %d (refused %d, unanswered SYNs %d, accepted handshakes t/o or failed %d), overflows %d, peak %d/50ms, CPU client %v broker %v",
					tr, backlogName(backlog, somax), pol.name, roundDur(r.done), r.failed, r.refused, r.dialTimeouts, r.connectTimeouts(), r.overflows, r.peak,
					roundDur(r.clientCPU), roundDur(r.brokerCPU))
				results = append(results, r)
			}
		}
	}

	for _, r := range results {
		x := row{
			Item:    "5 storm",
			Measure: fmt.Sprintf("%s, backlog %s, %s: %d connections", strings.ToUpper(r.transport), backlogName(r.backlog, somax), r.policy, r.n),
			Ours: fmt.Sprintf("all back in %v; %d failed attempts (%d refused, %d unanswered SYNs: dial t/o or abandoned, %d accepted handshakes t/o or failed); %d overflows; peak %d accepts/50 ms; CPU client %v, broker %v",
				roundDur(r.done), r.failed, r.refused, r.dialTimeouts, r.connectTimeouts(), r.overflows, r.peak, roundDur(r.clientCPU), roundDur(r.brokerCPU)),
		}
		if r.reconnected < r.n {
			x.Ours = fmt.Sprintf("only %d of %d reconnected; ", r.reconnected, r.n) + x.Ours
		}
		if r.policy == "stompft default" {
			switch {
			case r.transport == "tls" && r.backlog == 128:
				floor := floors["tls"]
				x.Base = fmt.Sprintf("CPU floor %v", roundDur(floor))
				x.Ratio = fmt.Sprintf("%.2f × floor", float64(r.done)/float64(floor))
				x.Goal = "no accepted handshake timed out or abandoned (refused and unanswered SYNs apart) and ≤ 1.2 × CPU floor"
				v := atMost(float64(r.done)/float64(floor), 1.2, " × floor")
				if lost := r.connectTimeouts(); lost > 0 {
					v = fmt.Sprintf("**MISS** (%d accepted handshakes timed out or failed); time: %s", lost, v)
				}
				x.Verdict = v
			case r.transport == "tcp" && r.backlog == 0:
				nd := findStorm(results, r.transport, r.backlog, "no delay")
				if nd != nil {
					x.Base = fmt.Sprintf("no delay: %v", roundDur(nd.done))
					x.Ratio = fmt.Sprintf("%.2f × no delay", float64(r.done)/float64(nd.done))
					x.Goal = "≤ 1.5 × no delay"
					x.Verdict = atMost(float64(r.done)/float64(nd.done), 1.5, " ×")
				}
			}
		}
		rep.add(x)
	}
	rep.note("item 5: CPU floor = (client + broker CPU of one connection, measured on %d sequential connections: TCP %v, TLS %v) × %d ÷ %d cores; every policy bounds one attempt to one URL at %v; \"no delay\" and \"EMS fixed\" run with an unlimited reconnect scheduler (the clients they model have none), \"stompft default\" with the factory's own (scheduler_* defaults); backlog \"default\" is net.core.somaxconn = %d",
		200, roundDur(perConn["tcp"]), roundDur(perConn["tls"]), n, runtime.NumCPU(), stormAttemptTimeout, somax)
	if cfg.chart != "" {
		var series []stormResult
		for _, r := range results {
			if r.transport == "tls" && r.backlog == 128 {
				series = append(series, r)
			}
		}
		if err := stormChart(cfg.chart, series, n); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		cfg.progressf("chart written to %s", cfg.chart)
	}
	return nil
}

func findStorm(rs []stormResult, tr string, backlog int, policy string) *stormResult {
	for i := range rs {
		if rs[i].transport == tr && rs[i].backlog == backlog && rs[i].policy == policy {
			return &rs[i]
		}
	}
	return nil
}

func backlogName(b, somax int) string {
	if b == 0 {
		return fmt.Sprintf("default (%d)", somax)
	}
	return strconv.Itoa(b)
}

// countingDialer classifies dial failures once armed.
type countingDialer struct {
	armed                           atomic.Bool
	refused, timeouts, other, total atomic.Int64
	d                               net.Dialer
}

func (c *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := c.d.DialContext(ctx, network, addr)
	if err != nil && c.armed.Load() {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			c.refused.Add(1)
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			c.timeouts.Add(1)
		default:
			c.other.Add(1)
		}
	}
	return nc, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// stormFactory makes the factory of one storm run.
func stormFactory(tr, primary, backup, certFile string, pol stormPolicy, d *countingDialer, onEvent func(factory.Event)) (*factory.Factory, []factory.ConnectionOption, error) {
	scheme := "tcp://"
	kv := []string{
		"connect_attempt_count = 5",
		"connect_attempt_delay = 250",
		"connect_attempt_timeout = 10000",
		"reconnect_attempt_count = -1",
		"reconnect_attempt_timeout = " + strconv.FormatInt(stormAttemptTimeout.Milliseconds(), 10),
		// The storm is about reconnects; keep heart-beats out of it.
		"heartbeat = 0,0",
	}
	if tr == "tls" {
		scheme = "ssl://"
		kv = append(kv, "ssl_trusted = "+certFile)
	}
	kv = append(kv, pol.kv...)
	urls := scheme + primary
	if backup != "" {
		urls += "," + scheme + backup
	}
	f, err := newFactory(urls, kv...)
	if err != nil {
		return nil, nil, err
	}
	opts := []factory.ConnectionOption{factory.WithDialer(d.dial)}
	if pol.unthrottled {
		opts = append(opts, factory.WithScheduler(unlimited()))
	}
	if onEvent != nil {
		opts = append(opts, factory.WithEventHandler(onEvent))
	}
	return f, opts, nil
}

// openAll opens n connections with bounded concurrency.
func openAll(f *factory.Factory, opts []factory.ConnectionOption, n, workers int) ([]*factory.Connection, error) {
	conns := make([]*factory.Connection, n)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	next := atomic.Int64{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := f.CreateConnection("Bench", opts...)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		closeAll(conns)
		return nil, firstErr
	}
	return conns, nil
}

// closeAll closes connections concurrently.
func closeAll(conns []*factory.Connection) {
	var wg sync.WaitGroup
	ch := make(chan *factory.Connection)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				_ = c.Close()
			}
		}()
	}
	for _, c := range conns {
		if c != nil {
			ch <- c
		}
	}
	close(ch)
	wg.Wait()
}

// calibrate measures client + broker CPU per sequential connection.
func calibrate(h *host, tr, certFile string, n int) (time.Duration, error) {
	name := "cal-" + tr
	addr, err := h.start(name, tr, 0)
	if err != nil {
		return 0, err
	}
	defer func() { _, _ = h.do("kill %s", name) }()
	d := &countingDialer{}
	f, opts, err := stormFactory(tr, addr, "", certFile, stormPolicies[0], d, nil)
	if err != nil {
		return 0, err
	}
	// Warm up.
	w, err := openAll(f, opts, 5, 1)
	if err != nil {
		return 0, err
	}
	closeAll(w)
	c0, b0 := processCPU(), mustCPU(h)
	conns, err := openAll(f, opts, n, 1)
	c1, b1 := processCPU(), mustCPU(h)
	closeAll(conns)
	if err != nil {
		return 0, err
	}
	return ((c1 - c0) + (b1 - b0)) / time.Duration(n), nil
}

func mustCPU(h *host) time.Duration {
	d, _ := h.cpu()
	return d
}

// stormRun is one storm: n connections on a primary, the primary killed,
// every connection timed until it is back on the backup.
func stormRun(cfg config, h *host, run int, tr string, backlog int, pol stormPolicy, n int, certFile string) (stormResult, error) {
	res := stormResult{transport: tr, backlog: backlog, policy: pol.name, n: n}
	pName, bName := fmt.Sprintf("p%d", run), fmt.Sprintf("b%d", run)
	primary, err := h.start(pName, tr, 0)
	if err != nil {
		return res, err
	}
	defer func() { _, _ = h.do("kill %s", pName) }()
	backup, err := h.start(bName, tr, backlog)
	if err != nil {
		return res, err
	}
	defer func() { _, _ = h.do("kill %s", bName) }()

	var reconnected atomic.Int64
	var lastMu sync.Mutex
	var last time.Time
	all := make(chan struct{})
	onEvent := func(e factory.Event) {
		if e.Kind != factory.EventReconnected {
			return
		}
		lastMu.Lock()
		if e.Time.After(last) {
			last = e.Time
		}
		lastMu.Unlock()
		if reconnected.Add(1) == int64(n) {
			close(all)
		}
	}
	d := &countingDialer{}
	f, opts, err := stormFactory(tr, primary, backup, certFile, pol, d, onEvent)
	if err != nil {
		return res, err
	}
	conns, err := openAll(f, opts, n, 32)
	if err != nil {
		return res, fmt.Errorf("opening %d connections: %w", n, err)
	}
	defer closeAll(conns)
	for _, c := range conns {
		if !strings.HasSuffix(c.CurrentURL(), primary) {
			return res, fmt.Errorf("a connection is on %s, not the primary", c.CurrentURL())
		}
	}
	var failed0 uint64
	for _, c := range conns {
		failed0 += c.Stats().FailedAttempts
	}
	runtime.GC()
	ov0 := listenOverflows()
	c0, b0 := processCPU(), mustCPU(h)
	d.armed.Store(true)
	if _, err := h.do("mark"); err != nil {
		return res, err
	}
	start := time.Now()
	if _, err := h.do("kill %s", pName); err != nil {
		return res, err
	}
	limit := 90 * time.Second
	select {
	case <-all:
	case <-time.After(limit):
	}
	end := time.Now()
	c1, b1 := processCPU(), mustCPU(h)
	ov1 := listenOverflows()
	d.armed.Store(false)
	res.reconnected = int(reconnected.Load())
	lastMu.Lock()
	if res.reconnected == n {
		res.done = last.Sub(start)
	} else {
		res.done = end.Sub(start)
	}
	lastMu.Unlock()
	var failed1 uint64
	for _, c := range conns {
		failed1 += c.Stats().FailedAttempts
	}
	res.failed = int64(failed1 - failed0)
	res.refused, res.dialTimeouts, res.otherDial = d.refused.Load(), d.timeouts.Load(), d.other.Load()
	res.overflows = ov1 - ov0
	res.clientCPU, res.brokerCPU = c1-c0, b1-b0
	acc, err := h.acceptTimes(bName)
	if err != nil {
		return res, err
	}
	res.accepts = acc
	res.peak = peakPerBin(acc, stormBin)
	return res, nil
}

func peakPerBin(ts []time.Duration, bin time.Duration) int {
	counts := map[int64]int{}
	peak := 0
	for _, t := range ts {
		k := int64(t / bin)
		counts[k]++
		peak = max(peak, counts[k])
	}
	return peak
}

// listenOverflows reads TcpExt ListenOverflows from /proc/net/netstat.
func listenOverflows() int64 {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return 0
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "TcpExt:") || !strings.HasPrefix(lines[i+1], "TcpExt:") {
			continue
		}
		keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		for j := range keys {
			if keys[j] == "ListenOverflows" && j < len(vals) {
				v, _ := strconv.ParseInt(vals[j], 10, 64)
				return v
			}
		}
	}
	return 0
}

func readInt(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return v
}

// writeCert writes a self-signed RSA-2048 certificate for 127.0.0.1.
func writeCert(dir string) (certFile, keyFile string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "stompft bench broker"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	kb := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, kb, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
