package factory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts/attemptstest"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/internal/embedded/embeddedtest"
)

// reloadConf is a [Test] factory on url with the keys a test needs.
func reloadConf(url string) string {
	return "[Test]\n  type = queue\n  url = " + url + "\n  connect_attempt_count = 1\n  send_timeout = 15000\n"
}

// overwrite writes body over path in place (truncate, then write), as a
// program that does not save through a temporary file does.
func overwrite(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// appendTo appends body to path, the second chunk of a torn save.
func appendTo(t *testing.T, path, body string) {
	t.Helper()
	fd, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
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

// settleClock drives a watcher on a fake clock: each step waits for the
// watcher to arm its settle timer, then fires it.
type settleClock struct {
	t *testing.T
	c *attemptstest.Clock
}

func (s settleClock) step() {
	s.t.Helper()
	if !s.c.BlockUntil(1) {
		s.t.Fatal("the watcher never armed its settle timer")
	}
	s.c.Advance(ReloadSettle)
}

// stepUntil fires settle timers until cond holds, at most n of them. The
// watcher arms no timer once it has applied an edit, so between steps it
// polls cond while waiting (bounded) for the next timer.
func (s settleClock) stepUntil(n int, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for fired := 0; !cond(); {
		if fired == n || time.Now().After(deadline) {
			s.t.Fatalf("%s: not after %d settle periods", what, fired)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := s.c.BlockUntilContext(ctx, 1)
		cancel()
		if err == nil {
			s.c.Advance(ReloadSettle)
			fired++
		}
	}
}

func watchedOnFakeClock(t *testing.T, body string) (*Factory, string, settleClock) {
	t.Helper()
	clk := attemptstest.NewClock(time.Unix(1_700_000_000, 0))
	path := filepath.Join(t.TempDir(), "factories.conf")
	overwrite(t, path, body)
	f, err := Load(path, WithClock(clk), WithWatch(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f, path, settleClock{t: t, c: clk}
}

func currentURL(t *testing.T, f *Factory) string {
	t.Helper()
	d, err := f.Definition("Test")
	if err != nil {
		t.Fatal(err)
	}
	return d.URL
}

// A save in two chunks, cut inside the port: one settle period of quiet
// after the first chunk gives one read, and one read is never applied; the
// second chunk restarts the wait, and only the whole file is applied.
func TestReloadNeverAppliesASaveCutInsideThePort(t *testing.T) {
	verifyNoLeaks(t)
	f, path, clk := watchedOnFakeClock(t, reloadConf("tcp://127.0.0.1:1111"))
	whole := reloadConf("tcp://127.0.0.1:35317")
	cut := strings.Index(whole, ":353") + len(":353")

	overwrite(t, path, whole[:cut])
	clk.step() // first read of the torn file: a candidate, not applied
	if !clk.c.BlockUntil(1) {
		t.Fatal("the watcher did not wait for a second read")
	}
	if got := currentURL(t, f); got != "tcp://127.0.0.1:1111" {
		t.Fatalf("after one read of the torn file the definition is %q", got)
	}
	appendTo(t, path, whole[cut:])
	seen := map[string]bool{}
	clk.stepUntil(10, "the whole file applied", func() bool {
		u := currentURL(t, f)
		seen[u] = true
		return u == "tcp://127.0.0.1:35317"
	})
	if seen["tcp://127.0.0.1:353"] {
		t.Fatal("the torn definition tcp://127.0.0.1:353 was applied")
	}
}

// A file that changes between the two reads is read twice more: the
// content applied is one two reads agreed on.
func TestReloadRestartsWhenTheFileChangesBetweenReads(t *testing.T) {
	verifyNoLeaks(t)
	f, path, clk := watchedOnFakeClock(t, reloadConf("tcp://127.0.0.1:1111"))
	overwrite(t, path, reloadConf("tcp://127.0.0.1:2222"))
	clk.step() // first read: 2222
	if !clk.c.BlockUntil(1) {
		t.Fatal("the watcher did not wait for a second read")
	}
	overwrite(t, path, reloadConf("tcp://127.0.0.1:3333"))
	clk.stepUntil(10, "3333 applied", func() bool { return currentURL(t, f) == "tcp://127.0.0.1:3333" })
}

// An empty file, stable for as long as it takes, is rejected: the last good
// configuration stays and new connections still find their factory.
func TestReloadRejectsAnEmptyFile(t *testing.T) {
	verifyNoLeaks(t)
	b := embeddedtest.Start(t, embedded.Options{})
	path := filepath.Join(t.TempDir(), "factories.conf")
	overwrite(t, path, reloadConf(b.URL()))
	f, err := Load(path, WithWatch(false))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, body := range []string{"", "\n\n", "# all commented out\n# [Test]\n"} {
		overwrite(t, path, body)
		err := f.Reload()
		if !errors.Is(err, ErrConfigEmpty) {
			t.Fatalf("Reload of %q: %v, want ErrConfigEmpty", body, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("rejection %q does not name the file", err)
		}
		if got := currentURL(t, f); got != b.URL() {
			t.Fatalf("definition after the rejected edit: %q", got)
		}
	}
	c, err := f.CreateConnection("Test")
	if err != nil {
		t.Fatalf("CreateConnection after an empty file: %v", err)
	}
	_ = c.Close()
}

// An edit that removes, or renames, a factory with an open connection is
// rejected and reported to that connection; once the connection is closed
// the same edit applies.
func TestReloadRejectsRemovingAFactoryInUse(t *testing.T) {
	verifyNoLeaks(t)
	b := embeddedtest.Start(t, embedded.Options{})
	path := filepath.Join(t.TempDir(), "factories.conf")
	other := strings.Replace(reloadConf(b.URL()), "[Test]", "[Other]", 1)
	overwrite(t, path, reloadConf(b.URL())+other)
	f, err := Load(path, WithWatch(false))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mu sync.Mutex
	var reloads []error
	c, err := f.CreateConnection("Test", WithEventHandler(func(e Event) {
		if e.Kind == EventConfigReloaded {
			mu.Lock()
			reloads = append(reloads, e.Err)
			mu.Unlock()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}

	overwrite(t, path, other) // [Test] removed
	err = f.Reload()
	if !errors.Is(err, ErrFactoryInUse) || !strings.Contains(err.Error(), "[Test] (1 open)") {
		t.Fatalf("Reload dropping [Test] in use: %v, want ErrFactoryInUse naming [Test]", err)
	}
	if _, err := f.Definition("Test"); err != nil {
		t.Fatalf("the rejected edit removed [Test]: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := append([]error(nil), reloads...)
	mu.Unlock()
	if len(got) != 1 || !errors.Is(got[0], ErrFactoryInUse) {
		t.Fatalf("EventConfigReloaded errors %v, want one ErrFactoryInUse", got)
	}
	if err := f.Reload(); err != nil {
		t.Fatalf("the same edit with no connection open: %v", err)
	}
	if _, err := f.Definition("Test"); !errors.Is(err, ErrUnknownFactory) {
		t.Fatalf("after the accepted edit, Definition(Test): %v", err)
	}
}

// A truncated file that still parses but has lost a factory in use is
// rejected through the watcher, however long it stays.
func TestReloadRejectsATruncationThatDropsAFactoryInUse(t *testing.T) {
	verifyNoLeaks(t)
	b := embeddedtest.Start(t, embedded.Options{})
	clk := attemptstest.NewClock(time.Unix(1_700_000_000, 0))
	path := filepath.Join(t.TempDir(), "factories.conf")
	first := strings.Replace(reloadConf(b.URL()), "[Test]", "[First]", 1)
	whole := first + reloadConf(b.URL())
	overwrite(t, path, whole)
	f, err := Load(path, WithClock(clk), WithWatch(true))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reloaded := make(chan error, 16)
	c, err := f.CreateConnection("Test", WithEventHandler(func(e Event) {
		if e.Kind == EventConfigReloaded {
			reloaded <- e.Err
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := settleClock{t: t, c: clk}
	if err := os.Truncate(path, int64(len(first))); err != nil {
		t.Fatal(err)
	}
	var got error
	s.stepUntil(10, "the truncation reported", func() bool {
		select {
		case got = <-reloaded:
			return true
		default:
			return false
		}
	})
	if !errors.Is(got, ErrFactoryInUse) {
		t.Fatalf("truncated file: EventConfigReloaded.Err = %v, want ErrFactoryInUse", got)
	}
	if _, err := f.Definition("Test"); err != nil {
		t.Fatalf("the truncation removed [Test]: %v", err)
	}
}

// A factory a reload removed is unknown to CreateConnection at once, and a
// reload never sees a connection being created for a factory it removes
// without rejecting the edit: the check and the registration share a lock.
func TestCreateConnectionAndReloadAgreeOnTheFactoriesInUse(t *testing.T) {
	verifyNoLeaks(t)
	b := embeddedtest.Start(t, embedded.Options{})
	path := filepath.Join(t.TempDir(), "factories.conf")
	with := reloadConf(b.URL()) + strings.Replace(reloadConf(b.URL()), "[Test]", "[Keep]", 1)
	without := strings.Replace(reloadConf(b.URL()), "[Test]", "[Keep]", 1)
	overwrite(t, path, with)
	f, err := Load(path, WithWatch(false))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; i < 20; i++ {
		overwrite(t, path, with)
		if err := f.Reload(); err != nil {
			t.Fatal(err)
		}
		overwrite(t, path, without)
		var wg sync.WaitGroup
		var c *Connection
		var cerr, rerr error
		wg.Add(2)
		go func() { defer wg.Done(); c, cerr = f.CreateConnection("Test") }()
		go func() { defer wg.Done(); rerr = f.Reload() }()
		wg.Wait()
		switch {
		case cerr == nil && rerr == nil:
			_ = c.Close()
			t.Fatalf("round %d: a connection to [Test] was made and the edit removing [Test] was applied", i)
		case cerr == nil:
			if !errors.Is(rerr, ErrFactoryInUse) {
				t.Fatalf("round %d: reload: %v", i, rerr)
			}
			_ = c.Close()
		case !errors.Is(cerr, ErrUnknownFactory):
			t.Fatalf("round %d: CreateConnection: %v", i, cerr)
		}
	}
}
