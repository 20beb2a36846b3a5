package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-stomp/stomp/v3/server"
)

// The broker host is a second process (this binary with -serve-brokers)
// so that the brokers' CPU, heap and RSS are counted apart from the
// client's. It reads one command per line on stdin and answers one line,
// "ok ..." or "err ...", on stdout:
//
//	start NAME tcp|tls BACKLOG [ADDR]
//	                             listen on ADDR, default 127.0.0.1:0 (BACKLOG 0 = the
//	                             system default); answers the address
//	kill NAME                    close the listener and reset (RST) every connection;
//	                             answers the wall-clock time the resets were done, in Unix ns
//	mark                         start the accept timeline at now
//	accepts NAME                 accept times since mark, in µs, comma-separated
//	conns NAME                   open connections
//	cpu                          the process's user+system CPU, in ns
//	quit                         exit

// hostBroker is one go-stomp server on a listener this process controls.
type hostBroker struct {
	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	accepts []time.Duration
	mark    *time.Time
}

// trackLn records every accepted TCP connection (below TLS) so that kill
// can reset it, and the accept times.
type trackLn struct {
	net.Listener
	b *hostBroker
}

func (l trackLn) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
				// EMFILE and friends: go-stomp's server would give up for good.
				<-time.After(5 * time.Millisecond)
				continue
			}
			return nil, err
		}
		l.b.mu.Lock()
		l.b.conns[c] = struct{}{}
		if l.b.mark != nil {
			l.b.accepts = append(l.b.accepts, time.Since(*l.b.mark))
		}
		l.b.mu.Unlock()
		return &trackedConn{Conn: c, b: l.b}, nil
	}
}

type trackedConn struct {
	net.Conn
	b *hostBroker
}

func (c *trackedConn) Close() error {
	c.b.mu.Lock()
	delete(c.b.conns, c.Conn)
	c.b.mu.Unlock()
	return c.Conn.Close()
}

// listen listens on addr (a restarted broker takes its old port back: a
// moment after its listener closed the port can still be busy, so retry
// briefly).
func listen(addr string, backlog int) (net.Listener, error) {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		ln, err = listenBacklog(addr, backlog)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		<-time.After(20 * time.Millisecond)
	}
	return ln, err
}

// listenBacklog listens on addr (an IPv4 host:port) with an explicit
// accept-queue length: net.Listen always uses net.core.somaxconn.
func listenBacklog(addr string, backlog int) (net.Listener, error) {
	if backlog <= 0 {
		return net.Listen("tcp", addr)
	}
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("bind: %w", err)
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("listen: %w", err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close()
	return net.FileListener(f)
}

// serveBrokers is the child's main loop.
func serveBrokers(in io.Reader, out io.Writer, certFile, keyFile string) error {
	raiseNoFile()
	brokers := map[string]*hostBroker{}
	var tlsCfg *tls.Config
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	w := bufio.NewWriter(out)
	reply := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\n", args...)
		_ = w.Flush()
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		get := func() *hostBroker {
			if len(f) < 2 || brokers[f[1]] == nil {
				reply("err unknown broker")
				return nil
			}
			return brokers[f[1]]
		}
		switch f[0] {
		case "start":
			if len(f) != 4 && len(f) != 5 {
				reply("err usage: start NAME tcp|tls BACKLOG [ADDR]")
				continue
			}
			backlog, _ := strconv.Atoi(f[3])
			addr := "127.0.0.1:0"
			if len(f) == 5 {
				addr = f[4]
			}
			ln, err := listen(addr, backlog)
			if err != nil {
				reply("err %v", err)
				continue
			}
			b := &hostBroker{conns: map[net.Conn]struct{}{}}
			b.ln = ln
			var sl net.Listener = trackLn{Listener: ln, b: b}
			if f[2] == "tls" {
				if tlsCfg == nil {
					reply("err no certificate")
					continue
				}
				sl = tls.NewListener(sl, tlsCfg)
			}
			brokers[f[1]] = b
			srv := &server.Server{Log: quiet{}}
			go func() { _ = srv.Serve(sl) }()
			reply("ok %s", ln.Addr())
		case "kill":
			if b := get(); b != nil {
				reply("ok %d", b.kill().UnixNano())
			}
		case "mark":
			now := time.Now()
			for _, b := range brokers {
				b.mu.Lock()
				b.mark = &now
				b.accepts = nil
				b.mu.Unlock()
			}
			reply("ok")
		case "accepts":
			if b := get(); b != nil {
				b.mu.Lock()
				parts := make([]string, len(b.accepts))
				for i, d := range b.accepts {
					parts[i] = strconv.FormatInt(d.Microseconds(), 10)
				}
				b.mu.Unlock()
				reply("ok %s", strings.Join(parts, ","))
			}
		case "conns":
			if b := get(); b != nil {
				b.mu.Lock()
				n := len(b.conns)
				b.mu.Unlock()
				reply("ok %d", n)
			}
		case "cpu":
			reply("ok %d", int64(processCPU()))
		case "quit":
			reply("ok")
			return nil
		default:
			reply("err unknown command %q", f[0])
		}
	}
	return sc.Err()
}

// kill crashes the broker and returns the moment its connections were reset.
func (b *hostBroker) kill() time.Time {
	_ = b.ln.Close()
	b.mu.Lock()
	conns := make([]net.Conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		// Returns once the socket is closed: the RST is out, and the
		// server can neither read nor answer on it any more.
		_ = c.Close()
	}
	return time.Now()
}

// quiet silences go-stomp's server.
type quiet struct{}

func (quiet) Debugf(string, ...interface{})   {}
func (quiet) Debug(string)                    {}
func (quiet) Infof(string, ...interface{})    {}
func (quiet) Info(string)                     {}
func (quiet) Warningf(string, ...interface{}) {}
func (quiet) Warning(string)                  {}
func (quiet) Errorf(string, ...interface{})   {}
func (quiet) Error(string)                    {}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseNoFile lifts the open-file limit to its hard maximum: a storm holds
// thousands of sockets.
func raiseNoFile() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}

// host is the parent's handle on a broker host: a child process, or the
// same loop in this process (cmd nil, done closed when the loop ends).
type host struct {
	cmd  *exec.Cmd
	done chan struct{}
	in   io.WriteCloser
	out  *bufio.Scanner
	mu   sync.Mutex
}

// startHostInProcess runs the broker host's loop in this process, over
// pipes: the brokers share the client's heap and Go scheduler, as they do
// in an application's own tests.
func startHostInProcess() *host {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := serveBrokers(inR, outW, "", "")
		_ = outW.CloseWithError(err)
		_ = inR.Close()
	}()
	sc := bufio.NewScanner(outR)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	return &host{done: done, in: inW, out: sc}
}

// startHost re-executes this binary as a broker host.
func startHost(certFile, keyFile string) (*host, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-serve-brokers"}
	if certFile != "" {
		args = append(args, "-cert", certFile, "-key", keyFile)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(outp)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	return &host{cmd: cmd, in: in, out: sc}, nil
}

// do sends one command and returns the text after "ok ".
func (h *host) do(format string, args ...any) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cmd := fmt.Sprintf(format, args...)
	if _, err := fmt.Fprintln(h.in, cmd); err != nil {
		return "", fmt.Errorf("broker host: %s: %w", cmd, err)
	}
	if !h.out.Scan() {
		return "", fmt.Errorf("broker host: %s: no answer (%v)", cmd, h.out.Err())
	}
	line := h.out.Text()
	if rest, ok := strings.CutPrefix(line, "ok"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", fmt.Errorf("broker host: %s: %s", cmd, line)
}

// start starts a broker and returns its address.
func (h *host) start(name, kind string, backlog int) (string, error) {
	return h.do("start %s %s %d", name, kind, backlog)
}

// restart listens again on a killed broker's address.
func (h *host) restart(name, addr string) error {
	_, err := h.do("start %s tcp 0 %s", name, addr)
	return err
}

// kill crashes a broker and returns when its connections were reset.
func (h *host) kill(name string) (time.Time, error) {
	s, err := h.do("kill %s", name)
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("broker host: kill %s: %q", name, s)
	}
	// Wall-clock time: the host's monotonic clock is not ours.
	return time.Unix(0, ns), nil
}

// conns is a broker's count of open connections.
func (h *host) conns(name string) (int, error) {
	s, err := h.do("conns %s", name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

// cpu returns the host's CPU time so far.
func (h *host) cpu() (time.Duration, error) {
	s, err := h.do("cpu")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return time.Duration(n), err
}

// acceptTimes returns the accept times since the last mark.
func (h *host) acceptTimes(name string) ([]time.Duration, error) {
	s, err := h.do("accepts %s", name)
	if err != nil || s == "" {
		return nil, err
	}
	parts := strings.Split(s, ",")
	out := make([]time.Duration, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, time.Duration(n)*time.Microsecond)
	}
	return out, nil
}

// close stops the child (it exits on quit or when stdin closes), or the
// in-process loop. The in-process brokers' go-stomp servers keep a
// goroutine each (their Serve never returns): the bench is a command, so
// they end with it.
func (h *host) close() {
	_, _ = h.do("quit")
	_ = h.in.Close()
	if h.cmd == nil {
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
		}
		return
	}
	done := make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = h.cmd.Process.Kill()
		<-done
	}
}
