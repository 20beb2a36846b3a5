package main

import (
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/stompft/stompft/factory"
)

func TestProbeLatency(t *testing.T) {
	p, err := newEmbeddedPair()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	a := p.addrs()
	f, err := newFactory("tcp://"+a[0]+",tcp://"+a[1], "connect_attempt_count = 1", "reconnect_attempt_count = -1", "reconnect_attempt_delay = 0", "reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0")
	if err != nil {
		t.Fatal(err)
	}
	var t0 time.Time
	c, err := f.CreateConnection("Bench", factory.WithEventHandler(func(e factory.Event) {
		t.Logf("%v %v %v attempt=%d delay=%v err=%v", time.Since(t0), e.Kind, e.URL, e.Attempt, e.Delay, e.Err)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		_ = c.Send(latDest, "", []byte("x"), stomp.SendOpt.Receipt)
		oc := &ourClient{a: a, conn: c}
		k := oc.current()
		t0 = time.Now()
		p.kill(k)
		t.Logf("%v killed", time.Since(t0))
		err := c.Send(latDest, "", []byte("x"), stomp.SendOpt.Receipt)
		t.Logf("%v sent %v", time.Since(t0), err)
		p.restore(k)
		time.Sleep(50 * time.Millisecond)
	}
}
