// Command probe tells whether a STOMP broker is really up: it dials the
// address, sends CONNECT and waits for CONNECTED, retrying until -timeout.
// A TCP connect alone is not enough (a frozen or starting broker accepts TCP
// and never answers), so only a CONNECTED frame counts.
//
// Usage:
//
//	go run ./tests/brokers/probe -addr 127.0.0.1:61713 [-host /] [-timeout 30s]
//
// It prints the CONNECTED frame's headers and exits 0, or prints the last
// error and exits 1. The passcode is never printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

func main() {
	addr := flag.String("addr", "", "broker address host:port (loopback only)")
	host := flag.String("host", "/", "STOMP host header (RabbitMQ: the virtual host)")
	login := flag.String("login", "", "STOMP login (optional)")
	passcode := flag.String("passcode", "", "STOMP passcode (optional, never printed)")
	timeout := flag.Duration("timeout", 30*time.Second, "total time to keep trying")
	attempt := flag.Duration("attempt", 3*time.Second, "time allowed to one dial+CONNECT")
	quiet := flag.Bool("q", false, "print nothing on success")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "probe: -addr is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	f, err := waitConnected(ctx, *addr, *host, *login, *passcode, *attempt)
	if err != nil {
		fmt.Fprintf(os.Stderr, "probe %s: not up after %v: %v\n", *addr, *timeout, err)
		os.Exit(1)
	}
	if !*quiet {
		fmt.Printf("probe %s: CONNECTED", *addr)
		for i := 0; i < f.Header.Len(); i++ {
			k, v := f.Header.GetAt(i)
			fmt.Printf(" %s:%s", k, v)
		}
		fmt.Println()
	}
}

// waitConnected retries connectOnce until it succeeds or ctx ends, with a
// short pause between attempts so a closed port is not hammered.
func waitConnected(ctx context.Context, addr, host, login, passcode string, attempt time.Duration) (*frame.Frame, error) {
	var last error
	for {
		actx, cancel := context.WithTimeout(ctx, attempt)
		f, err := connectOnce(actx, addr, host, login, passcode)
		cancel()
		if err == nil {
			return f, nil
		}
		last = err
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			if last == nil {
				last = ctx.Err()
			}
			return nil, last
		case <-t.C:
		}
	}
}

// connectOnce dials, sends one CONNECT and reads one frame (skipping
// heart-beats). Only CONNECTED is success; ERROR is reported with its message.
func connectOnce(ctx context.Context, addr, host, login, passcode string) (*frame.Frame, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	hdr := []string{frame.AcceptVersion, "1.0,1.1,1.2", frame.Host, host, frame.HeartBeat, "0,0"}
	if login != "" {
		hdr = append(hdr, frame.Login, login, frame.Passcode, passcode)
	}
	if err := frame.NewWriter(c).Write(frame.New(frame.CONNECT, hdr...)); err != nil {
		return nil, fmt.Errorf("send CONNECT: %w", err)
	}
	r := frame.NewReader(c)
	for {
		f, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("wait CONNECTED: %w", err)
		}
		if f == nil { // heart-beat
			continue
		}
		switch f.Command {
		case frame.CONNECTED:
			// Polite goodbye so the broker logs no abrupt disconnect.
			_ = frame.NewWriter(c).Write(frame.New(frame.DISCONNECT))
			return f, nil
		case frame.ERROR:
			return nil, errors.New("ERROR frame: " + f.Header.Get(frame.Message))
		default:
			return nil, fmt.Errorf("unexpected %s frame", f.Command)
		}
	}
}
