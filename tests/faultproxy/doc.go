// Package faultproxy is a TCP proxy for tests that injects network faults
// between a STOMP client and a broker (or any TCP server), on loopback.
//
// # Use
//
// New listens on 127.0.0.1:0 and forwards every accepted connection to the
// target; the client dials [Proxy.Addr] instead of the broker. Close stops
// the listener, every connection and every goroutine.
//
//	p, err := faultproxy.New(brokerAddr)
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer p.Close()
//	conn, err := stomp.Dial("tcp", p.Addr(), stomp.ConnOpt.Host("/"))
//	...
//	p.CutAll()                       // a crash: every open connection gets a RST
//	_ = p.SetMode(faultproxy.Refuse) // and new dials are refused
//
// # Faults on new connections
//
// [Proxy.SetMode] (which, unlike the first proposal, returns an error: leaving
// Refuse must listen again on the same port) decides what happens to connections accepted from then on:
// [Forward] (the default), [Refuse] (no listener: dials get ECONNREFUSED),
// [Blackhole] (accepted, nothing forwarded, nothing read), [AcceptNoAnswer]
// (accepted, read and discarded, never answered: a hung broker) and [Drop]
// (accepted then closed at once). [Proxy.CutAfter] makes forwarded
// connections break with a RST after n bytes from the server (a partial
// frame). [Proxy.SetDelay] delays every server→client chunk.
//
// # Faults on existing connections
//
// [Proxy.CutAll] resets every open connection (both sides get a RST).
// [Proxy.BlackholeAll] silently stops forwarding on every open connection
// while keeping the sockets open, like a network partition: only heart-beats
// or timeouts can detect it. SetDelay also applies to open connections.
//
// # Observing
//
// [Proxy.Conns] is the number of open client connections, [Proxy.Accepted]
// the number ever accepted. Wait on them with a deadline, never a sleep.
package faultproxy
