package hostile_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/leakcheck"
)

// activeMQBeats answers CONNECT with heart-beat:every,every and then beats
// as ActiveMQ's write checker does: every interval it sends a beat unless it
// wrote a frame since the last check, so after any frame (CONNECTED
// included) the next beat comes two intervals later. Every third check it
// sends a MESSAGE. When freeze is closed it goes silent without closing the
// connection (a SIGSTOPped broker) and reports when.
func activeMQBeats(every time.Duration, freeze <-chan struct{}, frozen chan<- time.Time) func(net.Conn, *frame.Reader) {
	return func(nc net.Conn, _ *frame.Reader) {
		w := frame.NewWriter(nc)
		ms := fmt.Sprint(every.Milliseconds())
		if err := w.Write(frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, ms+","+ms)); err != nil {
			return
		}
		drained := make(chan struct{})
		go func() { drain(nc); close(drained) }()
		wroteFrame := true
		tk := time.NewTicker(every)
		defer tk.Stop()
		for i := 1; ; i++ {
			select {
			case <-freeze:
				frozen <- time.Now()
				<-drained
				return
			case <-drained:
				return
			case <-tk.C:
			}
			var err error
			switch {
			case wroteFrame:
				wroteFrame = false
			case i%3 == 0:
				err = w.Write(frame.New(frame.MESSAGE, frame.Destination, "/queue/none", frame.MessageId, fmt.Sprint(i), frame.Subscription, "none"))
				wroteFrame = true
			default:
				err = w.Write(nil)
			}
			if err != nil {
				return
			}
		}
	}
}

// With the default heartbeat_grace and heartbeat = 400,400, a broker that
// beats like ActiveMQ (gaps of two intervals) causes no disconnect; once it
// freezes, the loss is seen within the stated bound, interval ×
// heartbeat_grace (plus scheduling slack).
func TestActiveMQStyleHeartbeatsCauseNoFalseDisconnect(t *testing.T) {
	leakcheck.Check(t)
	const every = 400 * time.Millisecond // wide enough that scheduling delays on a busy machine stay far inside the margin
	freeze := make(chan struct{})
	frozen := make(chan time.Time, 1)
	addr := hostileServer(t, activeMQBeats(every, freeze, frozen))
	conf := fmt.Sprintf("[H]\ntype = generic\nurl = tcp://%s\nheartbeat = 400,400\nreconnect_attempt_count = 1\nreconnect_attempt_delay = 250ms\n", addr)
	cfg, err := confparse.Parse("hb.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.Factories[0].HeartBeatGrace; g != confparse.DefaultHeartBeatGrace {
		t.Fatalf("grace %v", g)
	}
	f, err := factory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lost := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := f.CreateConnectionContext(ctx, "H", factory.WithEventHandler(func(e factory.Event) {
		if e.Kind == factory.EventDisconnected {
			select {
			case lost <- e.Err:
			default:
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-lost:
		t.Fatalf("false disconnect: %v", err)
	case <-time.After(10 * every):
	}
	close(freeze)
	at := <-frozen
	bound := time.Duration(float64(every) * confparse.DefaultHeartBeatGrace)
	select {
	case err := <-lost:
		d := time.Since(at)
		t.Logf("frozen broker detected after %v (bound %v + slack)", d.Round(time.Millisecond), bound)
		if !strings.Contains(err.Error(), "heart-beat") {
			t.Errorf("cause %v", err)
		}
		if d > bound+500*time.Millisecond { // scheduling slack under -race on a loaded machine
			t.Errorf("detected after %v, bound %v", d, bound)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("frozen broker not detected")
	}
}
