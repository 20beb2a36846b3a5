package faultproxy_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/stompft/stompft/tests/faultproxy"
)

// A proxy in front of an echo server: forward, then refuse new dials, then
// reset the open connection.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() { // echo server: one connection is enough here
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()

	p, err := faultproxy.New(ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("ping"))
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	fmt.Printf("forwarded: %s %v\n", buf, err)

	_ = p.SetMode(faultproxy.Refuse)
	_, err = net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	fmt.Println("refused:", errors.Is(err, syscall.ECONNREFUSED))

	p.CutAll()
	_, err = c.Read(buf)
	fmt.Println("reset:", errors.Is(err, syscall.ECONNRESET))
	// Output:
	// forwarded: ping <nil>
	// refused: true
	// reset: true
}
