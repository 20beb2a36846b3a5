package brokers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
)

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		addr    string // Addr(AMQ1)
		pair    []string
		wantErr error
	}{
		{name: "up.sh output", in: "# comment\nexport STOMPFT_AMQ1=\"127.0.0.1:61723\"\n\nexport STOMPFT_AMQ_PAIR=\"127.0.0.1:1,127.0.0.1:2\"\n",
			addr: "127.0.0.1:61723", pair: []string{"127.0.0.1:1", "127.0.0.1:2"}},
		{name: "single quotes, no export", in: "STOMPFT_AMQ1='127.0.0.1:9'\n", addr: "127.0.0.1:9"},
		{name: "unquoted", in: "export STOMPFT_AMQ1=127.0.0.1:8", addr: "127.0.0.1:8"},
		{name: "empty file", in: ""},
		{name: "no equals", in: "export STOMPFT_AMQ1\n", wantErr: ErrBadEnvLine},
		{name: "unterminated quote", in: "export STOMPFT_AMQ1=\"127.0.0.1:8\n", wantErr: ErrBadEnvLine},
		{name: "space in name", in: "export A B=1\n", wantErr: ErrBadEnvLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEnv(strings.NewReader(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseEnv error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := e.Addr(AMQ1); got != tt.addr {
				t.Errorf("Addr(amq1) = %q, want %q", got, tt.addr)
			}
			if got := e.PairAddrs(); strings.Join(got, ",") != strings.Join(tt.pair, ",") {
				t.Errorf("PairAddrs() = %q, want %q", got, tt.pair)
			}
			if got := e.Addr("no-such-broker"); got != "" {
				t.Errorf("Addr(unknown) = %q, want empty", got)
			}
		})
	}
}

// TestRequireSkipsWithoutBrokers checks the promise of the package doc: no
// env file and no STOMPFT_REAL_BROKERS means skipped, with the reason.
func TestRequireSkipsWithoutBrokers(t *testing.T) {
	t.Setenv("STOMPFT_BROKERS_DIR", t.TempDir())
	t.Setenv(EnableVar, "")
	var ran bool
	t.Run("inner", func(t *testing.T) {
		Require(t, AMQ1)
		ran = true
	})
	if ran {
		t.Fatal("Require did not stop a test without brokers")
	}
	if Enabled() {
		t.Fatal("Enabled() = true without env file or variable")
	}
}

func TestCtlTimeout(t *testing.T) {
	tests := []struct {
		action string
		args   []string
		want   time.Duration
	}{
		{"kill9", nil, 90 * time.Second},
		{"wait-up", []string{"5"}, 35 * time.Second},
		{"wait-slave", []string{"120"}, 150 * time.Second},
		{"wait-cluster", []string{"120"}, 150 * time.Second},
		{"wait-up", []string{"x"}, 90 * time.Second},
	}
	for _, tt := range tests {
		if got := ctlTimeout(tt.action, tt.args); got != tt.want {
			t.Errorf("ctlTimeout(%s %v) = %v, want %v", tt.action, tt.args, got, tt.want)
		}
	}
}

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	e := &Env{vars: map[string]string{"STOMPFT_BROKERS_DIR": dir}}
	unlock, err := e.lock(AMQ1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lock(AMQ1, 100*time.Millisecond); err == nil {
		t.Fatal("second lock of amq1 succeeded while the first is held")
	}
	unlock()
	unlock2, err := e.lock(AMQ1, time.Second)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
	if _, err := os.Stat(filepath.Join(dir, "locks", "amq1.lock")); err != nil {
		t.Fatal(err)
	}
}

// dial is Dial, shorter.
func dial(addr, host string, timeout time.Duration) (*stomp.Conn, error) {
	return Dial(addr, host, timeout)
}

// dialUntil retries dial until it succeeds or the deadline passes.
func dialUntil(t *testing.T, addr, host string, within time.Duration) *stomp.Conn {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := dial(addr, host, 3*time.Second)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no STOMP CONNECTED from %s within %v: %v", addr, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAMQPairFailover proves what BROKERS.md says of the shared-store pair:
// the master answers, the slave's port is closed, kill -9 of the master
// makes the slave answer with the persistent messages, and the restarted
// ex-master waits as the new slave.
func TestAMQPairFailover(t *testing.T) {
	e := Require(t, AMQMaster, AMQSlave)
	master, slave := e.PairMaster(t)
	t.Logf("master instance %s (%s), slave %s (%s)", master, e.Addr(master), slave, e.Addr(slave))

	if c, err := dial(e.Addr(slave), "/", 2*time.Second); err == nil {
		_ = c.Disconnect()
		t.Fatalf("slave %s answered CONNECT while the master holds the lock", slave)
	}

	queue := fmt.Sprintf("/queue/stompft.brokers.failover.%d", time.Now().UnixNano())
	body := "survives failover"
	c := dialUntil(t, e.Addr(master), "/", 10*time.Second)
	if err := c.Send(queue, "text/plain", []byte(body), stomp.SendOpt.Header("persistent", "true"), stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("send persistent message: %v", err)
	}
	_ = c.Disconnect()

	e.Ctl(t, master, "kill9")
	start := time.Now()
	c = dialUntil(t, e.Addr(slave), "/", 60*time.Second)
	defer c.Disconnect()
	t.Logf("slave %s answered CONNECT %v after kill -9 of %s", slave, time.Since(start).Round(time.Millisecond), master)

	sub, err := c.Subscribe(queue, stomp.AckAuto)
	if err != nil {
		t.Fatalf("subscribe on new master: %v", err)
	}
	select {
	case m := <-sub.C:
		if m.Err != nil {
			t.Fatalf("receive on new master: %v", m.Err)
		}
		if string(m.Body) != body {
			t.Fatalf("got %q from new master, want %q", m.Body, body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("persistent message not delivered by the new master within 30s")
	}
	_ = sub.Unsubscribe()

	// The ex-master comes back as the new slave: it waits for the lock and
	// keeps its port closed.
	e.Ctl(t, master, "start")
	e.Ctl(t, master, "wait-slave", "60")
	if c2, err := dial(e.Addr(master), "/", 2*time.Second); err == nil {
		_ = c2.Disconnect()
		t.Fatalf("restarted %s answered CONNECT while %s holds the lock", master, slave)
	}
}

// TestRabbitHostHeader proves the RabbitMQ pitfall of BROKERS.md: the STOMP
// host header is the virtual host, so host:/ works and the dialled IP
// (go-stomp's default) is refused.
func TestRabbitHostHeader(t *testing.T) {
	e := Require(t, Rabbit1, Rabbit2)
	for _, name := range []string{Rabbit1, Rabbit2} {
		t.Run(name, func(t *testing.T) {
			addr := e.Addr(name)
			c := dialUntil(t, addr, "/", 30*time.Second)
			queue := fmt.Sprintf("/queue/stompft.brokers.%s.%d", name, time.Now().UnixNano())
			sub, err := c.Subscribe(queue, stomp.AckAuto)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Send(queue, "text/plain", []byte("hello "+name)); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-sub.C:
				if m.Err != nil || string(m.Body) != "hello "+name {
					t.Fatalf("got %q, %v", m.Body, m.Err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no message within 30s")
			}
			_ = sub.Unsubscribe()
			_ = c.Disconnect()

			host, _, _ := net.SplitHostPort(addr)
			if c, err := dial(addr, host, 10*time.Second); err == nil {
				_ = c.Disconnect()
				t.Fatalf("CONNECT with host:%s accepted; RabbitMQ should refuse a non-vhost", host)
			}
		})
	}
}

// LockPair is the lock a test takes for either pair member.
func TestLockPairIsThePairTestLock(t *testing.T) {
	e := &Env{vars: map[string]string{"STOMPFT_BROKERS_DIR": t.TempDir()}}
	unlock, err := e.LockPair(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lock(AMQMaster, 100*time.Millisecond); err == nil {
		t.Fatal("a test's pair lock was taken while LockPair held it")
	}
	unlock()
}

// TestRabbitClusterIsOneCluster proves what up.sh promises of rabbitc1..3:
// one cluster, so a quorum queue declared on one node takes a message sent
// through a second and delivers it through the third.
func TestRabbitClusterIsOneCluster(t *testing.T) {
	e := Require(t, Cluster...)
	name := fmt.Sprintf("stompft.brokers.cluster.%d", time.Now().UnixNano())
	declare := dialUntil(t, e.Addr(RabbitC1), "/", 30*time.Second)
	defer declare.Disconnect()
	// Declared by SUBSCRIBE (RabbitMQ passes x-queue-type on), then
	// unsubscribed: the durable queue stays.
	s, err := declare.Subscribe("/queue/"+name, stomp.AckClientIndividual,
		stomp.SubscribeOpt.Header("x-queue-type", "quorum"), stomp.SubscribeOpt.Header("durable", "true"),
		stomp.SubscribeOpt.Header("auto-delete", "false"))
	if err != nil {
		t.Fatal(err)
	}
	// RabbitMQ handles a connection's frames in order: this receipt means
	// the SUBSCRIBE (and the declaration) is done.
	if err := declare.Send("/topic/stompft.brokers.barrier", "text/plain", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if out := e.Ctl(t, RabbitC2, "queues"); !strings.Contains(out, name+"\tquorum") {
		t.Fatalf("rabbitc2 does not list %s as a quorum queue:\n%s", name, out)
	}
	_ = s.Unsubscribe()
	// /amq/queue/NAME sends to the existing queue without declaring it
	// again (a SEND to /queue/NAME would, with other arguments: refused).
	p := dialUntil(t, e.Addr(RabbitC2), "/", 30*time.Second)
	defer p.Disconnect()
	if err := p.Send("/amq/queue/"+name, "text/plain", []byte("across the cluster"), stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("send through rabbitc2: %v", err)
	}
	c := dialUntil(t, e.Addr(RabbitC3), "/", 30*time.Second)
	defer c.Disconnect()
	sub, err := c.Subscribe("/amq/queue/"+name, stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C:
		if m.Err != nil || string(m.Body) != "across the cluster" {
			t.Fatalf("got %q, %v from rabbitc3", m.Body, m.Err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no message through rabbitc3 within 30s")
	}
}
