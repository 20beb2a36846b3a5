package integration

import (
	"testing"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
)

// Scenario 8: a hot reload while connected. The file starts with a live
// broker A and a dead URL D; the edit removes D and adds a new broker B.
// When A dies, the reconnect walks the new list: it reaches B and never
// dials D (which the old list would have tried first, as the URL after A).
func TestHotReloadFollowsNewList(t *testing.T) {
	verifyNoLeaks(t)
	st := embedded.NewSharedStorage()
	a := broker(t, embedded.Options{Engine: embedded.EngineMini, Storage: st})
	bb := broker(t, embedded.Options{Engine: embedded.EngineMini, Storage: st})
	// D accepts and drops every connection, so every dial of it counts.
	d := proxy(t, a.Addr())
	d.AcceptThenDrop()
	keys := []string{
		"connect_attempt_count = 1",
		"reconnect_attempt_count = 20", "reconnect_attempt_delay = 50", "reconnect_attempt_timeout = 2000",
		"reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0",
		"send_timeout = 15000",
	}
	rec := newRecorder()
	f, path := load(t, section("Test", a.URL()+","+proxyURL(d), keys...), factory.WithWatch(true))
	c := connect(t, f, "Test", waitLimit, rec.option())
	if got := c.CurrentURL(); got != a.URL() {
		t.Fatalf("connected to %q, want %q", got, a.URL())
	}
	q := uniqueQueue(t)
	sub, err := c.Subscribe(q, stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}

	replaceConf(t, path, section("Test", a.URL()+","+bb.URL(), keys...))
	ev, next := rec.wait(t, factory.EventConfigReloaded, 0, waitLimit)
	if ev.Err != nil {
		t.Fatalf("reload rejected: %v", ev.Err)
	}
	if def, err := f.Definition("Test"); err != nil || def.URL != a.URL()+","+bb.URL() {
		t.Fatalf("definition after reload: %v, %v", def, err)
	}

	a.Kill()
	ev, _ = rec.wait(t, factory.EventReconnected, next, waitLimit)
	if ev.URL != bb.URL() {
		t.Fatalf("reconnected to %q, want the added %q", ev.URL, bb.URL())
	}
	if n := d.Accepted(); n != 0 {
		t.Fatalf("the removed URL was dialled %d times after the reload", n)
	}
	// The subscription followed to B.
	if err := c.Send(q, "text/plain", []byte("via B"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	m := receive(t, sub, waitLimit)
	if string(m.Body) != "via B" {
		t.Fatalf("got %q", m.Body)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
	t.Logf("after the reload and the loss of A: reconnected to %s; removed URL dialled %d times; events %v",
		ev.URL, d.Accepted(), rec.kinds())
}
