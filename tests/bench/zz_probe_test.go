package main

import (
	"bytes"
	"sync"
	"strings"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stompft/stompft/factory"
)

type syncBuf struct{ mu sync.Mutex; b bytes.Buffer }
func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }

func TestProbeStandby(t *testing.T) {
	p, err := newEmbeddedPair()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	a := p.addrs()
	f, err := newFactory("tcp://"+a[0]+",tcp://"+a[1], "connect_attempt_count = 1", "reconnect_attempt_count = -1", "reconnect_attempt_delay = 0", "reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0", "backup = true")
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuf{}
	l := logrus.New(); l.SetOutput(buf); l.SetLevel(logrus.DebugLevel)
	c, err := f.CreateConnection("Bench", factory.WithLogger(l))
	if err != nil {
		t.Fatal(err)
	}
	oc := &ourClient{a: a, conn: c, events: &eventLog{}}
	defer c.Close()
	for i := 0; i < 200; i++ {
		time.Sleep(20 * time.Millisecond)
		buf.mu.Lock(); buf.b.Reset(); buf.mu.Unlock()
		if _, err := trial(p, oc, 5*time.Second, true); err != nil {
			buf.mu.Lock()
			var gb bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&gb, 2)
			for _, g := range strings.Split(gb.String(), "\n\n") {
				if strings.Contains(g, "stompft/factory") {
					t.Log(g)
				}
			}
			t.Fatalf("trial %d: %v\n%s", i, err, buf.b.String())
		}
	}
}
