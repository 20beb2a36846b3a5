package integration

import (
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
)

func TestZZDebugDowntime(t *testing.T) {
	for i := 0; i < 20; i++ {
		b := broker(t, embedded.Options{HeartBeat: 200 * time.Millisecond})
		p := proxy(t, b.Addr())
		rec := newRecorder()
		f, _ := load(t, section("Test", proxyURL(p),
			"heartbeat = 200,200", "heartbeat_grace = 2",
			"reconnect_attempt_count = 20", "reconnect_attempt_delay = 50", "reconnect_attempt_timeout = 2000",
			"reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0"))
		c := connect(t, f, "Test", waitLimit, rec.option())
		sub, _ := c.Subscribe("/queue/a", stomp.AckAuto)
		c.Send("/queue/a", "", []byte("x"), stomp.SendOpt.Receipt)
		receive(t, sub, waitLimit)
		p.BlackholeAll()
		e, _ := rec.wait(t, factory.EventReconnected, 0, waitLimit)
		if e.Downtime > time.Minute {
			for _, e := range rec.events {
				t.Logf("%v %s down=%v err=%v", e.Kind, e.Time.Format("05.000"), e.Downtime, e.Err)
			}
		}
		c.Close()
	}
}
