package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
)

// writeChunk writes body at the start of path (truncating it) or, with
// appendTo, at its end: one write(2) of an editor's save.
func writeChunk(t testing.TB, path, body string, appendTo bool) {
	t.Helper()
	flag := os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flag = os.O_WRONLY | os.O_APPEND
	}
	fd, err := os.OpenFile(path, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fd.WriteString(body); err != nil {
		t.Fatal(err)
	}
	if err := fd.Close(); err != nil {
		t.Fatal(err)
	}
}

// saveInChunks truncates path and writes body in two to four write(2)s cut
// at random places.
func saveInChunks(t testing.TB, path, body string, rng *rand.Rand) {
	t.Helper()
	fd, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	chunks := 2 + rng.Intn(3)
	for at, i := 0, 0; at < len(body); i++ {
		n := len(body) - at
		if i < chunks-1 {
			n = min(n, 1+rng.Intn(len(body)/chunks+1))
		}
		if _, err := fd.WriteString(body[at : at+n]); err != nil {
			t.Fatal(err)
		}
		at += n
	}
	if err := fd.Close(); err != nil {
		t.Fatal(err)
	}
}

// pause waits d in a select, as the editor whose save is torn would between
// two writes.
func pause(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	<-timer.C
}

// A save in two chunks 100 ms apart, cut inside the port number, while a
// reconnect is under way (the broker stays up; only the connection is cut):
// the torn URL is never applied, never dialled, and the reconnect reaches
// the broker; the whole edit applies once the file is stable.
func TestTornSaveCutInThePortIsNeverApplied(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	p := proxy(t, b.Addr())
	url := proxyURL(p)
	keys := []string{
		"connect_attempt_count = 1",
		"reconnect_attempt_count = 10", "reconnect_attempt_delay = 100", "reconnect_attempt_timeout = 2000",
		"reconnect_backoff_multiplier = 1", "reconnect_jitter = none", "reconnect_spread = 0",
	}
	attempts := newAttemptLog()
	rec := newRecorder()
	f, path := load(t, section("Test", url, append(keys, "send_timeout = 15000")...),
		factory.WithWatch(true), factory.WithObserver(attempts))
	c := connect(t, f, "Test", waitLimit, rec.option())

	whole := section("Test", url, append(keys, "send_timeout = 15001")...)
	cut := strings.Index(whole, url) + len(url) - 2 // inside the port
	torn := url[:len(url)-2]

	writeChunk(t, path, whole[:cut], false)
	tornAt := time.Now()
	p.CutAll() // the reconnect starts now; its first attempt is 100 ms away
	pause(100 * time.Millisecond)
	gap := time.Since(tornAt)
	writeChunk(t, path, whole[cut:], true)
	if gap >= 2*factory.ReloadSettle {
		// By the rule, a file unchanged that long is a stable file.
		t.Skipf("the machine held the 100 ms pause for %v, over 2 × ReloadSettle", gap)
	}

	ev, _ := rec.wait(t, factory.EventReconnected, 0, waitLimit)
	if ev.URL != url {
		t.Fatalf("reconnected to %q, want %q", ev.URL, url)
	}
	ev, _ = rec.wait(t, factory.EventConfigReloaded, 0, waitLimit)
	if ev.Err != nil {
		t.Fatalf("the whole edit was rejected: %v", ev.Err)
	}
	d, err := f.Definition("Test")
	if err != nil || d.URL != url || d.SendTimeout != 15001*time.Millisecond {
		t.Fatalf("definition after the save: %+v, %v; want %s and send_timeout 15001", d, err, url)
	}
	if got := len(rec.of(factory.EventConfigReloaded)); got != 1 {
		t.Fatalf("%d reloads for one save, want 1 (the torn state applied?): %v", got, rec.kinds())
	}
	if n := attempts.count(torn); n != 0 {
		t.Fatalf("the torn URL %s was dialled %d times", torn, n)
	}
	if failed := rec.of(factory.EventFailed); len(failed) != 0 {
		t.Fatalf("the connection failed: %v", failed[0].Err)
	}
	if err := c.Send("/queue/torn", "text/plain", []byte("x"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
}

// An edit that empties the file, one that truncates it to a prefix that
// lost a factory in use, one that removes that factory and one that empties
// its section are each rejected, reported in EventConfigReloaded.Err, and change nothing: new
// connections still find every factory.
func TestBadEditsAreRejectedAndReported(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	keys := []string{"connect_attempt_count = 1", "send_timeout = 15000"}
	first := section("First", b.URL(), keys...)
	whole := first + section("Test", b.URL(), keys...)
	rec := newRecorder()
	logger, logs := debugLogger()
	f, path := load(t, whole, factory.WithWatch(true), factory.WithLogger(logger))
	connect(t, f, "Test", waitLimit, rec.option())

	for _, tc := range []struct {
		name string
		edit func()
		want error
	}{
		{"empty", func() { writeChunk(t, path, "", false) }, factory.ErrConfigEmpty},
		{"truncated", func() {
			if err := os.Truncate(path, int64(len(first))); err != nil {
				t.Fatal(err)
			}
		}, factory.ErrFactoryInUse},
		{"removed", func() { replaceConf(t, path, first) }, factory.ErrFactoryInUse},
		{"emptied section", func() { replaceConf(t, path, first+"[Test]\n") }, nil},
	} {
		replaceConf(t, path, whole)
		_, after := rec.wait(t, factory.EventConfigReloaded, rec.len(), waitLimit)
		tc.edit()
		ev, _ := rec.wait(t, factory.EventConfigReloaded, after, waitLimit)
		var list confparse.ErrorList
		switch {
		case tc.want == nil && !errors.As(ev.Err, &list):
			t.Fatalf("%s: EventConfigReloaded.Err = %v, want a confparse.ErrorList", tc.name, ev.Err)
		case tc.want != nil && !errors.Is(ev.Err, tc.want):
			t.Fatalf("%s: EventConfigReloaded.Err = %v, want %v", tc.name, ev.Err, tc.want)
		}
		if !strings.Contains(ev.Err.Error(), path) {
			t.Fatalf("%s: the rejection %q does not name the file", tc.name, ev.Err)
		}
		if tc.want == nil {
			// Each parse error is logged with its file:line.
			for _, e := range list {
				pos := fmt.Sprintf("%s:%d:%d: ", path, e.Line, e.Col)
				if !strings.HasPrefix(e.Error(), pos) || !strings.Contains(logs.String(), pos+"factory [Test]") {
					t.Fatalf("%s: parse error %q not logged with its file:line; log:\n%s", tc.name, e, logs)
				}
			}
		} else if !strings.Contains(logs.String(), "reload rejected") {
			t.Fatalf("%s: the rejection was not logged; log:\n%s", tc.name, logs)
		}
		for _, name := range []string{"First", "Test"} {
			c, err := f.CreateConnection(name)
			if err != nil {
				t.Fatalf("%s: CreateConnection(%s) after the rejected edit: %v", tc.name, name, err)
			}
			_ = c.Close()
		}
	}
}

// reloadStressVersions are the whole files the stress test writes: three
// factories, the last one's URL quoted so that a file cut anywhere inside
// it does not parse, and a send_timeout telling the versions apart. Every
// proper prefix of a version therefore either does not parse, lacks a
// factory (all three are in use, so it is rejected), or is the whole file
// but its final newline; the test checks this before relying on it.
func reloadStressVersions(urls string) []string {
	var out []string
	for v := 1; v <= 2; v++ {
		var b strings.Builder
		for _, name := range []string{"Alpha", "Beta", "Zend"} {
			u := urls
			if name == "Zend" {
				u = `"` + urls + `"`
			}
			fmt.Fprintf(&b, "[%s]\ntype = queue\nsend_timeout = %d\nurl = %s\n\n", name, 15000+v, u)
		}
		out = append(out, strings.TrimSuffix(b.String(), "\n"))
	}
	return out
}

var stressFactories = []string{"Alpha", "Beta", "Zend"}

// wholeConfig reports whether cfg is one of the versions: every factory,
// one send_timeout for all.
func wholeConfig(cfg *confparse.Config, urls string) bool {
	if cfg == nil || len(cfg.Factories) != len(stressFactories) {
		return false
	}
	st := cfg.Factories[0].SendTimeout
	for i, name := range stressFactories {
		d := cfg.Factories[i]
		if d.Name != name || d.URL != urls || d.SendTimeout != st {
			return false
		}
	}
	return st == 15001*time.Millisecond || st == 15002*time.Millisecond
}

// The file is written in chunks, truncated, emptied and rewritten thousands
// of times while a connection per factory sends with receipts and two
// goroutines create and close connections without pause. No connection
// fails, no send fails, every CreateConnection finds its factory and a
// whole configuration; the good edits the test holds stable are applied,
// the bad ones it holds stable are rejected.
func TestReloadStressNeverTears(t *testing.T) {
	verifyNoLeaks(t)
	b1 := broker(t, embedded.Options{Engine: embedded.EngineMini})
	b2 := broker(t, embedded.Options{Engine: embedded.EngineMini})
	urls := b1.URL() + "," + b2.URL()
	versions := reloadStressVersions(urls)
	for _, v := range versions {
		whole, err := confparse.Parse("v.conf", []byte(v))
		if err != nil || !wholeConfig(whole, urls) {
			t.Fatalf("test premise: a version does not parse whole: %v", err)
		}
		for i := 0; i < len(v); i++ {
			cfg, err := confparse.Parse("v.conf", []byte(v[:i]))
			if err == nil && len(cfg.Factories) == len(stressFactories) && !wholeConfig(cfg, urls) {
				t.Fatalf("test premise: the prefix %q defines every factory, differently", v[:i])
			}
		}
	}

	f, path := load(t, versions[0], factory.WithWatch(true))
	var (
		mu       sync.Mutex
		problems []string
		reloads  = map[bool]int{} // accepted?
		applied  = make(chan struct{}, 1)
		rejected = make(chan struct{}, 1)
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	notify := func(ch chan struct{}) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	handler := func(name string) factory.Option {
		return factory.WithEventHandler(func(e factory.Event) {
			switch e.Kind {
			case factory.EventDisconnected, factory.EventFailed:
				problem("%s: %s: %v", name, e.Kind, e.Err)
			case factory.EventConfigReloaded:
				if name != "Zend" {
					return // one connection counts the reloads
				}
				mu.Lock()
				reloads[e.Err == nil]++
				mu.Unlock()
				if e.Err == nil {
					if cfg := f.Config(); !wholeConfig(cfg, urls) {
						problem("a reload applied a torn configuration")
					}
					notify(applied)
				} else {
					notify(rejected)
				}
			}
		})
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sends, creates atomic.Int64
	for _, name := range stressFactories {
		c := connect(t, f, name, waitLimit, handler(name))
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(2 * time.Millisecond) // paced: the file storm needs the CPU
			defer tick.Stop()
			for ; ctx.Err() == nil; <-tick.C {
				if err := c.Send("/queue/stress."+name, "text/plain", []byte("m"), stomp.SendOpt.Receipt); err != nil {
					problem("%s: send: %v", name, err)
					return
				}
				sends.Add(1)
			}
		}()
	}
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for i := g; ctx.Err() == nil; i++ {
				<-tick.C
				name := stressFactories[i%len(stressFactories)]
				cctx, cancel := context.WithTimeout(ctx, waitLimit)
				c, err := f.CreateConnectionContext(cctx, name)
				cancel()
				if err != nil {
					if ctx.Err() == nil {
						problem("CreateConnection(%s): %v", name, err)
					}
					return
				}
				if cfg := f.Config(); !wholeConfig(cfg, urls) {
					problem("CreateConnection(%s) saw a configuration that is not whole", name)
				}
				_ = c.Close()
				creates.Add(1)
			}
		}()
	}

	// wait blocks until ch is signalled after it was drained.
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		timer := time.NewTimer(waitLimit)
		defer timer.Stop()
		select {
		case <-ch:
		case <-timer.C:
			stop()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("no %s within %v; problems: %s", what, waitLimit, strings.Join(problems, "\n"))
		}
	}
	drain := func(ch chan struct{}) {
		select {
		case <-ch:
		default:
		}
	}

	rng := rand.New(rand.NewSource(1))
	const rounds, rewrites = 4, 500
	var stormTime, holdTime time.Duration
	for r := 0; r < rounds; r++ {
		t0 := time.Now()
		for i := 0; i < rewrites; i++ {
			v := versions[rng.Intn(len(versions))]
			switch rng.Intn(4) {
			case 0: // a save in two to four write(2)s on one descriptor
				saveInChunks(t, path, v, rng)
			case 1: // truncated somewhere
				if err := os.Truncate(path, int64(rng.Intn(len(v)))); err != nil {
					t.Fatal(err)
				}
			case 2: // emptied
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
			case 3: // replaced through a temporary file
				replaceConf(t, path, v)
			}
		}
		stormTime += time.Since(t0)
		t0 = time.Now()
		// Hold a good version until it is applied, then a bad state until
		// it is rejected: reloads go on working under the storm.
		drain(applied)
		replaceConf(t, path, versions[r%2])
		wait(applied, "accepted reload of a whole file")
		drain(rejected)
		switch r % 3 {
		case 0:
			writeChunk(t, path, "", false)
		case 1:
			if err := os.Truncate(path, int64(len(versions[r%2])/2)); err != nil {
				t.Fatal(err)
			}
		case 2:
			writeChunk(t, path, versions[r%2][:strings.LastIndex(versions[r%2], ":")+3], false)
		}
		wait(rejected, "rejected reload of a bad file")
		holdTime += time.Since(t0)
	}
	replaceConf(t, path, versions[0])
	wait(applied, "final reload")
	stop()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("%d problems, first: %s", len(problems), strings.Join(problems, "\n"))
	}
	if got := f.Config(); !wholeConfig(got, urls) {
		t.Fatal("final configuration is not whole")
	}
	t.Logf("rewrites took %v, held states %v", stormTime.Round(time.Millisecond), holdTime.Round(time.Millisecond))
	t.Logf("%d rewrites; reloads accepted %d, rejected %d; %d sends, %d connections created",
		rounds*rewrites, reloads[true], reloads[false], sends.Load(), creates.Load())
}
