package factory

import (
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stompft/stompft/internal/embedded"
)

// goroutinesRunning returns the ids of the goroutines whose stack holds fn.
func goroutinesRunning(fn string) []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ids []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			ids = append(ids, regexp.MustCompile(`^goroutine (\d+)`).FindStringSubmatch(g)[1])
		}
	}
	return ids
}

// The goroutine that dialled a session reads it, and once it is lost walks
// to the next: failovers start no goroutine and grow no new stack.
func TestFailoversReuseOneWalkerGoroutine(t *testing.T) {
	verifyNoLeaks(t)
	primary, backup := pair(t)
	rec := newRecorder()
	f := load(t, conf(primary.URL()+","+backup.URL(), fastReconnect...))
	c := connect(t, f, rec.option())
	first := goroutinesRunning("factory.(*Connection).walker")
	if len(first) != 1 {
		t.Fatalf("%d walker goroutines after connect, want 1", len(first))
	}
	n := 0
	brokers := map[string]*embedded.Broker{primary.URL(): primary, backup.URL(): backup}
	for i := 0; i < 3; i++ {
		lost := brokers[c.CurrentURL()]
		lost.Kill()
		_, n = rec.wait(t, EventReconnected, n)
		if err := lost.Start(); err != nil {
			t.Fatal(err)
		}
		var now []string
		eventually(t, "one walker goroutine", func() bool {
			now = goroutinesRunning("factory.(*Connection).walker")
			return len(now) == 1
		})
		if now[0] != first[0] {
			t.Fatalf("failover %d walked on goroutine %s, want %s (the one that read the lost session)", i+1, now[0], first[0])
		}
	}
}

// Heart-beats are sent by a timer: a session with heart-beats on runs one
// goroutine (its reader), and the broker still sees beats.
func TestHeartBeatsNeedNoGoroutine(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{HeartBeat: 30 * time.Millisecond})
	keys := append([]string{}, fastReconnect...)
	keys = append(keys, "heartbeat = 30,30")
	f := load(t, conf(b.URL(), keys...))
	c := connect(t, f)
	if info, ok := c.ServerInfo(); !ok || info.SendBeat == 0 {
		t.Fatalf("heart-beats not negotiated: %+v", info)
	}
	if got := goroutinesRunning("internal/session."); len(got) != 1 {
		t.Fatalf("%d goroutines in the session, want 1 (its reader)", len(got))
	}
	// 20 beat intervals with nothing sent: the broker, which wants a beat
	// every 30 ms, keeps the connection.
	before := c.Stats().Disconnects
	<-time.After(600 * time.Millisecond)
	if st := c.Stats(); st.Disconnects != before || st.State != StateConnected {
		t.Fatalf("connection dropped while idle with heart-beats: %+v", st)
	}
}
