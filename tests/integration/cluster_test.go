package integration

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/tests/brokers"
)

// The RabbitMQ cluster scenario: a quorum queue on three clustered nodes,
// a tracked producer and a client-individual consumer on different nodes,
// and the node each is on killed with SIGKILL, three rounds, while the
// producer sends.

// clusterRounds is how many times the producer's node and the consumer's
// node are killed.
const clusterRounds = 3

// clusterSendEvery paces the producer: about 250 messages a second, enough
// to keep sends in flight at every kill without saturating two shared cores.
const clusterSendEvery = 4 * time.Millisecond

// quorumHeaders declare the destination as a durable quorum queue (RabbitMQ
// STOMP passes x-queue-type on to the queue declaration).
var quorumHeaders = []string{"x-queue-type", "quorum", "durable", "true", "auto-delete", "false"}

// clusterConf is a factory on the three cluster nodes, in the order given.
func clusterConf(e *brokers.Env, name string, order []string, keys ...string) string {
	urls := make([]string, len(order))
	for i, n := range order {
		urls[i] = "tcp://" + e.Addr(n)
	}
	return section(name, strings.Join(urls, ","), append([]string{
		"vhost = /", "login = guest", "passcode = guest",
		"heartbeat = 1000,1000", "heartbeat_grace = 2",
		"connect_attempt_count = 10", "connect_attempt_delay = 500", "connect_attempt_timeout = 10000",
		"reconnect_attempt_count = 600", "reconnect_attempt_delay = 100", "reconnect_attempt_timeout = 3000",
		"reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0",
		"send_timeout = 120000",
	}, keys...)...)
}

// nodeOf returns the cluster node a connection is on ("" if none).
func nodeOf(e *brokers.Env, c *factory.Connection) string {
	u := c.CurrentURL()
	for _, n := range brokers.Cluster {
		if u == "tcp://"+e.Addr(n) {
			return n
		}
	}
	return ""
}

// failover is one measured failover of one client.
type failover struct {
	who, node string
	downtime  time.Duration // the factory's own figure: loss → reconnected
	sinceKill time.Duration // from the start of kill -9 to the Reconnected event
}

// TestRabbitClusterKillNine: a tracked producer and a client-individual
// consumer (DropDuplicates) on different nodes of a 3-node RabbitMQ cluster
// share a quorum queue. Three times, the producer's node and then the
// consumer's node are killed with SIGKILL while the producer sends, and
// restarted to rejoin the cluster. No message is lost, and every message
// the application sees twice carries a stompft-msg-id already seen (here,
// with DropDuplicates, none reaches it twice).
func TestRabbitClusterKillNine(t *testing.T) {
	e := brokers.Require(t, brokers.Cluster...)
	t.Cleanup(func() {
		for _, n := range brokers.Cluster {
			restoreClusterNode(t, e, n)
		}
	})
	// Six node restarts of 3.5 s each on an idle machine, 20-30 s on a busy one.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	f, _ := load(t,
		clusterConf(e, "Producer", []string{brokers.RabbitC1, brokers.RabbitC3, brokers.RabbitC2}, "track_messages = true")+
			clusterConf(e, "Consumer", []string{brokers.RabbitC2, brokers.RabbitC3, brokers.RabbitC1}))
	prodRec, consRec := newRecorder(), newRecorder()
	prod := connect(t, f, "Producer", rabbitLimit, prodRec.option())
	cons := connect(t, f, "Consumer", rabbitLimit, consRec.option())
	if p, c := nodeOf(e, prod), nodeOf(e, cons); p == c || p == "" || c == "" {
		t.Fatalf("producer on %q, consumer on %q: want two different cluster nodes", p, c)
	}
	name := strings.TrimPrefix(uniqueQueue(t), "/queue/")
	subOpts := []func(*frame.Frame) error{factory.DropDuplicates(0), stomp.SubscribeOpt.Header("prefetch-count", "200")}
	for i := 0; i < len(quorumHeaders); i += 2 {
		subOpts = append(subOpts, stomp.SubscribeOpt.Header(quorumHeaders[i], quorumHeaders[i+1]))
	}
	sub, err := cons.SubscribeContext(ctx, "/queue/"+name, stomp.AckClientIndividual, subOpts...)
	if err != nil {
		t.Fatal(err)
	}
	// The queue exists now (declared by the SUBSCRIBE): the producer sends
	// to it without declaring it again.
	if out := e.Ctl(t, brokers.RabbitC1, "queues"); !queueIsQuorum(out, name) {
		t.Fatalf("queue %s is not a quorum queue on the cluster:\n%s", name, out)
	}
	dest := "/amq/queue/" + name

	// Consumer: record every delivery and ack it (a stale ack is fine:
	// the broker redelivers).
	var (
		mu         sync.Mutex
		deliveries []delivery
		seen       = map[int]bool{}
		staleAcks  int
		consErr    error
	)
	progress := make(chan struct{}, 1)
	consDone := make(chan struct{})
	go func() {
		defer close(consDone)
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-sub.C:
				if !ok {
					return
				}
				fail := func(err error) {
					mu.Lock()
					consErr = err
					mu.Unlock()
				}
				if m.Err != nil {
					fail(m.Err)
					return
				}
				i, err := strconv.Atoi(string(m.Body))
				if err != nil || i < 0 || m.MsgID() == "" {
					fail(fmt.Errorf("unexpected message %q (msg-id %q)", m.Body, m.MsgID()))
					return
				}
				mu.Lock()
				deliveries = append(deliveries, delivery{i, m.MsgID()})
				seen[i] = true
				mu.Unlock()
				select {
				case progress <- struct{}{}:
				default:
				}
				if err := cons.Ack(m); err != nil {
					if !errors.Is(err, factory.ErrStaleAck) {
						fail(fmt.Errorf("ack: %w", err))
						return
					}
					mu.Lock()
					staleAcks++
					mu.Unlock()
				}
			}
		}
	}()
	defer func() { cancel(); <-consDone }()

	// Producer: one persistent message every clusterSendEvery until told
	// to stop, then Flush (every receipt in).
	var sent atomic.Int64
	stopSending := make(chan struct{})
	prodDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(clusterSendEvery)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopSending:
				prodDone <- prod.Flush(ctx)
				return
			case <-ctx.Done():
				prodDone <- ctx.Err()
				return
			case <-tick.C:
			}
			if err := prod.SendContext(ctx, dest, "text/plain", []byte(strconv.Itoa(i)), stomp.SendOpt.Header("persistent", "true")); err != nil {
				prodDone <- fmt.Errorf("send %d: %w", i, err)
				return
			}
			sent.Add(1)
		}
	}()

	// waitSent waits until n more messages went out (sends in flight at the
	// next kill), or fails.
	waitSent := func(n int64) {
		t.Helper()
		target := sent.Load() + n
		deadline := time.NewTimer(rabbitLimit)
		defer deadline.Stop()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for sent.Load() < target {
			select {
			case err := <-prodDone:
				t.Fatalf("producer ended early: %v (sent %d)", err, sent.Load())
			case <-deadline.C:
				t.Fatalf("producer stuck at %d sends (want %d) for %v", sent.Load(), target, rabbitLimit)
			case <-tick.C:
			}
		}
	}

	var failovers []failover
	start := time.Now()
	// kill kills the node the named clients are on, waits until each has
	// reconnected, restarts the node and waits until it has rejoined.
	kill := func(round int, node string) {
		t.Helper()
		type watched struct {
			who  string
			c    *factory.Connection
			rec  *recorder
			from int
		}
		var ws []watched
		for _, w := range []watched{{"producer", prod, prodRec, 0}, {"consumer", cons, consRec, 0}} {
			if nodeOf(e, w.c) == node {
				w.from = w.rec.len()
				ws = append(ws, w)
			}
		}
		waitSent(200)
		at := time.Now()
		e.Ctl(t, node, "kill9")
		var who []string
		for _, w := range ws {
			ev, _ := w.rec.wait(t, factory.EventReconnected, w.from, rabbitLimit)
			fo := failover{who: w.who, node: node, downtime: ev.Downtime, sinceKill: ev.Time.Sub(at)}
			failovers = append(failovers, fo)
			who = append(who, w.who)
			t.Logf("round %d: %s killed (%s on it) after %d sends: %s reconnected to %s, downtime %v, %v after the kill",
				round, node, strings.Join(who, "+"), sent.Load(), w.who, ev.URL, fo.downtime.Round(time.Millisecond), fo.sinceKill.Round(time.Millisecond))
			if ev.URL == "tcp://"+e.Addr(node) {
				t.Fatalf("%s reconnected to the killed node %s", w.who, node)
			}
		}
		e.Ctl(t, node, "start")
		e.Ctl(t, node, "wait-cluster", "120")
	}
	for r := 1; r <= clusterRounds; r++ {
		pn := nodeOf(e, prod)
		if pn == "" {
			t.Fatalf("round %d: producer not connected (state %s)", r, prod.Stats().State)
		}
		kill(r, pn)
		// Then the consumer's node (where the producer may be too by now).
		cn := nodeOf(e, cons)
		if cn == "" {
			t.Fatalf("round %d: consumer not connected (state %s)", r, cons.Stats().State)
		}
		kill(r, cn)
	}
	waitSent(200)
	close(stopSending)
	select {
	case err := <-prodDone:
		if err != nil {
			t.Fatalf("producer: %v (sent %d)", err, sent.Load())
		}
	case <-ctx.Done():
		t.Fatalf("producer flush: %v (sent %d)", ctx.Err(), sent.Load())
	}
	total := int(sent.Load())
	// Every message in, or the deadline.
	for done := false; !done; {
		mu.Lock()
		done = len(seen) == total || consErr != nil
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-progress:
		case <-consDone:
			done = true
		case <-ctx.Done():
			done = true
		}
	}
	took := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	if consErr != nil {
		t.Fatalf("consumer: %v", consErr)
	}
	perIndex := map[int]int{}
	idOf := map[int]string{}
	ids := map[string]bool{}
	for _, d := range deliveries {
		perIndex[d.index]++
		if id, ok := idOf[d.index]; ok && id != d.msgID {
			t.Errorf("message %d arrived with two stompft-msg-ids %s and %s: a duplicate not recognisable", d.index, id, d.msgID)
		}
		idOf[d.index] = d.msgID
		ids[d.msgID] = true
	}
	lost := 0
	for i := 0; i < total; i++ {
		if perIndex[i] == 0 {
			lost++
		}
	}
	ps, cs := prod.Stats(), cons.Stats()
	dups := len(deliveries) - len(perIndex)
	var pf, cf []string
	for _, fo := range failovers {
		s := fmt.Sprintf("%s %v/%v", fo.node, fo.downtime.Round(time.Millisecond), fo.sinceKill.Round(time.Millisecond))
		if fo.who == "producer" {
			pf = append(pf, s)
		} else {
			cf = append(cf, s)
		}
	}
	for who, r := range map[string]*recorder{"producer": prodRec, "consumer": consRec} {
		for _, ev := range r.of(factory.EventDisconnected) {
			t.Logf("%s lost %s at %s: %v", who, ev.URL, ev.Time.Format("15:04:05.000"), ev.Err)
		}
	}
	t.Logf("producer: %d reconnects, %d replayed, %d in flight; consumer: %d reconnects, %d received, %d acked, %d duplicates dropped, %d stale acks",
		ps.Reconnects, ps.Replayed, ps.InFlight, cs.Reconnects, cs.Received, cs.Acked, cs.DuplicatesDropped, staleAcks)
	summary(t, e, "rabbitmq-cluster failover times (downtime/since kill): producer [%s]; consumer [%s]", strings.Join(pf, ", "), strings.Join(cf, ", "))
	summary(t, e, "rabbitmq-cluster: sent=%d received=%d deliveries=%d duplicates_delivered=%d duplicates_dropped=%d lost=%d kills=%d took=%v",
		total, len(perIndex), len(deliveries), dups, cs.DuplicatesDropped, lost, 2*clusterRounds, took.Round(time.Second))
	if lost != 0 || len(perIndex) != total {
		t.Fatalf("%d of %d messages lost", lost, total)
	}
	if len(ids) != total {
		t.Fatalf("%d distinct stompft-msg-ids for %d messages", len(ids), total)
	}
	if ps.InFlight != 0 {
		t.Fatalf("producer has %d sends in flight after Flush", ps.InFlight)
	}
	if ps.Reconnects < clusterRounds || cs.Reconnects < clusterRounds {
		t.Fatalf("reconnects: producer %d, consumer %d; want at least %d each", ps.Reconnects, cs.Reconnects, clusterRounds)
	}
}

// queueIsQuorum tells whether `rabbitmqctl list_queues name type messages`
// output lists queue name with type quorum.
func queueIsQuorum(out, name string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == name && f[1] == "quorum" {
			return true
		}
	}
	return false
}

// restoreClusterNode restarts a cluster node a failed test left dead and
// waits until it has rejoined.
func restoreClusterNode(t *testing.T, e *brokers.Env, name string) {
	if _, err := e.CtlErr(name, "pid"); err == nil {
		_, _ = e.CtlErr(name, "thaw") // harmless when not frozen
		return
	}
	if out, err := e.CtlErr(name, "start"); err != nil {
		t.Logf("restore %s: %v: %s", name, err, out)
		return
	}
	if out, err := e.CtlErr(name, "wait-cluster", "120"); err != nil {
		t.Logf("restore %s: %v: %s", name, err, out)
	}
}
