package session

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// STOMP 1.2: CONNECT header values are not escaped. A passcode "pa:ss" and
// a login "dom\user" go on the wire as written (go-stomp's writer escaped
// them to "pa\css" and "dom\\user", which a broker following the spec
// compares as other credentials). A line break cannot be carried at all and
// is refused before anything is written.
func TestConnectHeadersAreNotEscaped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		raw, _ := bufio.NewReader(nc).ReadString(0)
		got <- raw
		_, _ = nc.Write([]byte("CONNECTED\nversion:1.2\n\n\x00"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Connect(ctx, nc, Config{Login: `dom\user`, Passcode: "pa:ss"}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw := <-got
	for _, want := range []string{"\nlogin:dom\\user\n", "\npasscode:pa:ss\n"} {
		if !strings.Contains(raw, want) {
			t.Errorf("CONNECT on the wire lacks %q:\n%q", want, raw)
		}
	}

	nc2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Connect(ctx, nc2, Config{Login: "u", Passcode: "two\nlines"}, Callbacks{}); err == nil || strings.Contains(err.Error(), "two") {
		t.Fatalf("a passcode with a line break: %v", err)
	}
}
