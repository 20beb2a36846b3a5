package brokers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// EnableVar is the environment variable that turns real-broker tests on
// (value "1"); tests/run.sh sets it after up.sh succeeded.
const EnableVar = "STOMPFT_REAL_BROKERS"

// Broker names, as used by ctl.sh, [Env.Addr] and [Require].
const (
	AMQMaster = "amq-master"
	AMQSlave  = "amq-slave"
	AMQ1      = "amq1"
	AMQ2      = "amq2"
	Rabbit1   = "rabbit1"
	Rabbit2   = "rabbit2"
	// RabbitC1, RabbitC2 and RabbitC3 are the three nodes of one RabbitMQ
	// cluster (joined with rabbitmqctl join_cluster; quorum queues work).
	RabbitC1 = "rabbitc1"
	RabbitC2 = "rabbitc2"
	RabbitC3 = "rabbitc3"
)

// Cluster lists the RabbitMQ cluster's nodes, in order.
var Cluster = []string{RabbitC1, RabbitC2, RabbitC3}

// addrVars maps a broker name to the variable holding its STOMP address.
var addrVars = map[string]string{
	AMQMaster: "STOMPFT_AMQ_MASTER",
	AMQSlave:  "STOMPFT_AMQ_SLAVE",
	AMQ1:      "STOMPFT_AMQ1",
	AMQ2:      "STOMPFT_AMQ2",
	Rabbit1:   "STOMPFT_RABBIT1",
	Rabbit2:   "STOMPFT_RABBIT2",
	RabbitC1:  "STOMPFT_RABBITC1",
	RabbitC2:  "STOMPFT_RABBITC2",
	RabbitC3:  "STOMPFT_RABBITC3",
}

// Errors of [Load] and [ParseEnv].
var (
	ErrNotStarted = errors.New("brokers: real brokers not running: run tests/brokers/up.sh (or bash tests/run.sh)")
	ErrBadEnvLine = errors.New("brokers: bad line in env file")
)

// SkipReason is the message of a test skipped because brokers are absent.
const SkipReason = "real brokers not running: run tests/brokers/up.sh (or bash tests/run.sh)"

// Env is the set of running brokers: their addresses and how to control them.
type Env struct {
	vars map[string]string
}

// ParseEnv reads the shell file written by up.sh: lines
// `export NAME="value"`, blank lines and # comments.
func ParseEnv(r io.Reader) (*Env, error) {
	e := &Env{vars: map[string]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\"'") {
			return nil, fmt.Errorf("%w %d: %q", ErrBadEnvLine, n, line)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			if v[len(v)-1] != v[0] {
				return nil, fmt.Errorf("%w %d: unterminated quote", ErrBadEnvLine, n)
			}
			v = v[1 : len(v)-1]
		}
		e.vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("brokers: read env file: %w", err)
	}
	return e, nil
}

// EnvFile returns where up.sh writes its env file: $STOMPFT_BROKERS_DIR/env,
// else tests/.brokers/env of the module holding this package.
func EnvFile() string {
	if d := os.Getenv("STOMPFT_BROKERS_DIR"); d != "" {
		return filepath.Join(d, "env")
	}
	return filepath.Join(repoRoot(), "tests", ".brokers", "env")
}

// repoRoot finds the module root: up from the working directory to go.mod,
// else from this source file's directory (go test runs in the package dir).
func repoRoot() string {
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return d
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		return filepath.Join(filepath.Dir(file), "..", "..")
	}
	return "."
}

// Enabled tells whether real-broker tests should run: [EnableVar] is "1" or
// the env file exists.
func Enabled() bool {
	if os.Getenv(EnableVar) == "1" {
		return true
	}
	_, err := os.Stat(EnvFile())
	return err == nil
}

// Load reads the env file; STOMPFT_* variables already in the process
// environment take precedence. It returns [ErrNotStarted] when neither the
// file nor the variables exist.
func Load() (*Env, error) {
	e := &Env{vars: map[string]string{}}
	f, err := os.Open(EnvFile())
	switch {
	case err == nil:
		defer f.Close()
		if e, err = ParseEnv(f); err != nil {
			return nil, err
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("brokers: %w", err)
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "STOMPFT_") {
			e.vars[k] = v
		}
	}
	if e.vars["STOMPFT_AMQ_PAIR"] == "" && e.vars["STOMPFT_AMQ1"] == "" {
		return nil, ErrNotStarted
	}
	return e, nil
}

// Require returns the running brokers, or ends the test: skipped with
// [SkipReason] when real brokers are not enabled, failed when they are
// enabled (STOMPFT_REAL_BROKERS=1) but missing. It locks each named broker
// for this test (see the package doc) and restarts one found dead.
func Require(t testing.TB, names ...string) *Env {
	t.Helper()
	if !Enabled() {
		t.Skip(SkipReason)
	}
	e, err := Load()
	if err != nil {
		if os.Getenv(EnableVar) == "1" {
			t.Fatalf("%s=1 but: %v", EnableVar, err)
		}
		t.Skipf("%s (%v)", SkipReason, err)
	}
	for _, n := range names {
		if e.Addr(n) == "" {
			t.Fatalf("brokers: unknown broker %q (or no address in %s)", n, EnvFile())
		}
	}
	locked := map[string]bool{}
	for _, n := range names {
		// The pair is one resource: both names share one lock.
		if n == AMQSlave {
			n = AMQMaster
		}
		if locked[n] {
			continue
		}
		locked[n] = true
		unlock, err := e.lock(n, 10*time.Minute)
		if err != nil {
			t.Fatalf("brokers: lock %s: %v", n, err)
		}
		t.Cleanup(unlock)
	}
	e.heal(t, names)
	return e
}

// Addr returns the STOMP address ("127.0.0.1:61713") of a broker by name,
// or "" for an unknown name.
func (e *Env) Addr(name string) string {
	return e.vars[addrVars[name]]
}

// PairAddrs returns the two addresses of the ActiveMQ pair, master instance
// first, as written in STOMPFT_AMQ_PAIR.
func (e *Env) PairAddrs() []string {
	if v := e.vars["STOMPFT_AMQ_PAIR"]; v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// Dir is the brokers' private directory (tests/.brokers), where each broker
// keeps its logs under <name>/.
func (e *Env) Dir() string {
	if d := e.vars["STOMPFT_BROKERS_DIR"]; d != "" {
		return d
	}
	return filepath.Dir(EnvFile())
}

func (e *Env) ctlPath() string {
	if c := e.vars["STOMPFT_BROKERS_CTL"]; c != "" {
		return c
	}
	return filepath.Join(repoRoot(), "tests", "brokers", "ctl.sh")
}

// ctlTimeout bounds one ctl.sh call: its own wait (wait-up/wait-slave
// SECONDS, default 60) plus a margin, or 60 s for the other actions.
func ctlTimeout(action string, args []string) time.Duration {
	wait := 60 * time.Second
	if (action == "wait-up" || action == "wait-slave" || action == "wait-cluster") && len(args) > 0 {
		if s, err := strconv.Atoi(args[0]); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
	}
	return wait + 30*time.Second
}

// CtlErr runs `ctl.sh name action args...` with a bounded timeout and
// returns its combined output. Unlike [Env.Ctl] it may be called from any
// goroutine.
func (e *Env) CtlErr(name, action string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout(action, args))
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{e.ctlPath(), name, action}, args...)...)
	// The env file's settings (directory, ports) win over the process's,
	// so ctl.sh acts on the brokers this Env describes.
	cmd.Env = os.Environ()
	for k, v := range e.vars {
		if strings.HasPrefix(k, "STOMPFT_") {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	// Started brokers write to their own logs; this only guards against a
	// child keeping our pipes open.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("brokers: ctl.sh %s %s %s: %w", name, action, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// Ctl runs `ctl.sh name action args...` (kill9, stop, start, freeze, thaw,
// wait-up [SEC], wait-slave [SEC], wait-cluster [SEC], queues, pid) and
// fails the test if it fails.
// Call it from the test goroutine only (it may call t.Fatal).
func (e *Env) Ctl(t testing.TB, name, action string, args ...string) string {
	t.Helper()
	out, err := e.CtlErr(name, action, args...)
	t.Logf("ctl.sh %s %s %s: %s", name, action, strings.Join(args, " "), strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// running tells whether the broker's recorded PID is a live process.
func (e *Env) running(name string) bool {
	b, err := os.ReadFile(filepath.Join(e.Dir(), "pids", name+".pid"))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3 (after "pid (comm)") is the state; Z is a zombie.
	if i := strings.LastIndexByte(string(st), ')'); i >= 0 && i+2 < len(st) {
		return st[i+2] != 'Z' && st[i+2] != 'X'
	}
	return false
}

// heal restarts named brokers an earlier test left dead, and waits until
// they answer (for the pair: until one of the two answers; for a cluster
// node: until it has rejoined).
func (e *Env) heal(t testing.TB, names []string) {
	t.Helper()
	pair := false
	for _, n := range names {
		if n == AMQMaster || n == AMQSlave {
			pair = true
			continue
		}
		if !e.running(n) {
			t.Logf("brokers: %s found dead: restarting it", n)
			e.Ctl(t, n, "start")
			if slices.Contains(Cluster, n) {
				e.Ctl(t, n, "wait-cluster", "120")
			} else {
				e.Ctl(t, n, "wait-up", "120")
			}
		}
	}
	if !pair {
		return
	}
	var restarted []string
	for _, n := range []string{AMQMaster, AMQSlave} {
		if !e.running(n) {
			t.Logf("brokers: %s found dead: restarting it", n)
			e.Ctl(t, n, "start")
			restarted = append(restarted, n)
		}
	}
	// One of the two holds the lock; the restarted one (if alone) becomes
	// the slave. Wait until the current master answers.
	if len(restarted) > 0 {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if _, err := e.CtlErr(AMQMaster, "wait-up", "2"); err == nil {
				break
			}
			if _, err := e.CtlErr(AMQSlave, "wait-up", "2"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("brokers: neither pair instance answers STOMP CONNECT after 2 minutes")
			}
		}
	}
}

// Lock takes the lock tests hold while they use the named broker (see
// [Require]), so that a program outside the tests (the bench) can freeze or
// crash it without pulling it from under a test; it waits up to timeout.
// Both pair names take the pair's one lock.
func (e *Env) Lock(name string, timeout time.Duration) (unlock func(), err error) {
	if name == AMQSlave {
		name = AMQMaster
	}
	return e.lock(name, timeout)
}

// LockPair takes the lock tests hold while they use the ActiveMQ pair, so
// that a program outside the tests (the bench) can crash the pair without
// pulling it from under a test; it waits up to timeout.
func (e *Env) LockPair(timeout time.Duration) (unlock func(), err error) {
	return e.lock(AMQMaster, timeout)
}

// lock takes an exclusive flock on tests/.brokers/locks/<name>.lock, polling
// until timeout, and returns its release function.
func (e *Env) lock(name string, timeout time.Duration) (func(), error) {
	dir := filepath.Join(e.Dir(), "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("held by another test for %v: %w", timeout, err)
		}
		// Test helper, not library code: a short poll is the simple way to
		// bound a flock wait.
		time.Sleep(50 * time.Millisecond)
	}
}

// Dial connects to a STOMP broker with every wait bounded by timeout: the
// TCP dial and the CONNECT/CONNECTED exchange (go-stomp's own Dial has no
// timeout). host is the STOMP host header: "/" for RabbitMQ.
func Dial(addr, host string, timeout time.Duration) (*stomp.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c, err := stomp.ConnectWithContext(ctx, nc, stomp.ConnOpt.Host(host), stomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// PairMaster returns which pair instance holds the KahaDB lock now (its
// STOMP port answers) and the other one. After fault tests it may be either.
// It fails the test if neither answers within a minute.
func (e *Env) PairMaster(t testing.TB) (master, slave string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, m := range []string{AMQMaster, AMQSlave} {
			if c, err := Dial(e.Addr(m), "/", 2*time.Second); err == nil {
				_ = c.Disconnect()
				if m == AMQMaster {
					return AMQMaster, AMQSlave
				}
				return AMQSlave, AMQMaster
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("brokers: neither ActiveMQ pair instance answers STOMP CONNECT")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
